"""Watching hosts, not tasks: per host one periodic probe and one `docker events` stream.

The probe (one round trip) gives health, capacity and every managed container with its exit
code; the event stream tells exits at once. The cost grows with hosts, never with tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING

from drove_tui.cluster.probe import probe
from drove_tui.cluster.transport import CommandTimeout, TransportError
from drove_tui.engine import executor
from drove_tui.errors import DroveError
from drove_tui.models.host import HostState, HostStatus
from drove_tui.models.inventory import HostConfig

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

log = logging.getLogger(__name__)
# A probe that hangs (a partition) must not hide the host's state for long: a few probe
# intervals, within these bounds.
PROBE_TIMEOUT_MIN_S = 5.0
PROBE_TIMEOUT_MAX_S = 20.0


async def watch_host(engine: Engine, host: HostConfig) -> None:
    """Probe `host` every probe interval (or at once when asked), keep its exit stream open."""
    stream: asyncio.Task[None] | None = None
    last_ok: float | None = None
    try:
        while True:
            wanted = engine.probe_wanted(host.name)
            started = time.time()
            status = await probe_status(engine, host, started, last_ok)
            if status.state is HostState.ONLINE:
                last_ok = started
                if stream is None or stream.done():
                    stream = asyncio.create_task(stream_exits(engine, host, since=started - 2))
            elif stream is not None:
                stream.cancel()
                stream = None
            try:
                engine.on_probe(status, started)
            except DroveError as err:  # e.g. the store is busy: the next probe tries again
                log.warning("probe of %s not taken in: %s", host.name, err)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(engine.inventory.settings.probe_interval_s):
                    await wanted.wait()
    finally:
        if stream is not None:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stream


async def probe_status(
    engine: Engine, host: HostConfig, started: float, last_ok: float | None
) -> HostStatus:
    """The host's health and facts now (UNREACHABLE with the reason when it does not answer)."""
    transport = engine.cluster.transport(host)
    try:
        interval = engine.inventory.settings.probe_interval_s
        timeout = min(PROBE_TIMEOUT_MAX_S, max(PROBE_TIMEOUT_MIN_S, 3 * interval))
        facts = await probe(transport, host, timeout=timeout)
    except (DroveError, ValueError, KeyError, IndexError) as err:
        # Any failure is this host's state, never the end of its watcher.
        return HostStatus(
            name=host.name,
            state=HostState.UNREACHABLE,
            reason=_failure(err, timeout),
            facts=None,
            last_ok=last_ok,
            checked_at=started,
        )
    if facts.docker_version is None:
        return HostStatus(
            name=host.name,
            state=HostState.DOCKER_DOWN,
            reason=facts.docker_error,
            facts=None,
            last_ok=last_ok,
            checked_at=started,
        )
    return HostStatus(
        name=host.name,
        state=HostState.ONLINE,
        facts=facts,
        last_ok=started,
        checked_at=started,
    )


def _failure(err: Exception, timeout: float) -> str:
    """The host's reason for a failed probe, in one line."""
    if isinstance(err, CommandTimeout):  # its own message quotes the whole probe script
        return f"no answer to the probe within {timeout:g} s"
    if isinstance(err, DroveError):
        return str(err)
    return f"unreadable probe answer: {err!r}"


async def stream_exits(engine: Engine, host: HostConfig, *, since: float) -> None:
    """Follow the host's `die` events of managed containers and report each exit code."""
    transport = engine.cluster.transport(host)
    cmd = executor.events(host, f"{since:.3f}")
    try:
        async for kind, raw in transport.stream(cmd):
            if kind != "stdout":
                continue
            try:
                event = json.loads(raw)
                attrs = event["Actor"]["Attributes"]
                engine.on_exit(str(attrs["name"]), int(attrs.get("exitCode", -1)))
            except (ValueError, KeyError, TypeError):
                log.debug("ignored docker event line from %s: %r", host.name, raw)
    except TransportError as err:
        log.info("event stream of %s ended: %s", host.name, err)
