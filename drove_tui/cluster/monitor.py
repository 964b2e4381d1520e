"""HostMonitor: probes every host on an interval and on demand, keeps each host's status,
and tells subscribers when a host's state changes.

Every FULL_EVERY-th probe of a host is the full one (probe.py's script); the others are light
(probe_api.py: docker's socket alone, no process on the host) where the socket is known. The
first probe, and the one after any probe that was not ONLINE, are full.

Each host has its own poll loop that reschedules itself only after its probe has finished (no
overlapping polls, and a hanging host delays no other), and a probe of a host already being
probed joins the one in flight; `request` cuts a host's wait short (a probe that begins after
the request). A probe times out after the host's connect timeout plus one keepalive interval
(the engine passes its own bound), so a host that stops answering is UNREACHABLE well within
its keepalive window; when it answers again the next poll finds it ONLINE, with no restart.
Any failure of a probe is the host's state, never the end of its poll loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType

from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.probe import probe
from drove_tui.cluster.probe_api import light_probe
from drove_tui.cluster.transport import CommandTimeout, Transport, Unreachable
from drove_tui.errors import DroveError
from drove_tui.models.host import HostFacts, HostState, HostStatus
from drove_tui.models.inventory import HostConfig

log = logging.getLogger(__name__)
MIN_PROBE_TIMEOUT_S = 5.0
# Probes of a host per full one (probe.py's script); the others are light (probe_api.py)
# where its docker socket is known: a minute between full ones at the default interval.
FULL_EVERY = 6


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
        self._wanted = {name: asyncio.Event() for name in self.hosts}
        self._light_left = dict.fromkeys(self.hosts, 0)  # light probes before the next full
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

    def request(self, name: str) -> None:
        """Have the poll loop probe host `name` now (after the probe in flight, if any),
        instead of at the end of its interval. The result reaches subscribers as usual."""
        self._wanted[name].set()

    def _probe_task(self, name: str) -> asyncio.Task[HostStatus]:
        task = self._inflight.get(name)
        if task is None or task.done():
            task = asyncio.create_task(self._probe_one(self.hosts[name]))
            self._inflight[name] = task
            task.add_done_callback(lambda _: self._inflight.pop(name, None))
        return task

    async def _probe_one(self, host: HostConfig) -> HostStatus:
        previous = self._status[host.name]
        now = self._clock()
        timeout = self._timeout(host)
        try:
            transport = self.cluster.transport(host)
            facts = await self._facts(transport, host, previous, timeout)
        except Unreachable as err:
            status = _failed(previous, now, f"{err.reason}: {err}")
        except CommandTimeout:  # connected, but the host stopped answering
            # Its own message quotes the whole probe script: say what it means instead.
            status = _failed(previous, now, f"timeout: no answer to the probe within {timeout:g} s")
        except (DroveError, ValueError, KeyError, IndexError) as err:  # e.g. output cut off
            status = _failed(previous, now, f"probe failed: {_said(err)}")
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

    async def _facts(
        self,
        transport: Transport,
        host: HostConfig,
        previous: HostStatus,
        timeout: float,  # noqa: ASYNC109
    ) -> HostFacts:
        """A light probe after a good one while full ones are not due, else a full one."""
        left = self._light_left[host.name]
        self._light_left[host.name] = 0  # a probe that fails makes the next one full
        if previous.state is HostState.ONLINE and previous.facts is not None and left > 0:
            facts = await light_probe(transport, host, previous.facts, timeout=timeout)
            if facts is not None:
                self._light_left[host.name] = left - 1
                return facts
        facts = await probe(transport, host, timeout=timeout)
        self._light_left[host.name] = FULL_EVERY - 1
        return facts

    # --- the poll loop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling every host every `interval` seconds (first polls start at once).

        Each host has a loop of its own, so a host that hangs until its probe times out
        delays nobody else's polls.
        """
        if not self._loops:
            self._loops = [asyncio.create_task(self._poll(name)) for name in self.hosts]

    async def _poll(self, name: str) -> None:
        wanted = self._wanted[name]
        requested = False
        while True:
            try:
                joined = self._inflight.get(name)
                if requested and joined is not None:
                    # Begun before the request (someone's probe()): a request wants a newer one.
                    await asyncio.shield(joined)
                wanted.clear()  # a request from now on is served by the probe below or the next
                await asyncio.shield(self._probe_task(name))
            except Exception:  # a bug in one probe must not end the host's polls
                log.exception("probe of %s failed", name)
            # Wait after the probe, never during it: polls of a host do not overlap.
            requested = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    requested = await wanted.wait()

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


def _said(err: Exception) -> str:
    """An error in one line: our own errors say a sentence, others show what they are."""
    return str(err) if isinstance(err, DroveError) else f"unreadable probe answer: {err!r}"


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
