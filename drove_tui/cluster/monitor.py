"""HostMonitor: probes every host on an interval and on demand, keeps each host's status,
and tells subscribers when a host's state changes.

Each host has its own poll loop that reschedules itself only after its probe has finished (no
overlapping polls, and a hanging host delays no other), and a probe of a host already being
probed joins the one in flight. A probe times out after the host's connect
timeout plus one keepalive interval, so a host that stops answering is UNREACHABLE well within
its keepalive window; when it answers again the next poll finds it ONLINE, with no restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from types import TracebackType

from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.probe import probe
from drove_tui.cluster.transport import CommandTimeout, TransportError, Unreachable
from drove_tui.models.host import HostState, HostStatus
from drove_tui.models.inventory import HostConfig

MIN_PROBE_TIMEOUT_S = 5.0


def probe_timeout(host: HostConfig) -> float:
    """How long one probe of `host` may take before the host counts as UNREACHABLE."""
    return host.connect_timeout + max(MIN_PROBE_TIMEOUT_S, host.keepalive_interval)


class HostMonitor:
    """Keeps a HostStatus per host, fresh to within one interval."""

    def __init__(
        self,
        cluster: Cluster,
        hosts: Iterable[HostConfig],
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
        timeout: Callable[[HostConfig], float] = probe_timeout,
    ) -> None:
        self.cluster = cluster
        self.hosts = {h.name: h for h in hosts}
        self.interval = interval
        self._clock = clock
        self._timeout = timeout
        self._status = {name: HostStatus(name=name) for name in self.hosts}
        self._inflight: dict[str, asyncio.Task[HostStatus]] = {}
        self._subscribers: list[tuple[asyncio.Queue[HostStatus], bool]] = []
        self._loops: list[asyncio.Task[None]] = []

    # --- reading ----------------------------------------------------------------------------

    def status(self, name: str) -> HostStatus:
        """The last known status of host `name`."""
        return self._status[name]

    def statuses(self) -> list[HostStatus]:
        """Every host's last known status, in inventory order."""
        return [self._status[name] for name in self.hosts]

    def subscribe(self, *, every_probe: bool = False) -> asyncio.Queue[HostStatus]:
        """A queue that receives a host's new status each time its state or reason changes
        (with `every_probe`, after every probe, for those who follow the facts)."""
        queue: asyncio.Queue[HostStatus] = asyncio.Queue()
        self._subscribers.append((queue, every_probe))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[HostStatus]) -> None:
        """Stop delivering to `queue`."""
        self._subscribers = [(q, every) for q, every in self._subscribers if q is not queue]

    # --- probing ----------------------------------------------------------------------------

    async def probe(self, names: Iterable[str] | None = None) -> list[HostStatus]:
        """Probe the named hosts (default: all) now, concurrently; returns their statuses."""
        wanted = list(self.hosts) if names is None else list(names)
        # Shielded: a caller who gives up must not cancel a probe others are waiting for.
        tasks = [asyncio.shield(self._probe_task(name)) for name in wanted]
        return list(await asyncio.gather(*tasks))

    def _probe_task(self, name: str) -> asyncio.Task[HostStatus]:
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.create_task(self._probe_one(self.hosts[name]))
            self._inflight[name] = task
            task.add_done_callback(lambda _: self._inflight.pop(name, None))
        return task

    async def _probe_one(self, host: HostConfig) -> HostStatus:
        previous = self._status[host.name]
        now = self._clock()
        try:
            transport = self.cluster.transport(host)
            facts = await probe(transport, host, timeout=self._timeout(host))
        except Unreachable as err:
            status = _failed(previous, now, f"{err.reason}: {err}")
        except CommandTimeout as err:  # connected, but the host stopped answering
            status = _failed(previous, now, f"timeout: {err}")
        except TransportError as err:  # e.g. the probe's output was cut off
            status = _failed(previous, now, f"probe failed: {err}")
        else:
            if facts.docker_version is None:
                state = HostState.DOCKER_DOWN
                reason = f"docker does not answer: {facts.docker_error}"
            else:
                state, reason = HostState.ONLINE, None
            status = HostStatus(
                name=host.name,
                state=state,
                reason=reason,
                facts=facts,
                last_ok=now,
                checked_at=now,
            )
        self._status[host.name] = status
        changed = (status.state, status.reason) != (previous.state, previous.reason)
        for queue, every_probe in list(self._subscribers):
            if changed or every_probe:
                queue.put_nowait(status)
        return status

    # --- the poll loop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling every host every `interval` seconds (first polls start at once).

        Each host has a loop of its own, so a host that hangs until its probe times out
        delays nobody else's polls.
        """
        if not self._loops:
            self._loops = [asyncio.create_task(self._poll(name)) for name in self.hosts]

    async def _poll(self, name: str) -> None:
        while True:
            await asyncio.shield(self._probe_task(name))
            # Sleep after the probe, never during it: polls of a host do not overlap.
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop polling and wait for probes in flight to end."""
        loops, self._loops = self._loops, []
        tasks = loops + list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> HostMonitor:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _failed(previous: HostStatus, now: float, reason: str) -> HostStatus:
    """UNREACHABLE, keeping the last good facts and time (they say what the host held)."""
    return HostStatus(
        name=previous.name,
        state=HostState.UNREACHABLE,
        reason=reason,
        facts=previous.facts,
        last_ok=previous.last_ok,
        checked_at=now,
    )
