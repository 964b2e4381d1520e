"""The store interface the engine and the commands use; SQLite today, PostgreSQL later.

Rules every implementation keeps:

- every state change is one transaction, applied only if the task is still in the state the
  caller read (compare-and-set), so two processes can never both advance a task;
- a transition row is written exactly when the state change is applied;
- a spec is written with its secrets masked;
- calls are short and synchronous (the engine calls them from asyncio directly).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from drove_tui.errors import DroveError, ExitCode, InvalidInput
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord, Transition


class TaskExists(InvalidInput):
    """CREATE of an (app, task) pair the store already holds, even a finished one (Drove)."""


class IllegalTransition(DroveError):  # noqa: N818 (the name the engine codes against)
    """A move the state machine does not allow; the engine turns the task LOST instead."""

    exit_code = ExitCode.FAILED


class TaskNotTerminal(InvalidInput):
    """Delete of a task that may still run."""


class Store(Protocol):
    """Durable record of tasks, their transitions and leases (host statuses live in memory)."""

    @property
    def store_id(self) -> str:
        """Random id of this store, put on containers as label ``drove.owner``."""
        ...

    @property
    def path(self) -> str:
        """Where the store lives (a file path or a URL), for messages."""
        ...

    def create_task(self, record: TaskRecord) -> None:
        """Insert a new task and its creation transition; raises TaskExists."""
        ...

    def defer_sync(self) -> None:
        """Let commits return before they are on disk; `flush` puts them there."""
        ...

    @property
    def committed(self) -> int:
        """How many commits were made with their sync deferred."""
        ...

    @property
    def synced(self) -> int:
        """How many of those are known to be on disk."""
        ...

    def flush(self) -> None:
        """Put every commit made so far on disk (thread-safe)."""
        ...

    def get_task(self, app: str, task: str) -> TaskRecord | None:
        """The task, or None when the store has no such (app, task)."""
        ...

    def list_tasks(
        self,
        *,
        state: TaskState | None = None,
        app: str | None = None,
        updated_after: float | None = None,
        kill_requested: bool = False,
    ) -> list[TaskRecord]:
        """Tasks in creation order, optionally filtered (kill_requested: only tasks someone
        asked to kill)."""
        ...

    def transition(
        self,
        app: str,
        task: str,
        expected: TaskState,
        new: TaskState,
        reason: str,
        *,
        expected_owner: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move ``expected -> new`` and set ``fields`` (TaskRecord attribute names) in one
        transaction, only if the task is still ``expected`` (and, when ``expected_owner`` is
        given, still leased by it); False when it was not (someone else moved it) or is gone.
        Raises IllegalTransition when the state machine forbids the move. Entering RUNNING
        sets started_at, entering a terminal state sets finished_at, entering STOPPED or LOST
        releases the lease, unless ``fields`` say otherwise."""
        ...

    def update_fields(
        self,
        app: str,
        task: str,
        expected: TaskState,
        *,
        expected_owner: str | None = None,
        **fields: Any,
    ) -> bool:
        """Set ``fields`` without a state change, only if the task is still ``expected``."""
        ...

    def history(self, app: str, task: str) -> list[Transition]:
        """Every applied transition of the task, oldest first."""
        ...

    def delete_task(self, app: str, task: str) -> None:
        """Forget a terminal task so its id can be used again; raises TaskNotTerminal or
        TaskNotFound."""
        ...

    def prune(self, older_than_s: float, *, now: float | None = None) -> int:
        """Delete terminal tasks finished more than ``older_than_s`` ago; returns how many."""
        ...

    def acquire(
        self, app: str, task: str, owner: str, ttl_s: float, *, now: float | None = None
    ) -> bool:
        """Take the task's lease if it is free, lapsed or already ``owner``'s."""
        ...

    def renew(
        self,
        owner: str,
        keys: Iterable[tuple[str, str]],
        ttl_s: float,
        *,
        now: float | None = None,
    ) -> int:
        """Extend ``owner``'s lease on each of ``keys`` (live tasks it still holds); returns
        how many. Only the tasks a live runner drives are renewed: a task whose runner died
        lapses, so another process (or this one) can take it over."""
        ...

    def release(self, app: str, task: str, owner: str) -> bool:
        """Give the lease back (only ``owner`` can)."""
        ...

    def request_kill(self, app: str, task: str, *, now: float | None = None) -> bool:
        """Record a kill request on a live task (the first time is kept); False when the task
        is terminal or gone. The task's owner, in whatever process, honours it."""
        ...

    def kill_requests(self, owner: str) -> list[tuple[str, str]]:
        """Keys of the live tasks ``owner`` holds a lease on that someone asked to kill."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...
