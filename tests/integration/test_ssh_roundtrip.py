"""The SSH transport on the real sandbox: verified round trips, quoting, stdin, streaming,
one connection with capped channels, and nothing left running when a caller gives up."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.probe import probe
from drove_tui.cluster.ssh import SshTransport
from drove_tui.cluster.transport import MAX_LINE, CommandTimeout
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import HostConfig

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox


def _host(sandbox: Sandbox, name: str = "host1", **changes: object) -> HostConfig:
    found = load_inventory(sandbox.inventory_path).host(name)
    assert found is not None
    return found.model_copy(update=changes)


@pytest.fixture
async def cluster(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Cluster]:
    hosts = load_inventory(sandbox.inventory_path).hosts
    # A user known_hosts that does not exist: only the sandbox's file vouches for its hosts.
    async with Cluster(hosts, user_known_hosts=tmp_path / "no_user_known_hosts") as c:
        yield c


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory both this process and the sandbox login user can use (pytest's is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="drove-it-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _until(check: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Wait (generously) until check() is true; conditions, not races, decide these tests."""
    deadline = time.monotonic() + limit_s
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, f"still waiting for {what} after {limit_s} s"
        await asyncio.sleep(0.1)


def _started(where: Path) -> list[str]:
    return sorted(p.name for p in where.glob("started.*"))


def _running_on_host(sandbox: Sandbox, needle: str) -> bool:
    ps = sandbox.run_ssh("host1", "ps", "-eo", "args")
    assert ps.returncode == 0, ps.stderr
    return any(line.startswith(needle) for line in ps.stdout.splitlines())


async def test_docker_version_round_trip_with_verified_host_key(
    sandbox: Sandbox, cluster: Cluster
) -> None:
    host = _host(sandbox)
    cmd = Command.docker(host, "version", "--format", "{{.Server.Version}}")
    result = await cluster.transport(host).run(cmd, timeout=30)
    plain = sandbox.run_ssh("host1", "docker", "version", "--format", "{{.Server.Version}}")
    assert result.exit_status == 0, result.stderr
    assert result.text().strip() == plain.stdout.strip() != ""


async def test_sshd_is_asked_for_aes_gcm_first(sandbox: Sandbox, cluster: Cluster) -> None:
    transport = cluster.transport(_host(sandbox))
    assert isinstance(transport, SshTransport)
    conn = await transport.connection()
    # OpenSSH's own order puts ChaCha20 first; ours wins, as the client's order decides.
    assert conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"
    assert conn.get_extra_info("recv_cipher") == "aes128-gcm@openssh.com"


async def test_metacharacters_arrive_as_literal_arguments_and_run_nothing(
    sandbox: Sandbox, cluster: Cluster
) -> None:
    marker = f"/tmp/pwned-{secrets.token_hex(6)}"
    values = [
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"; touch {marker}",
        f"' ; touch {marker} ; '",
        f'" ; touch {marker} ; "',
        f"a\ntouch {marker}\n",
        "--help",
        "-rf",
        f"&& touch {marker} || touch {marker} | tee {marker}",
        "$HOME ${PATH} * ? ~ \\ \t",
    ]
    result = await cluster.transport("host1").run(Command("printf", "%s\\0", *values), timeout=30)
    assert result.exit_status == 0, result.stderr
    assert result.stdout.decode().split("\0")[:-1] == values
    assert sandbox.run_ssh("host1", "test", "-e", marker).returncode == 1
    assert not await asyncio.to_thread(Path(marker).exists)


async def test_stdin_is_fed_to_the_remote_command(cluster: Cluster) -> None:
    data = secrets.token_bytes(2 * 1024 * 1024)  # bigger than any channel window
    result = await cluster.transport("host1").run(Command("wc", "-c"), stdin=data, timeout=60)
    assert result.text().strip() == str(len(data))


async def test_stream_delivers_a_line_before_the_command_ends(
    cluster: Cluster, shared_dir: Path
) -> None:
    gate = shared_dir / "go"
    script = 'echo first; while [ ! -e "$1" ]; do sleep 0.05; done; echo second >&2'
    seen: list[tuple[str, bytes]] = []
    async for item in cluster.transport("host1").stream(
        Command.script(script, str(gate)), timeout=60
    ):
        seen.append(item)
        if item == ("stdout", b"first"):
            gate.touch()  # the command can only end after we saw its first line
    assert seen == [("stdout", b"first"), ("stderr", b"second")]


