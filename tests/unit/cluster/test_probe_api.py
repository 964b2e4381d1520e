"""The light probe (cluster/probe_api.py) against scripted docker answers, and HostMonitor's
choice between it and the full probe."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from drove_tui.cluster.monitor import FULL_EVERY, HostMonitor
from drove_tui.cluster.probe import parse_container, parse_probe
from drove_tui.cluster.probe_api import LISTING, MAX_INSPECTS, light_probe
from drove_tui.cluster.transport import REFUSED, CommandTimeout, SocketRefused, Unreachable
from drove_tui.models.host import HostFacts, HostState
from drove_tui.models.inventory import HostConfig
from tests.unit.cluster.test_monitor import OK, ScriptedCluster, ScriptedTransport

HOST = HostConfig(name="h1", address="h1")
NEVER = "0001-01-01T00:00:00Z"
DATE = "Sun, 29 Nov 2026 04:40:10 GMT"  # 1795927210
LABELS = {"drove.managed": "1", "drove.cores": "0,1", "drove.memory_mb": "64", "drove.app": "a"}
ENDPOINT = b"@@docker_endpoint\nunix:///var/run/docker.sock\n"
FULL = OK.replace(b"@@containers", ENDPOINT + b"@@containers")


def http(status: int, body: object, *, server: str = "Docker/28.2.2 (linux)") -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status} X\r\nServer: {server}\r\nDate: {DATE}\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n%s" % (len(data), data)


def listed(cid: str, state: str) -> dict[str, Any]:
    return {"Id": cid, "Names": [f"/drove-{cid}"], "State": state, "Labels": LABELS}


def inspected(cid: str, code: int, finished: str) -> dict[str, Any]:
    state = {"Running": False, "ExitCode": code, "FinishedAt": finished}
    return {"Id": cid, "Name": f"/drove-{cid}", "State": state, "Config": {"Labels": LABELS}}


class Socket:
    """A host whose docker socket answers by request target (bytes or an error to raise)."""

    host = "h1"

    def __init__(self, answers: dict[str, bytes | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    async def unix_request(self, path: str, request: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
        target = request.split(b" ")[1].decode()
        self.asked.append((path, target))
        answer = self.answers[target]
        if isinstance(answer, Exception):
            raise answer
        return answer


def last(**changes: object) -> HostFacts:
    return parse_probe(FULL.decode()).model_copy(update=changes)


async def probe(host: Socket, facts: HostFacts | None = None) -> HostFacts | None:
    return await light_probe(host, HOST, facts or last(), timeout=5)  # type: ignore[arg-type]


async def test_containers_are_as_the_full_probe_lists_them_and_only_stopped_inspected() -> None:
    host = Socket(
        {
            LISTING: http(
                200, [listed("r", "running"), listed("c", "created"), listed("x", "exited")]
            ),
            "/containers/x/json": http(200, inspected("x", 3, "2026-11-29T04:40:00Z")),
        }
    )
    facts = await probe(host)
    assert facts is not None
    labels = json.dumps(LABELS)
    # What the script's inspect line says of the same three containers.
    expected = [
        parse_container(f"r\t/drove-r\ttrue\t0\t0001-01-01T00:00:00Z\t{labels}"),
        parse_container(f"c\t/drove-c\tfalse\t0\t0001-01-01T00:00:00Z\t{labels}"),
        parse_container(f"x\t/drove-x\tfalse\t3\t2026-11-29T04:40:00Z\t{labels}"),
    ]
    assert facts.containers == expected
    assert [target for _, target in host.asked] == [LISTING, "/containers/x/json"]
    assert {path for path, _ in host.asked} == {"/var/run/docker.sock"}
    assert facts.listed
    assert facts.host_time == 1795927210 - 1  # a second early: reservations never age early
    assert facts.docker_version == "28.2.2"
    assert (facts.cores, facts.memory_total_mb) == (2, 2000)  # from the last full probe


@pytest.mark.parametrize(
    ("state", "running", "inspected_too"),
    [
        ("paused", True, False),  # docker's State.Running is true: the script says true
        ("restarting", True, False),
        ("dead", False, True),
        ("removing", False, True),
    ],
)
async def test_dockers_other_states_read_as_the_scripts_running_field(
    state: str, running: bool, inspected_too: bool
) -> None:
    host = Socket(
        {
            LISTING: http(200, [listed("y", state)]),
            "/containers/y/json": http(200, inspected("y", 137, "2026-11-29T04:40:00Z")),
        }
    )
    facts = await probe(host)
    assert facts is not None
    (found,) = facts.containers
    assert found.running is running
    assert found.exit_code == (None if running else 137)
    assert (len(host.asked) == 2) is inspected_too


async def test_one_unreadable_inspect_stops_the_others_at_once() -> None:
    stopped: list[str] = []

    class Slow(Socket):
        async def unix_request(self, path: str, request: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
            if b"/containers/slow/" not in request:
                return await super().unix_request(path, request, timeout=timeout)
            try:
                await asyncio.sleep(3600)  # dockerd holding the container's lock, say
            except asyncio.CancelledError:
                stopped.append("slow")
                raise
            return b""

    host = Slow(
        {
            LISTING: http(200, [listed("slow", "exited"), listed("odd", "exited")]),
            "/containers/odd/json": b"garbage",
        }
    )
    assert await probe(host) is None  # the full probe says instead
    await asyncio.sleep(0)
    assert stopped == ["slow"]


async def test_a_container_gone_before_its_inspect_makes_the_listing_incomplete() -> None:
    host = Socket(
        {
            LISTING: http(200, [listed("x", "exited"), listed("r", "running")]),
            "/containers/x/json": http(404, {"message": "No such container: x"}),
        }
    )
    facts = await probe(host)
    assert facts is not None
    assert [c.name for c in facts.containers] == ["drove-r"]
    assert not facts.listed  # the census asks docker itself, as after the script's @@unlisted


async def test_without_the_headers_the_time_is_unknown_and_the_version_kept() -> None:
    raw = b"HTTP/1.1 200 OK\r\n\r\n[]"
    facts = await probe(Socket({LISTING: raw}))
    assert facts is not None
    assert (facts.host_time, facts.docker_version, facts.containers) == (None, "27.0", [])


@pytest.mark.parametrize(
    "answer",
    [
        http(500, {"message": "something broke"}),
        b"garbage",
        http(200, {"not": "a list"}),
        http(200, [{"Names": ["/x"]}]),  # no Id
        http(200, [{"Id": "x", "State": "exited"}]),  # its inspect below is not an object
        http(200, [{"Id": f"x{i}", "State": "exited"} for i in range(MAX_INSPECTS + 1)]),
        SocketRefused("h1", "administratively prohibited"),
    ],
)
async def test_what_the_api_cannot_say_is_left_to_the_full_probe(answer: bytes | Exception) -> None:
    held = {"Running": False, "ExitCode": 0, "FinishedAt": NEVER}
    odd = {"Name": "/x", "State": held, "Config": "not an object"}
    host = Socket({LISTING: answer, "/containers/x/json": http(200, odd)})
    assert await probe(host) is None
    assert len(host.asked) <= 2  # more stopped containers than that: not one inspect


@pytest.mark.parametrize(
    "facts",
    [
        last(docker_endpoint=None),  # the probe could not say where docker listens
        last(docker_endpoint="tcp://10.0.0.1:2375"),
        last(docker_version=None, docker_error="Cannot connect"),  # docker was down
    ],
)
async def test_no_known_socket_or_docker_down_asks_nothing(facts: HostFacts) -> None:
    host = Socket({})
    assert await probe(host, facts) is None
    assert host.asked == []


async def test_a_silent_socket_is_a_timeout_and_a_lost_host_is_unreachable() -> None:
    class Silent(Socket):
        async def unix_request(self, path: str, request: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
            await asyncio.sleep(3600)
            return b""

    with pytest.raises(CommandTimeout, match=r"did not answer within 0\.1 s"):
        await light_probe(Silent({}), HOST, last(), timeout=0.1)  # type: ignore[arg-type]
    lost = Unreachable("h1", REFUSED, "refused")
    with pytest.raises(Unreachable):
        await probe(Socket({LISTING: lost}))


# --- HostMonitor: full, light, and full again ------------------------------------------------


class BothWays(ScriptedTransport, Socket):
    """The full probe's script through `run`, docker's socket through `unix_request`."""

    def __init__(self, host: str) -> None:
        ScriptedTransport.__init__(self, host)
        Socket.__init__(self, {LISTING: http(200, [])})
        self.answer = FULL


def monitor_of(transport: BothWays) -> HostMonitor:
    cluster = ScriptedCluster([])
    cluster.transports["h1"] = transport
    cluster_any: Any = cluster
    return HostMonitor(cluster_any, [HOST], interval=3600)


async def test_every_full_every_th_probe_is_full_and_the_others_light() -> None:
    transport = BothWays("h1")
    monitor = monitor_of(transport)
    kinds = []
    for _ in range(2 * FULL_EVERY + 1):
        before = (transport.calls, len(transport.asked))
        (status,) = await monitor.probe()
        assert status.state is HostState.ONLINE
        kinds.append("full" if transport.calls > before[0] else "light")
        assert (transport.calls - before[0]) + (len(transport.asked) - before[1]) == 1
    one_round = ["full"] + ["light"] * (FULL_EVERY - 1)
    assert kinds == one_round * 2 + ["full"]


async def test_a_light_probe_that_cannot_say_is_a_full_one_at_once() -> None:
    transport = BothWays("h1")
    monitor = monitor_of(transport)
    await monitor.probe()
    transport.answers[LISTING] = SocketRefused("h1", "prohibited")
    (status,) = await monitor.probe()
    assert status.state is HostState.ONLINE
    assert (transport.calls, len(transport.asked)) == (2, 1)  # asked the socket, then the script


async def test_after_a_failed_probe_the_next_one_is_full() -> None:
    transport = BothWays("h1")
    monitor = monitor_of(transport)
    await monitor.probe()
    transport.answers[LISTING] = Unreachable("h1", REFUSED, "refused")
    (status,) = await monitor.probe()
    assert status.state is HostState.UNREACHABLE
    transport.answers[LISTING] = http(200, [])
    await monitor.probe()
    assert (transport.calls, len(transport.asked)) == (2, 1)  # full, light (failed), full
