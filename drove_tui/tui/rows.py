"""What a table row shows for a task or a host: pure formatting, no Textual.

Colours are ANSI names so the app reads the same in a plain 16-colour terminal. Times are
shown in UTC so that a screenshot is the same on every machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drove_tui.models.host import HostState, HostStatus, ManagedContainer
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

Cell = tuple[str, str]

ACTIVE = frozenset(
    {
        TaskState.PROVISIONING,
        TaskState.STARTING,
        TaskState.RUNNING,
        TaskState.RUN_COMPLETED,
        TaskState.DEPROVISIONING,
    }
)

# Colour by meaning: pending, active, done, failed, lost, unknown.
MEANING_STYLE = {
    "pending": "yellow",
    "active": "cyan",
    "done": "green",
    "failed": "red",
    "lost": "magenta",
    "unknown": "bold bright_black",
}

HOST_STYLE = {
    HostState.ONLINE: "green",
    HostState.UNREACHABLE: "red",
    HostState.DOCKER_DOWN: "yellow",
    HostState.UNKNOWN: "bright_black",
}


def meaning(record: TaskRecord) -> str:
    """The state's meaning for colour: a STOPPED task is done or failed by its result."""
    state = record.state
    if state is TaskState.PENDING:
        return "pending"
    if state in ACTIVE:
        return "active"
    if state is TaskState.LOST:
        return "lost"
    if state is TaskState.UNKNOWN:
        return "unknown"
    if state is TaskState.PROVISIONING_FAILED:
        return "failed"
    if record.result is not None and record.result.status is not TaskStatus.SUCCESSFUL:
        return "failed"
    return "done"


def clock_time(at: float | None) -> str:
    """HH:MM:SS in UTC, or '-'."""
    return time.strftime("%H:%M:%S", time.gmtime(at)) if at else "-"


def date_time(at: float | None) -> str:
    """YYYY-MM-DD HH:MM:SS UTC, or '-'."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at)) if at else "-"


def duration(seconds: float | None) -> str:
    """A short duration: 42s, 3m05s, 2h10m, 3d04h."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def memory(mb: int) -> str:
    """Megabytes, as G when large."""
    return f"{mb / 1024:.1f}G" if mb >= 10240 else f"{mb}M"


def task_key(app: str, task_id: str) -> str:
    """The table key of a task (a task id may not contain '/', so this is unambiguous)."""
    return f"{app}/{task_id}"


@dataclass
class TaskRow:
    """One task as the tasks table sees it."""

    record: TaskRecord
    fields: Mapping[str, str] = field(init=False)
    haystack: str = field(init=False)
    _sort_keys: dict[str, tuple[Any, ...]] = field(init=False, default_factory=dict)
    _cells: tuple[int, Sequence[Cell]] = field(init=False, default=(-1, ()))

    def sort_key(self, column: str) -> tuple[Any, ...]:
        """The row's key for sorting by `column`, computed once per row version."""
        found = self._sort_keys.get(column)
        if found is None:
            found = self._sort_keys[column] = TASK_SORT[column](self.record)
        return found

    def __post_init__(self) -> None:
        r = self.record
        self.fields = {
            "state": r.state.value.lower(),
            "app": r.app.lower(),
            "task": r.task_id.lower(),
            "host": (r.host or "").lower(),
        }
        self.haystack = " ".join(self.fields.values())

    def cells(self, now: float) -> Sequence[Cell]:
        """The row's cells; durations are to the second, so a second's worth is reused."""
        second = int(now)
        if self._cells[0] != second:
            self._cells = (second, self._format(now))
        return self._cells[1]

    def _format(self, now: float) -> Sequence[Cell]:
        r = self.record
        end = r.finished_at or now
        exit_code = "" if r.result is None else str(r.result.exit_code)
        return (
            (r.app, ""),
            (r.task_id, "bold"),
            (r.state.value, MEANING_STYLE[meaning(r)]),
            (r.host or "-", ""),
            (str(r.spec.cpu_count), ""),
            (memory(r.spec.memory_mb), ""),
            (clock_time(r.started_at), ""),
            (duration(end - r.started_at) if r.started_at else "-", ""),
            (exit_code, "red" if exit_code not in ("", "0") else ""),
        )


SortKey = Callable[[TaskRecord], tuple[Any, ...]]

TASK_SORT: dict[str, SortKey] = {
    "app": lambda r: (r.app, r.task_id),
    "task": lambda r: (r.task_id, r.app),
    "state": lambda r: (r.state.value, r.app, r.task_id),
    "host": lambda r: (r.host or "", r.app, r.task_id),
    "cores": lambda r: (r.spec.cpu_count, r.app, r.task_id),
    "memory": lambda r: (r.spec.memory_mb, r.app, r.task_id),
    "started": lambda r: (r.started_at or 0.0, r.app, r.task_id),
    "created": lambda r: (r.created_at, r.app, r.task_id),
}