async def test_stream_delivers_lines_longer_than_any_buffer_in_order(cluster: Cluster) -> None:
    # Past MAX_LINE a line comes in pieces; shorter ones whole; the stream always ends.
    size = MAX_LINE + 300_000
    script = 'head -c "$1" /dev/zero | tr "\\0" a; echo; echo done'
    got: list[bytes] = []
    async with asyncio.timeout(60):  # a hang fails the test instead of stalling the run
        async for kind, line in cluster.transport("host1").stream(
            Command.script(script, size), timeout=60
        ):
            assert kind == "stdout"
            got.append(line)
    assert got[-1] == b"done"
    assert [len(x) for x in got[:-1]] == [MAX_LINE, 300_000]
    assert b"".join(got[:-1]) == b"a" * size


async def test_one_connection_carries_commands_up_to_the_channel_cap(
    sandbox: Sandbox, tmp_path: Path, shared_dir: Path
) -> None:
    host = _host(sandbox, max_channels=2)
    transport = SshTransport(host, user_known_hosts=tmp_path / "none")
    script = 'touch "$1/started.$2"; while [ ! -e "$1/go.$2" ]; do sleep 0.05; done'
    try:
        conn = await transport.connection()
        runs = [
            asyncio.create_task(
                transport.run(Command.script(script, str(shared_dir), i), timeout=60)
            )
            for i in range(3)
        ]
        await _until(lambda: len(_started(shared_dir)) == 2, "two commands to start")
        first = _started(shared_dir)[0].split(".")[1]
        # Both channels are taken and neither command can end yet: the third must wait.
        await asyncio.sleep(0.5)
        assert len(await asyncio.to_thread(_started, shared_dir)) == 2
        (shared_dir / f"go.{first}").touch()
        await _until(lambda: len(_started(shared_dir)) == 3, "the third to start")
        for i in range(3):
            (shared_dir / f"go.{i}").touch()
        results = await asyncio.gather(*runs)
        assert [r.exit_status for r in results] == [0, 0, 0]
        assert await transport.connection() is conn  # one connection served them all
    finally:
        await transport.close()


@pytest.mark.parametrize("how", ["cancel", "timeout", "stream closed"])
async def test_giving_up_on_a_command_kills_it_on_the_host(
    sandbox: Sandbox, cluster: Cluster, how: str
) -> None:
    # A unique duration makes the process recognisable among other tests' sleeps.
    duration = f"1000.{secrets.randbelow(10**9)}"
    cmd = Command("sleep", duration)
    needle = f"sleep {duration}"
    transport = cluster.transport("host1")
    if how == "cancel":
        task = asyncio.create_task(transport.run(cmd, timeout=120))
        await _until(lambda: _running_on_host(sandbox, needle), "the sleep to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    elif how == "timeout":
        with pytest.raises(CommandTimeout, match="host1"):
            await transport.run(cmd, timeout=2)
    else:
        stream = transport.stream(Command.script('echo up; exec sleep "$1"', duration), timeout=120)
        async for item in stream:
            assert item == ("stdout", b"up")
            break
        await stream.aclose()  # type: ignore[attr-defined]
    await _until(lambda: not _running_on_host(sandbox, needle), "the sleep to be killed")


def _owners_of_connections_to(address: str, port: int) -> str:
    ss = subprocess.run(
        ["ss", "-Htnp", "state", "established", "dst", address, "dport", "=", f":{port}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return ss.stdout


async def test_hosts_behind_a_proxy_jump_share_one_bastion_connection(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    bastion = _host(sandbox, "host1")
    behind = [_host(sandbox, name, proxy_jump="host1") for name in ("host2", "host3")]
    async with Cluster([bastion, *behind], user_known_hosts=tmp_path / "none") as cluster:
        results = await asyncio.gather(
            *(cluster.transport(h).run(Command("hostname"), timeout=30) for h in behind)
        )
        assert [r.exit_status for r in results] == [0, 0]
        # The TCP connections to host2 and host3 belong to host1's sshd, not to us.
        for host in behind:
            owners = await asyncio.to_thread(_owners_of_connections_to, host.address, 2222)
            assert "sshd" in owners and f"pid={os.getpid()}," not in owners, owners
        sources = [cluster.tunnel_for(h) for h in behind]
        assert None not in sources
        tunnels = {id(await source()) for source in sources if source is not None}
        assert len(tunnels) == 1


async def test_a_multi_word_docker_prefix_reaches_the_host_split_into_words(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # `env MARK=... docker` stands in for `sudo -n docker`: a prefix of several words.
    host = _host(sandbox, docker="env DROVE_PREFIX_MARK=on docker")
    async with Cluster([host], user_known_hosts=tmp_path / "none") as cluster:
        transport = cluster.transport(host)
        result = await transport.run(Command.docker(host, "version", "--format", "ok"), timeout=30)
        assert (result.exit_status, result.text().strip()) == (0, "ok")
        facts = await probe(transport, host, timeout=30)
        assert facts.docker_version is not None
