"""How a task learns its container's start and exit: from its attached channel, the host's
event stream, its probe, or (when a probe no longer lists the container) by asking docker
about that container."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor
from drove_tui.engine.signals import Signal
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

S = TaskState


class Exits:
    """Exit codes of the containers this process watches, by container name."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._codes: dict[str, int] = {}
        self._expected: dict[str, tuple[str, str]] = {}
        self._missing: set[str] = set()
        self._started: set[str] = set()

    def expect(self, record: TaskRecord) -> None:
        """Route exit events of this task's container to it (before it can exit)."""
        self._expected[executor.container_name(record.instance_id)] = record.key

    def remember(self, name: str, code: int) -> None:
        """An exit code learned some other way (adoption after a restart)."""
        self._codes[name] = code

    def on_exit(self, name: str, code: int) -> None:
        """A watched container exited (from the host's event stream or its probe)."""
        key = self._expected.get(name)
        if key is None:
            return
        self._codes[name] = code
        self._engine.signal(key).fire()

    def on_start(self, name: str) -> None:
        """A watched container started (the host's event stream, or a probe saw it run)."""
        key = self._expected.get(name)
        if key is None or name in self._started:
            return
        self._started.add(name)
        self._engine.signal(key).fire()

    def started(self, name: str) -> bool:
        """True once a start of the watched container `name` was told."""
        return name in self._started

    def known(self, name: str) -> bool:
        """True when the exit code of container `name` has arrived and not been taken yet."""
        return name in self._codes

    def missing(self, name: str) -> None:
        """A probe did not list the running container `name`: its task looks at it."""
        self._missing.add(name)

    async def exit_of(self, record: TaskRecord) -> int | None:
        """The container's exit code, or None when the task moved on or was killed."""
        engine = self._engine
        name = executor.container_name(record.instance_id)
        self.expect(record)
        key = record.key
        killed_seen = engine.killed_here(key)
        while True:
            token = engine.signal(key).token()
            if name in self._codes:
                self._expected.pop(name, None)
                self._started.discard(name)
                return self._codes.pop(name)
            current = engine.store.get_task(*key)
            if current is None or current.state is not S.RUNNING:
                return None
            if engine.killed_here(key) and not killed_seen:
                return None  # drive() re-reads; the kill itself was sent by kill()
            if name in self._missing:
                self._missing.discard(name)
                await self._confirm_missing(current, name)
                continue
            await Signal.wait(token, 30.0)

    async def _confirm_missing(self, record: TaskRecord, name: str) -> None:
        engine = self._engine
        host = engine.host_config(record)
        try:
            done = await engine.cluster.transport(host).run(
                executor.inspect_state(host, name), timeout=30
            )
        except TransportError:
            return  # the host watcher will tell
        status, _, code = done.text().strip().partition(" ")
        if done.ok and code.lstrip("-").isdigit() and status in ("exited", "dead"):
            self.on_exit(name, int(code))
        elif not done.ok and "No such" in done.stderr.decode("utf-8", "replace"):
            engine.lose(
                record,
                f"container {name} vanished from {host.name}",
                error=f"container {name} not found on {host.name}",
            )
