"""HostMonitor with scripted transports: states, events, independence, no overlap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.monitor import HostMonitor
from drove_tui.cluster.transport import (
    REFUSED,
    CommandTimeout,
    RunResult,
    StreamName,
    Unreachable,
)
from drove_tui.models.host import HostState
from drove_tui.models.inventory import HostConfig

OK = b"@@nproc\n2\n@@uname\nx86_64\n6.1\n@@meminfo\nMemTotal: 2048000 kB\n@@docker\n27.0\n"
OK += b"@@docker_rc 0\n@@containers\n@@end\n"
DOCKER_DOWN = OK.replace(b"27.0\n@@docker_rc 0", b"Cannot connect\n@@docker_rc 1")


class ScriptedTransport:
    """Answers probes with whatever `answer` says; `gate` (when set) holds each probe."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.answer: bytes | Exception = OK
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.fifth_call = asyncio.Event()
        self.calls = 0

    async def run(
        self,
        cmd: Command,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> RunResult:
        self.calls += 1
        self.entered.set()
        if self.calls >= 5:
            self.fifth_call.set()
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return RunResult(0, self.answer, b"")

    def stream(
        self, cmd: Command, *, timeout: float | None = None
    ) -> AsyncIterator[tuple[StreamName, bytes]]:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class ScriptedCluster:
    def __init__(self, names: list[str]) -> None:
        self.transports = {n: ScriptedTransport(n) for n in names}

    def transport(self, host: HostConfig | str) -> ScriptedTransport:
        return self.transports[host if isinstance(host, str) else host.name]


def _monitor(names: list[str], interval: float = 3600) -> tuple[HostMonitor, ScriptedCluster]:
    cluster = ScriptedCluster(names)
    hosts = [HostConfig(name=n, address=n) for n in names]
    cluster_any: Any = cluster
    return HostMonitor(cluster_any, hosts, interval=interval), cluster


async def test_probe_results_map_to_online_docker_down_and_unreachable() -> None:
    monitor, cluster = _monitor(["a", "b", "c"])
    cluster.transports["b"].answer = DOCKER_DOWN
    cluster.transports["c"].answer = Unreachable("c", REFUSED, "c (c:22): connection refused")
    a, b, c = await monitor.probe()
    assert (a.state, b.state, c.state) == (
        HostState.ONLINE,
        HostState.DOCKER_DOWN,
        HostState.UNREACHABLE,
    )
    assert a.last_ok is not None and a.facts is not None and a.facts.cores == 2
    assert b.reason is not None and "Cannot connect" in b.reason
    assert c.reason is not None and c.reason.startswith("refused") and c.last_ok is None


async def test_an_unreachable_host_keeps_its_last_good_facts_and_time() -> None:
    monitor, cluster = _monitor(["a"])
    (good,) = await monitor.probe()
    cluster.transports["a"].answer = Unreachable("a", REFUSED, "refused")
    (bad,) = await monitor.probe()
    assert bad.state is HostState.UNREACHABLE
    assert (bad.facts, bad.last_ok) == (good.facts, good.last_ok)


async def test_subscribers_hear_state_changes_only() -> None:
    monitor, cluster = _monitor(["a"])
    changes = monitor.subscribe()
    everything = monitor.subscribe(every_probe=True)
    await monitor.probe()
    await monitor.probe()  # same state: no change event
    cluster.transports["a"].answer = DOCKER_DOWN
    await monitor.probe()
    assert [changes.get_nowait().state for _ in range(changes.qsize())] == [
        HostState.ONLINE,
        HostState.DOCKER_DOWN,
    ]
    assert everything.qsize() == 3


async def test_a_probe_already_in_flight_is_joined_not_repeated() -> None:
    monitor, cluster = _monitor(["a"])
    transport = cluster.transports["a"]
    transport.gate = asyncio.Event()
    first = asyncio.create_task(monitor.probe(["a"]))
    await transport.entered.wait()
    second = asyncio.create_task(monitor.probe(["a"]))
    await asyncio.sleep(0)  # let the second caller reach the in-flight probe
    transport.gate.set()
    assert (await first)[0] == (await second)[0]
    assert transport.calls == 1


async def test_a_hanging_host_does_not_hold_up_the_polls_of_others() -> None:
    monitor, cluster = _monitor(["slow", "fast"], interval=0.01)
    slow, fast = cluster.transports["slow"], cluster.transports["fast"]
    slow.gate = asyncio.Event()  # never set while we watch: slow hangs
    async with monitor:
        async with asyncio.timeout(30):
            await fast.fifth_call.wait()  # fast keeps being polled while slow's probe hangs
        assert slow.calls == 1  # and slow's polls never overlap
        assert monitor.status("slow").state is HostState.UNKNOWN


async def test_a_cancelled_caller_does_not_cancel_the_shared_probe() -> None:
    monitor, cluster = _monitor(["a"])
    transport = cluster.transports["a"]
    transport.gate = asyncio.Event()
    impatient = asyncio.create_task(monitor.probe(["a"]))
    await transport.entered.wait()
    patient = asyncio.create_task(monitor.probe(["a"]))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    transport.gate.set()
    assert (await patient)[0].state is HostState.ONLINE


async def test_cut_off_probe_output_is_a_host_problem_not_a_crash() -> None:
    monitor, cluster = _monitor(["a"])
    cluster.transports["a"].answer = OK.replace(b"@@end\n", b"")
    (status,) = await monitor.probe()
    assert status.state is HostState.UNREACHABLE
    assert status.reason is not None and "probe output unreadable" in status.reason


async def test_a_request_cuts_the_wait_short() -> None:
    monitor, cluster = _monitor(["a"])  # an hour between polls
    results = monitor.subscribe(every_probe=True)
    async with monitor:
        async with asyncio.timeout(30):
            await results.get()  # the first poll
            monitor.request("a")
            await results.get()  # a second probe, long before the hour is up
    assert cluster.transports["a"].calls == 2


async def test_a_request_during_a_probe_is_served_by_a_probe_begun_after_it() -> None:
    clock = [100.0]
    cluster = ScriptedCluster(["a"])
    cluster_any: Any = cluster
    monitor = HostMonitor(
        cluster_any, [HostConfig(name="a", address="a")], interval=3600, clock=lambda: clock[0]
    )
    transport = cluster.transports["a"]
    transport.gate = asyncio.Event()
    results = monitor.subscribe(every_probe=True)
    async with monitor:
        async with asyncio.timeout(30):
            await transport.entered.wait()  # the first probe hangs at t=100
            clock[0] = 200.0
            monitor.request("a")  # asked at t=200, while that probe is in flight
            transport.gate.set()
            first, second = await results.get(), await results.get()
    assert (first.checked_at, second.checked_at) == (100.0, 200.0)


async def test_an_unexpected_probe_failure_is_the_hosts_state_and_polling_goes_on() -> None:
    monitor, cluster = _monitor(["a"])
    cluster.transports["a"].answer = KeyError("surprise")
    results = monitor.subscribe(every_probe=True)
    async with monitor:
        async with asyncio.timeout(30):
            failed = await results.get()
            cluster.transports["a"].answer = OK
            monitor.request("a")
            recovered = await results.get()
    assert failed.state is HostState.UNREACHABLE
    assert failed.reason is not None and "KeyError" in failed.reason
    assert recovered.state is HostState.ONLINE


async def test_a_probe_timeout_says_how_long_it_waited_not_the_script() -> None:
    cluster = ScriptedCluster(["a"])
    cluster.transports["a"].answer = CommandTimeout("a", "sh -c 'a very long probe script'")
    cluster_any: Any = cluster
    monitor = HostMonitor(
        cluster_any, [HostConfig(name="a", address="a")], interval=3600, timeout=lambda _: 7.0
    )
    (status,) = await monitor.probe()
    assert status.reason == "timeout: no answer to the probe within 7 s"
