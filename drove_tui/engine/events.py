"""What the engine tells its subscribers (the TUI, the headless run): changes, not polls."""

from __future__ import annotations

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
