"""Docker's API through sshd to the host's own socket (cluster/docker_api.py, probe_api.py,
engine/removal.py) on the real sandbox: the probe finds the socket, the light probe sees what
the full one sees, an attached task's container goes with one API call and no command, and a
socket the host will not give leaves it to `docker rm`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from drove_tui.cluster import docker_api
from drove_tui.cluster.command import Command
from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.probe import probe
from drove_tui.cluster.probe_api import light_probe
from drove_tui.cluster.transport import SocketRefused, StdinFeed
from drove_tui.engine import removal
from drove_tui.engine.engine import Engine
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.states import TaskState
from tests.conftest import Sandbox
from tests.integration.test_attached_run import record_commands, reservations
from tests.integration.test_engine_lifecycle import assert_legal_history, inventory, spec

S = TaskState
HOST = "host3"


def containers(sandbox: Sandbox) -> str:
    return sandbox.run_ssh(HOST, "docker", "ps", "-a", "--format", "{{.Names}}").stdout


def record_socket_calls(engine: Engine) -> list[tuple[str, bytes, bytes]]:
    """Every request the engine sends to a socket on HOST, with the answer's first line."""
    host = engine.inventory.host(HOST)
    assert host is not None
    transport = engine.cluster.transport(host)
    real = transport.unix_request
    seen: list[tuple[str, bytes, bytes]] = []

    async def unix_request(path: str, request: bytes, **kw: Any) -> bytes:
        try:
            answer = await real(path, request, **kw)
        except SocketRefused:
            seen.append((path, request, b"refused"))
            raise
        seen.append((path, request, answer.split(b"\r\n")[0]))
        return answer

    transport.unix_request = unix_request  # type: ignore[method-assign]
    return seen


