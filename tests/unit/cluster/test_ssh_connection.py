"""SSH transport rules that need no real host: verification always on, handshake cap,
waiting out refused channels, backoff after failed connects, jump-host parsing."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from drove_tui.cluster import ssh
from drove_tui.cluster.pool import Cluster, _jump_host
from drove_tui.cluster.ssh import SshTransport, client_keys
from drove_tui.cluster.transport import AuthFailed, SocketRefused, Unreachable
from drove_tui.models.inventory import HostConfig


class Recorder:
    """Stands in for asyncssh.create_connection; holds every call until `release` is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.inside = 0
        self.most_inside = 0
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, factory: Any, address: str, **options: Any) -> tuple[Any, Any]:
        self.calls.append(options)
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        try:
            await self.release.wait()
        finally:
            self.inside -= 1
        return object(), None


def _host(name: str = "h1", **extra: Any) -> HostConfig:
    return HostConfig(name=name, address=f"{name}.invalid", **extra)


async def test_known_hosts_is_always_a_loaded_set_never_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recorder = Recorder()
    recorder.release.set()
    monkeypatch.setattr(asyncssh, "create_connection", recorder)
    await SshTransport(_host(), user_known_hosts=tmp_path / "missing").connection()
    options = recorder.calls[0]
    assert isinstance(options["known_hosts"], asyncssh.SSHKnownHosts)
    assert options["config"] is None  # ~/.ssh/config cannot switch verification off


async def test_handshakes_beyond_the_global_cap_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(asyncssh, "create_connection", recorder)
    cluster = Cluster(
        [_host(f"h{i}") for i in range(5)], handshakes=2, user_known_hosts=tmp_path / "none"
    )
    connecting = [
        asyncio.create_task(cluster.transport(f"h{i}").connection())  # type: ignore[attr-defined]
        for i in range(5)
    ]
    while len(recorder.calls) < 2:
        await recorder.entered.wait()
        recorder.entered.clear()
    for _ in range(20):  # let every other task run as far as it can
        await asyncio.sleep(0)
    assert len(recorder.calls) == 2
    recorder.release.set()
    await asyncio.gather(*connecting)
    assert len(recorder.calls) == 5 and recorder.most_inside == 2


class RefusingConnection:
    """A connection whose sshd refuses the first `refusals` channels (MaxSessions)."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.attempts = 0

    async def create_process(self, line: str, encoding: None = None) -> str:
        self.attempts += 1
        if self.attempts <= self.refusals:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "max")
        return "process"


async def test_a_refused_channel_is_retried_until_one_frees_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ssh, "CHANNEL_RETRY_MAX_S", 0.01)
    transport = SshTransport(_host())
    conn = RefusingConnection(refusals=3)
    transport._conn = conn  # type: ignore[assignment]
    process: Any = await transport._process("true")
    assert process == "process"
    assert conn.attempts == 4


class ClosingConnection:
    """asyncssh's channel open that finishes after its connection closed."""

    def __init__(self, closed: bool) -> None:
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed

    async def create_process(self, line: str, encoding: None = None) -> str:
        raise AssertionError  # asyncssh: `assert self._conn is not None` in get_connection

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        pass


async def test_a_channel_opened_as_its_connection_closes_is_a_lost_connection() -> None:
    transport = SshTransport(_host())
    transport._conn = ClosingConnection(closed=True)  # type: ignore[assignment]
    with pytest.raises(Unreachable, match="connection lost"):
        await transport._process("true")
    assert transport._conn is None  # the next command connects again


async def test_the_same_error_on_a_live_connection_is_not_hidden() -> None:
    transport = SshTransport(_host())
    transport._conn = ClosingConnection(closed=False)  # type: ignore[assignment]
    with pytest.raises(AssertionError):
        await transport._process("true")


class NoForwarding:
    """A connection whose sshd will not connect a unix socket: OpenSSH says "open failed"
    (OPEN_CONNECT_FAILED) alike when forwarding is off and when the socket is missing."""

    def __init__(self, code: int = asyncssh.OPEN_CONNECT_FAILED) -> None:
        self.asked = 0
        self.code = code

    def is_closed(self) -> bool:
        return False

    async def open_unix_connection(self, path: str) -> Any:
        self.asked += 1
        raise asyncssh.ChannelOpenError(self.code, "open failed")  # what OpenSSH says


async def test_a_refused_socket_is_refused_again_without_asking_until_its_time() -> None:
    transport = SshTransport(_host())
    conn = NoForwarding()
    transport._conn = conn  # type: ignore[assignment]
    now = [1000.0]
    transport._clock = lambda: now[0]
    for _ in range(3):
        with pytest.raises(SocketRefused, match=r"cannot connect to /d\.sock: open failed"):
            await transport.unix_request("/d.sock", b"x", timeout=5)
    assert conn.asked == 1
    with pytest.raises(SocketRefused):  # another socket is another question
        await transport.unix_request("/other.sock", b"x", timeout=5)
    assert conn.asked == 2
    now[0] += ssh.SOCKET_RETRY_S
    with pytest.raises(SocketRefused):
        await transport.unix_request("/d.sock", b"x", timeout=5)
    assert conn.asked == 3
    assert transport._conn is conn  # the connection itself is fine


class ClosingSocket(NoForwarding):
    """A socket that takes the connection, then closes before answering."""

    async def open_unix_connection(self, path: str) -> Any:
        self.asked += 1

        class Writer:
            def write(self, data: bytes) -> None:
                raise BrokenPipeError

            def close(self) -> None:
                pass

        return object(), Writer()


