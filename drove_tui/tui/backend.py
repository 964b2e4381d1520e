"""Exactly what the terminal app needs from the engine, as a Protocol.

The live app plugs in `EngineBackend` (tui/engine_backend.py, over `engine.Engine`); the
tests plug in a deterministic fake. Nothing in tui/ talks to a host except through this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from drove_tui.engine.events import Event, LogLine
from drove_tui.models.host import HostStatus, ManagedContainer
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.models.task import TaskRecord, Transition


class Backend(Protocol):
    """The engine as the app sees it."""

    @property
    def inventory_label(self) -> str:
        """The inventory file shown in the status line ('localhost' for the built-in one)."""
        ...

    @property
    def store_label(self) -> str:
        """The state file shown in the status line."""
        ...

    def recovering(self) -> bool:
        """True while tasks found at start-up are still UNKNOWN and their hosts unpolled."""
        ...

    def tasks(self) -> list[TaskRecord]:
        """Every task in the store, live and finished."""
        ...

    def hosts(self) -> list[HostStatus]:
        """Every host of the inventory with its last status."""
        ...

    def host_tags(self) -> Mapping[str, Mapping[str, str]]:
        """Each host's inventory tags (bare tag -> '')."""
        ...

    def foreign(self, host: str) -> list[ManagedContainer]:
        """Containers on `host` that another drove-tui store placed (last probe)."""
        ...

    def select_hosts(self, pattern: str) -> list[str]:
        """Names of the hosts matching an inventory pattern (name glob, group, tag:x)."""
        ...

    def history(self, app: str, task_id: str) -> list[Transition]:
        """The task's transitions, oldest first."""
        ...

    def subscribe(self) -> AsyncIterator[Event]:
        """Every change from now on: TaskChanged, TaskProgress, HostChanged, LogLine."""
        ...

    def logs(
        self, app: str, task_id: str, *, follow: bool, tail: int | None
    ) -> AsyncIterator[LogLine]:
        """The task's output: from the host while it runs, else from the local copy."""
        ...

    async def submit(
        self, spec: TaskSpec, *, op_spec: ClusterOpSpec | None, pin_host: str | None = None
    ) -> TaskRecord:
        """Create the task (PENDING) and start its lifecycle."""
        ...

    async def kill(self, app: str, task_id: str) -> TaskRecord:
        """Kill the task in whatever live state it is."""
        ...

    async def probe(self, pattern: str) -> None:
        """Probe the hosts matching the pattern now."""
        ...

    async def host_key(self, host: str) -> str:
        """The fingerprint of the key the host offers now (for the trust confirmation)."""
        ...

    async def trust(self, host: str, fingerprint: str) -> None:
        """Record the host's key as trusted, if it is still the one with this fingerprint."""
        ...