def bar(used: int, total: int, width: int = 4) -> str:
    """A small text bar such as '▮▮▯▯'."""
    if total <= 0:
        return "▯" * width
    filled = min(width, round(width * used / total))
    return "▮" * filled + "▯" * (width - filled)


@dataclass
class HostRow:
    """One host as the hosts table sees it; `tags` come from the inventory."""

    status: HostStatus
    tags: Mapping[str, str]
    live_tasks: int = 0
    foreign_containers: tuple[ManagedContainer, ...] = ()  # another store placed them here
    fields: Mapping[str, str] = field(init=False)
    haystack: str = field(init=False)

    def __post_init__(self) -> None:
        tag_text = " ".join(self.tag_list())
        self.fields = {
            "state": self.status.state.value.lower(),
            "host": self.status.name.lower(),
            "app": "",
            "task": "",
        }
        self.haystack = f"{self.status.name} {self.status.state.value} {tag_text}".lower()

    @property
    def foreign(self) -> int:
        """How many of another store's containers run here (the '+N' of the TASKS column)."""
        return sum(1 for c in self.foreign_containers if c.running)

    def tag_list(self) -> list[str]:
        return [k if not v else f"{k}={v}" for k, v in sorted(self.tags.items())]

    def cores_text(self) -> str:
        """Cores used/total per NUMA node, each with a bar: 'n0 ▮▮▯▯▯▯ 1/4'."""
        facts = self.status.facts
        if facts is None:
            return "-"
        used: dict[int, int] = {}
        for c in facts.containers:
            if c.running:
                used[c.numa] = used.get(c.numa, 0) + len(c.cores)
        parts = []
        for node in facts.numa:
            n_used, total = used.get(node.id, 0), len(node.cores)
            parts.append(f"n{node.id} {bar(n_used, total)} {n_used}/{total}")
        return " ".join(parts)

    def tasks_text(self) -> str:
        """This store's live tasks, plus '+N' for another store's running containers."""
        own = str(self.live_tasks)
        return f"{own}+{self.foreign}" if self.foreign else own

    def memory_text(self) -> str:
        facts = self.status.facts
        if facts is None:
            return "-"
        used = sum(c.memory_mb for c in facts.containers if c.running)
        return f"{memory(used)}/{memory(facts.memory_total_mb)}"

    def cells(self, now: float, marked: bool) -> Sequence[Cell]:
        s = self.status
        facts = s.facts
        docker = (facts.docker_version or "-") if facts else "-"
        probe_age = duration(now - s.checked_at) if s.checked_at else "never"
        return (
            ("✓" if marked else " ", "bold"),
            (s.name, "bold"),
            (s.state.value, HOST_STYLE[s.state]),
            (",".join(self.tag_list()) or "-", ""),
            (self.cores_text(), ""),
            (self.memory_text(), ""),
            (self.tasks_text(), ""),
            (docker, ""),
            (probe_age, ""),
            (s.reason or "", HOST_STYLE[s.state]),
        )

    def detail(self, most: int = 12) -> list[str]:
        """The host's full status, line by line, for `enter` on its row: the reason in full,
        the facts, and each of another store's containers (at most `most`, running first)."""
        s = self.status
        lines = [f"{s.name}: {s.state.value}"]
        if s.reason:
            lines.append(s.reason)
        f = s.facts
        if f is not None:
            lines.append(f"{f.cores} cores, {f.memory_total_mb} MB, {f.arch}, kernel {f.kernel}")
            lines.append(
                f"docker {f.docker_version or '-'}; {len(f.containers)} managed containers"
            )
        foreign = sorted(self.foreign_containers, key=lambda c: (not c.running, c.name))
        if foreign:
            lines.append(
                f"{len(foreign)} placed by another drove-tui store ({self.foreign} running), "
                "counted in the capacity, never touched:"
            )
            lines += [foreign_line(c) for c in foreign[:most]]
            if len(foreign) > most:
                lines.append(f"  … and {len(foreign) - most} more")
        return lines


def foreign_line(c: ManagedContainer) -> str:
    """One foreign container: name, app/task labels if any, cores, memory, and whether it
    runs: '  drove-x-1 (x/1): cores 0,1 on NUMA 0, 256 MB, running'."""
    labels = f" ({c.app}/{c.task_id})" if c.app or c.task_id else ""
    cores = ",".join(str(n) for n in c.cores) or "-"
    state = "running" if c.running else f"exited {'-' if c.exit_code is None else c.exit_code}"
    return f"  {c.name}{labels}: cores {cores} on NUMA {c.numa}, {memory(c.memory_mb)}, {state}"
