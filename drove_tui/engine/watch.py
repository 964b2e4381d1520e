"""Watching hosts, not tasks: per host one periodic probe (cluster.monitor.HostMonitor) and one
`docker events` stream of exits.

The probe (one round trip) gives health, capacity and every managed container with its exit
code; the event stream tells exits at once. The cost grows with hosts, never with tasks.
HostWatch keeps each host's status as the engine acts on it and reacts to every probe: exits
found, containers gone missing, tasks on a silent host turned UNKNOWN.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

from drove_tui.cluster.monitor import HostMonitor
from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor, recovery
from drove_tui.engine.events import HostChanged
from drove_tui.engine.signals import Signal
from drove_tui.errors import DroveError
from drove_tui.models.host import HostState, HostStatus
from drove_tui.models.inventory import HostConfig
from drove_tui.models.states import TaskState

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

log = logging.getLogger(__name__)
S = TaskState
KEEP_WATCHING = frozenset({S.RUNNING, S.RUN_COMPLETED, S.DEPROVISIONING})
# A probe that hangs (a partition) must not hide the host's state for long: a few probe
# intervals, within these bounds.
PROBE_TIMEOUT_MIN_S = 5.0
PROBE_TIMEOUT_MAX_S = 20.0


def probe_timeout(interval: float) -> float:
    """How long the engine lets one probe take: three intervals, within the bounds above."""
    return min(PROBE_TIMEOUT_MAX_S, max(PROBE_TIMEOUT_MIN_S, 3 * interval))


class HostWatch:
    """Every inventory host's latest status as the engine sees it, and the reactions to it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        hosts = engine.inventory.hosts
        interval = engine.inventory.settings.probe_interval_s
        self.monitor = HostMonitor(
            engine.cluster, hosts, interval=interval, timeout=lambda _: probe_timeout(interval)
        )
        self._status = {h.name: HostStatus(name=h.name) for h in hosts}
        self._probed_at: dict[str, float] = {}
        self._probe_done = {h.name: Signal() for h in hosts}
        self._reports: list[asyncio.Task[None]] = []

    def status(self, name: str) -> HostStatus:
        """The host's latest status (UNKNOWN before its first probe)."""
        return self._status[name]

    def statuses(self) -> list[HostStatus]:
        """Every host's latest status, in inventory order."""
        return list(self._status.values())

    # --- probing -----------------------------------------------------------------------

    async def run(self) -> None:
        """Probe every host (the monitor's loops) and take in each result until cancelled."""
        results = self.monitor.subscribe(every_probe=True)
        streams: dict[str, asyncio.Task[None]] = {}
        await self.monitor.start()
        try:
            while True:
                status = self._as_engine_sees(await results.get())
                started = status.checked_at or time.time()
                self._follow_exits(status, started, streams)
                try:
                    self.on_probe(status, started)
                except DroveError as err:  # e.g. the store is busy: the next probe tries again
                    log.warning("probe of %s not taken in: %s", status.name, err)
        finally:
            tasks = [*streams.values(), *self._reports]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.monitor.stop()

    def _as_engine_sees(self, status: HostStatus) -> HostStatus:
        """The engine acts only on what a good probe says: a host that is not ONLINE has no
        facts (its old containers are neither capacity nor foreign containers any more) and
        keeps the time of its last ONLINE probe."""
        if status.state is HostState.ONLINE:
            return status
        last_ok = self._status[status.name].last_ok
        return status.model_copy(update={"facts": None, "last_ok": last_ok})

    def _follow_exits(
        self, status: HostStatus, started: float, streams: dict[str, asyncio.Task[None]]
    ) -> None:
        """Keep the host's exit stream open while it is ONLINE."""
        stream = streams.get(status.name)
        host = self._engine.inventory.host(status.name)
        if status.state is HostState.ONLINE and host is not None:
            if stream is None or stream.done():
                since = started - 2
                streams[status.name] = asyncio.create_task(stream_exits(self._engine, host, since))
        elif stream is not None:
            stream.cancel()
            del streams[status.name]

    async def fresh_probe(self, name: str) -> HostStatus:
        """Ask for a probe of the host now and wait for its result."""
        asked = time.time()
        self.monitor.request(name)
        status = await self.probe_after(name, asked, until=asked + 60)
        return status or self._status[name]

    def probed_at(self, name: str) -> float:
        """When the host's latest probe started (0 when never)."""
        return self._probed_at.get(name, 0.0)

    async def probe_after(self, name: str, since: float, *, until: float) -> HostStatus | None:
        """The first status of the host from a probe started after `since` (None by `until`)."""
        while True:
            token = self._probe_done[name].token()
            if self._probed_at.get(name, 0.0) > since:
                return self._status[name]
            left = until - time.time()
            if left <= 0:
                return None
            await Signal.wait(token, left)

    # --- reacting to a probe -----------------------------------------------------------

    def on_probe(self, status: HostStatus, started: float) -> None:
        """A probe result: keep it, tell subscribers, reconcile our tasks."""
        engine = self._engine
        name = status.name
        self._status[name] = status
        self._probed_at[name] = started
        engine.subscribers.publish(HostChanged(status))
        if status.state is HostState.ONLINE and status.facts is not None:
            present = {c.instance_id for c in status.facts.containers}
            engine.capacity.seen(name, present)
            for container in status.facts.containers:
                if container.running:
                    engine.exits.on_start(container.name)
                elif container.exit_code is not None:
                    engine.exits.on_exit(container.name, container.exit_code)
            self._spot_missing(name, present, started)
            containers = status.facts.containers
            self._reports.append(
                asyncio.create_task(recovery.report_zombies(engine, name, containers))
            )
            self._reports = [t for t in self._reports if not t.done()]
        else:
            self._host_lost(status)
        engine.room.fire()
        self._probe_done[name].fire()

    def _spot_missing(self, host: str, present: set[str], started: float) -> None:
        """Running tasks whose container this probe did not list are checked one by one."""
        engine = self._engine
        for key, (where, state) in list(engine.runners.where.items()):
            if where != host or state is not S.RUNNING:
                continue
            record = engine.store.get_task(*key)
            if record is None or record.instance_id in present:
                continue
            if record.started_at is not None and record.started_at < started:
                engine.exits.missing(executor.container_name(record.instance_id))
                engine.signal(key).fire()

    def _host_lost(self, status: HostStatus) -> None:
        """Tasks running on a silent host become UNKNOWN at once (reconciled or LOST later)."""
        engine = self._engine
        for key, (where, state) in list(engine.runners.where.items()):
            if where != status.name or state not in KEEP_WATCHING:
                continue
            record = engine.store.get_task(*key)
            if record is not None and record.state in KEEP_WATCHING:
                engine.move(
                    record, S.UNKNOWN, f"host {status.name} is {status.state}: {status.reason}"
                )


async def stream_exits(engine: Engine, host: HostConfig, since: float) -> None:
    """Follow the host's `start` and `die` events of managed containers: report each start
    and each exit code."""
    transport = engine.cluster.transport(host)
    cmd = executor.events(host, f"{since:.3f}")
    try:
        async for kind, raw in transport.stream(cmd):
            if kind != "stdout":
                continue
            try:
                event = json.loads(raw)
                attrs = event["Actor"]["Attributes"]
                if event.get("status", event.get("Action")) == "start":
                    engine.exits.on_start(str(attrs["name"]))
                else:
                    engine.exits.on_exit(str(attrs["name"]), int(attrs.get("exitCode", -1)))
            except (ValueError, KeyError, TypeError):
                log.debug("ignored docker event line from %s: %r", host.name, raw)
    except TransportError as err:
        log.info("event stream of %s ended: %s", host.name, err)