async def test_the_ssh_transport_talks_to_the_hosts_docker_socket(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    hosts = load_inventory(sandbox.inventory_path).hosts
    async with Cluster(hosts, user_known_hosts=tmp_path / "none") as cluster:
        transport = cluster.transport(HOST)
        said = sandbox.run_ssh(HOST, "sh", "-c", 'printf %s "$DOCKER_HOST"').stdout
        path = docker_api.socket_path("docker", said)
        assert path is not None and path.endswith("/docker.sock"), said
        raw = await transport.unix_request(path, docker_api.request("GET", "/_ping"), timeout=30)
        assert docker_api.parse_answer(raw).status == 200
        assert raw.endswith(b"OK")
        with pytest.raises(SocketRefused, match=f"{HOST} .*cannot connect to /nonexistent.sock"):
            await transport.unix_request("/nonexistent.sock", b"GET / HTTP/1.1\r\n\r\n", timeout=30)
        # The connection is still good for commands.
        assert (await transport.run(Command("true"), timeout=30)).ok


async def test_the_light_probe_sees_what_the_full_probe_sees(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    labels = ["--label", "drove.managed=1", "--label", "drove.app=it", "--label", "drove.cores=1"]
    labels += ["--label", "drove.memory_mb=64"]
    image = sandbox.image
    made = {
        "sock-run": ["run", "-d", "--name", "sock-run", *labels, image, "sleep", "60"],
        "sock-exit": ["run", "--name", "sock-exit", *labels, image, "sh", "-c", "exit 3"],
        "sock-new": ["create", "--name", "sock-new", *labels, image, "true"],
    }
    try:
        for argv in made.values():
            sandbox.run_ssh(HOST, "docker", *argv)
        hosts = load_inventory(sandbox.inventory_path).hosts
        host = next(h for h in hosts if h.name == HOST)
        async with Cluster(hosts, user_known_hosts=tmp_path / "none") as cluster:
            transport = cluster.transport(HOST)
            full = await probe(transport, host, timeout=30)
            light = await light_probe(transport, host, full, timeout=30)
    finally:
        sandbox.run_ssh(HOST, "docker", "rm", "-f", *made)
    assert light is not None
    mine = {c.name: c for c in full.containers if c.name in made}
    assert sorted(mine) == sorted(made)
    assert (mine["sock-run"].running, mine["sock-exit"].exit_code, mine["sock-new"].exit_code) == (
        True,
        3,
        None,
    )
    assert light.containers == full.containers
    assert light.listed and full.listed
    assert light.docker_version == full.docker_version
    assert full.host_time is not None and light.host_time is not None
    assert abs(light.host_time - full.host_time) <= 2


async def test_an_attached_tasks_container_goes_with_one_api_call_and_no_command(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe(HOST)
        facts = engine.watch.status(HOST).facts
        assert facts is not None and (facts.docker_endpoint or "").endswith("/docker.sock")
        ran = record_commands(engine, HOST)
        asked = record_socket_calls(engine)
        record = await engine.submit(spec(sandbox, "sock1", ["sh", "-c", "echo hi"]), pin_host=HOST)
        done = await engine.wait("it", "sock1")
        assert_legal_history(engine, done)
    assert done.state is S.STOPPED and done.result is not None and done.result.exit_code == 0
    name = f"drove-{record.instance_id}"
    removals = [
        (request.split(b" ")[1], first) for _, request, first in asked if b"DELETE" in request
    ]
    # (The light probes use the socket too, with GETs only, and the run itself with POSTs:
    # tests/integration/test_api_run.py.)
    assert removals == [(f"/containers/{name}?force=1&v=1".encode(), b"HTTP/1.1 204 No Content")]
    assert all(r.startswith((b"GET ", b"POST ", b"DELETE ")) for _, r, _ in asked)
    assert not any("rm -f -v" in line for line in ran), ran
    assert name not in containers(sandbox)
    assert record.instance_id not in reservations(sandbox)


async def test_a_socket_the_host_will_not_give_leaves_the_removal_to_docker_rm(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(removal.docker_api, "socket_path", lambda *_: "/nonexistent.sock")
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe(HOST)
        ran = record_commands(engine, HOST)
        asked = record_socket_calls(engine)
        record = await engine.submit(spec(sandbox, "sock2", ["true"]), pin_host=HOST)
        first = await engine.wait("it", "sock2")
        await engine.submit(spec(sandbox, "sock3", ["true"]), pin_host=HOST)
        second = await engine.wait("it", "sock3")
    assert (first.state, second.state) == (S.STOPPED, S.STOPPED)
    # Both refused (the socket does not exist there), both removed by the script.
    # (The light probe, given the same socket, is refused too: it leaves probing to the
    # script.)
    deletes = [first for _, request, first in asked if request.startswith(b"DELETE ")]
    assert deletes == [b"refused", b"refused"]
    assert sum("rm -f -v" in line for line in ran) == 2, ran
    assert f"drove-{record.instance_id}" not in containers(sandbox)


async def test_a_container_runs_through_the_api_create_attach_start_pump_wait(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    hosts = load_inventory(sandbox.inventory_path).hosts
    said = sandbox.run_ssh(HOST, "sh", "-c", 'printf %s "$DOCKER_HOST"').stdout
    path = docker_api.socket_path("docker", said)
    assert path is not None, said
    name = "api-run"
    body = {
        "Image": sandbox.image,
        "Cmd": ["sh", "-c", "echo out; echo err >&2; printf tail; exit 7"],
        "AttachStdout": True,
        "AttachStderr": True,
    }
    lines: list[tuple[str, bytes]] = []
    try:
        async with Cluster(hosts, user_known_hosts=tmp_path / "none") as cluster:
            transport = cluster.transport(HOST)
            made = await docker_api.create_container(transport, path, name, body, timeout=30)
            assert made.status == docker_api.CREATED, made.message
            again = await docker_api.create_container(transport, path, name, body, timeout=30)
            assert again.status == docker_api.CONFLICT
            async with docker_api.attach(transport, path, name, timeout=30) as out:
                started = await docker_api.start_container(transport, path, name, timeout=30)
                assert started.status == docker_api.NO_CONTENT, started.message
                await out.pump(lambda stream, line: lines.append((stream, line)))
            waited = await docker_api.wait_container(transport, path, name, timeout=30)
            assert docker_api.exit_code(waited) == 7
            started = await docker_api.start_container(transport, path, name, timeout=30)
            assert started.status == docker_api.NO_CONTENT  # an exited one starts again
            with pytest.raises(docker_api.DockerError, match="404: No such container"):
                async with docker_api.attach(transport, path, "api-none", timeout=30):
                    pass
            gone = await docker_api.remove_container(transport, path, name, timeout=30)
            assert gone.status == docker_api.NO_CONTENT
            # The connection is still good for commands.
            assert (await transport.run(Command("true"), timeout=30)).ok
    finally:
        sandbox.run_ssh(HOST, "docker", "rm", "-f", name)
    assert [line for stream, line in lines if stream == "stdout"] == [b"out", b"tail"]
    assert [line for stream, line in lines if stream == "stderr"] == [b"err"]
    assert name not in containers(sandbox)


async def test_stdin_fed_piece_by_piece_reaches_a_remote_command(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    hosts = load_inventory(sandbox.inventory_path).hosts
    async with Cluster(hosts, user_known_hosts=tmp_path / "none") as cluster:
        transport = cluster.transport(HOST)
        feed = StdinFeed()
        seen: list[tuple[str, bytes]] = []

        def on_line(stream: str, line: bytes) -> None:
            seen.append((stream, line))
            if line == b"ready":  # it waits on its stdin now
                feed.send(b"hel")
                feed.send(b"lo\n")
                feed.close()

        script = 'echo ready; read -r x; echo "got $x"; cat; echo eof >&2'
        done = await transport.run(
            Command("sh", "-c", script), stdin=feed, timeout=60, on_line=on_line
        )
        assert done.exit_status == 0
        assert [line for s, line in seen if s == "stdout"] == [b"ready", b"got hello"]
        assert [line for s, line in seen if s == "stderr"] == [b"eof"]
        # A command that ends without its input ends the run all the same.
        async with asyncio.timeout(60):
            done = await transport.run(Command("sh", "-c", "echo bye; exit 3"), stdin=StdinFeed())
        assert (done.exit_status, done.stdout) == (3, b"bye\n")
