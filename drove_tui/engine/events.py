"""What the engine tells its subscribers (the TUI, the headless run): changes, not polls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal

from drove_tui.models.host import HostStatus
from drove_tui.models.task import TaskRecord, Transition


@dataclass(frozen=True)
class TaskChanged:
    """A task moved to another state (`transition`); `record` is the task after the move."""

    record: TaskRecord
    transition: Transition


@dataclass(frozen=True)
class TaskProgress:
    """Something worth showing that is not a state change: pull progress, why it waits."""

    app: str
    task_id: str
    message: str


@dataclass(frozen=True)
class HostChanged:
    """A host's health or facts changed."""

    status: HostStatus


@dataclass(frozen=True)
class LogLine:
    """One line of a task's output."""

    app: str
    task_id: str
    stream: Literal["stdout", "stderr"]
    text: str
    at: float


Event = TaskChanged | TaskProgress | HostChanged | LogLine


class Subscribers:
    """Everyone listening to the engine; each gets every event from subscribing on."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[Event]] = []

    def subscribe(self) -> Subscription:
        """A new subscription, registered now (so nothing after this call is missed)."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.append(queue)
        return Subscription(self, queue)

    def publish(self, event: Event) -> None:
        """Hand `event` to every subscriber."""
        for queue in self._queues:
            queue.put_nowait(event)

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """Stop delivering to `queue`."""
        with contextlib.suppress(ValueError):
            self._queues.remove(queue)


class Subscription:
    """An async iterator of engine events; registered at creation, so nothing is missed."""

    def __init__(self, subscribers: Subscribers, queue: asyncio.Queue[Event]) -> None:
        self._subscribers = subscribers
        self._queue = queue

    def __aiter__(self) -> Subscription:
        return self

    def __anext__(self) -> Awaitable[Event]:
        return self._queue.get()

    def close(self) -> None:
        """Stop receiving events."""
        self._subscribers.unsubscribe(self._queue)