async def test_a_socket_that_closes_on_a_live_connection_costs_the_host_nothing() -> None:
    transport = SshTransport(_host())
    conn = ClosingSocket()
    transport._conn = conn  # type: ignore[assignment]
    with pytest.raises(SocketRefused, match="closed the connection"):
        await transport.unix_request("/d.sock", b"x", timeout=5)
    assert transport._conn is conn  # every other channel of the host goes on


async def test_a_failed_connect_is_not_retried_before_its_backoff(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    attempts = 0

    async def refuse(factory: Any, address: str, **options: Any) -> Any:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError

    monkeypatch.setattr(asyncssh, "create_connection", refuse)
    transport = SshTransport(_host(), user_known_hosts=tmp_path / "none")
    transport._clock = lambda: 1000.0  # time stands still: the backoff never runs out
    for _ in range(3):
        with pytest.raises(Unreachable, match="connection refused") as refused:
            await transport.connection()
        assert refused.value.reason == "refused"
    assert attempts == 1  # the backoff answered the second and third calls


def test_a_jump_host_spec_inherits_the_targets_credentials() -> None:
    target = _host("t", user="drove", identity_file="/k", known_hosts=["/kh"], port=2222)
    jump = _jump_host("ops@bastion.example.com:2200", target)
    assert (jump.address, jump.port, jump.user) == ("bastion.example.com", 2200, "ops")
    assert (jump.identity_file, jump.known_hosts, jump.proxy_jump) == ("/k", ["/kh"], None)
    assert _jump_host("bastion", target).port == 22
    assert _jump_host("bastion", target).user == "drove"


def test_an_unreadable_identity_file_is_an_auth_failure_naming_the_file(tmp_path: Path) -> None:
    host = _host(identity_file=str(tmp_path / "missing_key"))
    with pytest.raises(AuthFailed, match="missing_key cannot be read"):
        client_keys(host)


def test_a_passphrase_key_goes_to_ssh_agent_or_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "id_locked"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(key)], check=True
    )
    host = _host(identity_file=str(key))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(AuthFailed, match="ssh-add"):
        client_keys(host)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    assert client_keys(host) == {}  # asyncssh then asks the agent


class StreamingSocket(NoForwarding):
    """A socket sshd connects: reading gives `chunks`, then `end` (an error to raise, or
    b"" for its end); `lose` closes the connection just before the end."""

    def __init__(self, *chunks: bytes, end: BaseException | None = None, lose: bool = False):
        super().__init__()
        self.chunks = list(chunks)
        self.end = end
        self.lose = lose
        self.closed = False
        self.sent: list[bytes] = []
        self.writer_closed = False

    def is_closed(self) -> bool:
        return self.closed

    async def open_unix_connection(self, path: str) -> Any:
        self.asked += 1
        sock = self

        class Reader:
            async def read(self, n: int) -> bytes:
                if sock.chunks:
                    return sock.chunks.pop(0)
                sock.closed = sock.closed or sock.lose
                if sock.end is not None:
                    raise sock.end
                return b""

        class Writer:
            def write(self, data: bytes) -> None:
                sock.sent.append(data)

            def close(self) -> None:
                sock.writer_closed = True

        return Reader(), Writer()


async def test_a_unix_stream_reads_to_its_end_and_closes_on_leaving() -> None:
    transport = SshTransport(_host())
    conn = StreamingSocket(b"ab", b"c")
    transport._conn = conn  # type: ignore[assignment]
    async with transport.unix_stream("/d.sock", timeout=5) as (reader, writer):
        writer.write(b"hello")
        got = [await reader.read(10) for _ in range(3)]
    assert (got, conn.sent, conn.writer_closed) == ([b"ab", b"c", b""], [b"hello"], True)


async def test_a_refused_socket_refuses_streams_too_without_asking_again() -> None:
    transport = SshTransport(_host())
    conn = NoForwarding()
    transport._conn = conn  # type: ignore[assignment]
    with pytest.raises(SocketRefused, match=r"cannot connect to /d\.sock: open failed"):
        await transport.unix_request("/d.sock", b"x", timeout=5)
    for _ in range(2):
        with pytest.raises(SocketRefused, match=r"cannot connect to /d\.sock: open failed"):
            async with transport.unix_stream("/d.sock", timeout=5):
                pass
    assert conn.asked == 1
    assert transport._conn is conn


@pytest.mark.parametrize(
    "error", [ConnectionResetError(), asyncssh.ConnectionLost("channel"), BrokenPipeError()]
)
async def test_a_stream_failing_on_a_live_connection_is_the_sockets_alone(
    error: BaseException,
) -> None:
    transport = SshTransport(_host())
    conn = StreamingSocket(b"head", end=error)
    transport._conn = conn  # type: ignore[assignment]
    async with transport.unix_stream("/d.sock", timeout=5) as (reader, _):
        assert await reader.read(10) == b"head"
        with pytest.raises(SocketRefused, match=r"/d\.sock closed the connection"):
            await reader.read(10)
    assert transport._conn is conn  # the host's other channels go on
    assert "/d.sock" not in transport._refused  # and the socket may be asked again at once


@pytest.mark.parametrize("end", [asyncssh.ConnectionLost("gone"), None])
async def test_a_stream_whose_connection_went_is_a_lost_host(end: BaseException | None) -> None:
    transport = SshTransport(_host())
    conn = StreamingSocket(b"head", end=end, lose=True)
    transport._conn = conn  # type: ignore[assignment]
    async with transport.unix_stream("/d.sock", timeout=5) as (reader, _):
        assert await reader.read(10) == b"head"
        with pytest.raises(Unreachable, match="connection lost") as lost:
            await reader.read(10)  # (asyncssh may say the loss as a plain end)
    assert lost.value.reason == "connection lost"
    assert transport._conn is None  # the next call connects again
