"""What placement sees: every host's probed containers plus this process's in-flight
reservations, less the containers it removed since the host's last probe; and the census of a
host that the create script counts instead of asking `docker ps`."""

from __future__ import annotations

import time
from collections.abc import Callable

from drove_tui.engine import executor
from drove_tui.engine.placement import HostView, Placement
from drove_tui.engine.signals import Signal
from drove_tui.models.host import HostState, HostStatus, ManagedContainer, offered_capacity
from drove_tui.models.inventory import Inventory
from drove_tui.models.task import TaskRecord

# The create script counts the engine's view of a host's containers instead of asking
# `docker ps` while the probe behind it is this fresh. A container made since that probe is
# counted by its reservation instead: each create writes one under the host lock, stamped by
# the host's clock, and the script counts every reservation that was younger than two
# minutes at the probe's listing (the host's own time of it travels with the view), whatever
# the wait since. The bound only limits how long a container made outside drove-tui can go
# unseen.
CENSUS_MAX_AGE_S = 45.0
# Beyond this the script asks docker: the census travels in the ssh command line (Linux caps
# one argument at 128 KiB, and the spec's own arguments need their room).
CENSUS_MAX_BYTES = 16 * 1024


class Capacity:
    """The in-memory allocations of this process, between a placement and the probes."""

    def __init__(
        self, inventory: Inventory, status: Callable[[str], HostStatus], room: Signal
    ) -> None:
        self._inventory = inventory
        self._status = status
        self._room = room  # fired when capacity may have freed
        self._reserved: dict[str, dict[str, ManagedContainer]] = {}
        self._released: dict[str, set[str]] = {}

    def host_views(self) -> list[HostView]:
        """Every host as placement sees it now (probed containers + our reservations)."""
        views = []
        for host in self._inventory.hosts:
            status = self._status(host.name)
            facts = status.facts
            gone = self._released.get(host.name, set())
            held = [c for c in (facts.containers if facts else []) if c.instance_id not in gone]
            seen = {c.instance_id for c in held}
            held += [c for i, c in self._reserved.get(host.name, {}).items() if i not in seen]
            views.append(HostView(host, status.state, facts, tuple(held)))
        return views

    def census(self, host_name: str) -> str | None:
        """The host's managed containers as the create script counts them: `@since TIME`
        (the host's clock just before the listing), then `NAME cores numa memory` lines:
        the last probe's listing, less the containers this process removed since. None
        (the script asks docker) unless that probe was good (ONLINE), listed every managed
        container, said the host's time, and is younger than CENSUS_MAX_AGE_S; or when the
        list is too long for a command line.

        A container made after that listing is missed here, and counted by its reservation:
        every drove-tui create writes one under the host lock. A container removed by
        another process since is still counted: the create finds no room, and the task
        waits for a fresh probe."""
        status = self._status(host_name)
        facts = status.facts
        if status.state is not HostState.ONLINE or facts is None or status.last_ok is None:
            return None
        if not facts.listed or facts.host_time is None:
            return None
        if time.time() - status.last_ok > CENSUS_MAX_AGE_S:
            return None
        gone = self._released.get(host_name, set())
        lines = [f"@since {facts.host_time}"]
        lines += [
            f"{c.name} {','.join(str(core) for core in c.cores) or '-'} {c.numa} {c.memory_mb}"
            for c in facts.containers
            if c.instance_id not in gone
        ]
        text = "".join(f"{line}\n" for line in lines)
        return text if len(text.encode()) <= CENSUS_MAX_BYTES else None

    def node_memory_mb(self, host_name: str, numa: int) -> int:
        """Memory offered by one NUMA node of the host (for the locked re-check)."""
        host = self._inventory.host(host_name)
        facts = self._status(host_name).facts
        if host is None or facts is None:
            return 0
        nodes = offered_capacity(
            facts.model_copy(update={"containers": []}),
            reserved_cores=host.reserved_cores,
            memory_percent=host.memory_percent,
            cpu_multiplier=host.cpu_multiplier,
            memory_multiplier=host.memory_multiplier,
        )
        return next((n.memory_mb for n in nodes if n.id == numa), 0)

    def reserve(self, record: TaskRecord, placement: Placement) -> None:
        """Hold the allocation in memory until the container shows up in probes."""
        self._reserved.setdefault(placement.host, {})[record.instance_id] = ManagedContainer(
            name=executor.container_name(record.instance_id),
            container_id="",
            app=record.app,
            task_id=record.task_id,
            instance_id=record.instance_id,
            running=False,
            cores=placement.cores,
            numa=placement.numa,
            memory_mb=placement.memory_mb,
        )

    def forget_allocation(self, record: TaskRecord) -> None:
        """Drop the in-memory reservation (the task will not create its container)."""
        for held in self._reserved.values():
            if held.pop(record.instance_id, None) is not None:
                self._room.fire()

    def released(self, record: TaskRecord) -> None:
        """The container is removed: its capacity is free before the next probe says so."""
        if record.host is not None:
            self._released.setdefault(record.host, set()).add(record.instance_id)
        self.forget_allocation(record)
        self._room.fire()

    def seen(self, host: str, present: set[str]) -> None:
        """A good probe of `host` listed these instances: removals it confirms are done."""
        if host in self._released:
            self._released[host] &= present
