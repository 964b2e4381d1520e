"""The SSH transport: one asyncssh connection per host, many channels over it.

- One connection per host, opened on first use and reused by every command; a lost connection
  is reopened by the next call, after a short backoff that grows with repeated failures.
- A per-host cap on concurrent channels (`max_channels`, below sshd's MaxSessions of 10);
  if sshd still refuses a channel (other clients share the limit), we wait and retry.
- A global cap on handshakes in flight (they are CPU bound; hundreds at once fail).
- Host keys are checked by `hostkeys.HostKeyCheck`; `known_hosts` is never None.
- Every command runs in a process group of its own whose id it reports first on stderr, so
  that giving up on it can kill the whole group over a fresh channel: closing the channel
  alone leaves the remote process running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import asyncssh

from drove_tui.cluster import hostkeys
from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import (
    CONNECTION_LOST,
    DNS,
    REFUSED,
    SSH_ERROR,
    TIMEOUT,
    AuthFailed,
    CommandTimeout,
    OnLine,
    RunResult,
    SocketReader,
    SocketRefused,
    SocketWriter,
    Stdin,
    StreamName,
    TransportError,
    Unreachable,
    feed_lines,
    feed_stdin,
    merged_lines,
    socket_request,
    with_feed,
)

if TYPE_CHECKING:
    from drove_tui.models.inventory import HostConfig

# The wrapper every command runs in: the leader of a process group of its own reports its
# pid, then evaluates the quoted command line passed as "$1". sshd makes every session a new
# session (setsid) and the login shell execs this sh, so it leads its group already and no
# setsid process is started; where it does not (another SSH server, a login shell that
# forks, no /proc), setsid(1) makes the group.
_LEADER = 'echo "@drove-pgid $$" >&2; eval "$1"'
_WRAPPER = (
    "g=; { read -r _ _ _ _ g _ </proc/$$/stat; } 2>/dev/null; "
    f'[ "$g" = "$$" ] || exec setsid -w sh -c \'{_LEADER}\' drove "$1"; {_LEADER}'
)
_MARKER = re.compile(rb"^@drove-pgid (\d+)\n?$")
# TERM the group, give it 2 s, then KILL it. dash wants `kill -s SIG -- -PGID`, busybox
# refuses the `--`, so k() tries both. live() asks /proc whether any member of the group is
# still running: a dead child waiting for a slow init to reap it (a zombie) counts as gone,
# else every abandoned command would hold its caller (and `close()`) for the full 2 s.
_KILL_SCRIPT = (
    'k() { kill -s "$1" -- "-$2" 2>/dev/null || kill -s "$1" "-$2" 2>/dev/null; }; '
    "live() { for f in /proc/[0-9]*/stat; do "
    'read -r _ _ s _ g _ < "$f" 2>/dev/null || continue; '
    '[ "$g" = "$1" ] && [ "$s" != Z ] && return 0; done; return 1; }; '
    'k TERM "$1" || exit 0; i=0; while [ $i -lt 40 ]; do '
    'live "$1" || exit 0; sleep 0.05; i=$((i+1)); done; k KILL "$1"; exit 0'
)
KILL_TIMEOUT_S = 10.0
# What asyncssh raises when the connection dies under a running command.
_CONNECTION_GONE = (asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError)
CHANNEL_RETRY_MAX_S = 1.0
CHANNEL_RETRY_TOTAL_S = 30.0
# How long a socket sshd would not connect is refused without asking again.
SOCKET_RETRY_S = 60.0

ConnectionSource = Callable[[], Awaitable[asyncssh.SSHClientConnection]]
T = TypeVar("T")
# AES-GCM first, then asyncssh's own defaults: with AES in hardware it costs this process
# about 9 us of CPU per packet against 51 us for asyncssh's ChaCha20-Poly1305, which builds
# three cipher objects per packet. The host's sshd still picks among what it allows. ("^"
# puts these before the defaults; naming only AES-GCM, which every cryptography build has.)
CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


def wrap(cmd: Command) -> Command:
    """`cmd` run in a process group of its own that reports its id on stderr."""
    return Command("exec", "sh", "-c", _WRAPPER, "drove", cmd.line())


class _Client(asyncssh.SSHClient):
    def __init__(self, check: hostkeys.HostKeyCheck, on_lost: Callable[[_Client], None]) -> None:
        self._check = check
        self._on_lost = on_lost

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._check.validate(key)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(self)


class SshTransport:
    """Runs commands on one host over SSH."""

    def __init__(
        self,
        host: HostConfig,
        *,
        handshakes: asyncio.Semaphore | None = None,
        bastion: ConnectionSource | None = None,
        user_known_hosts: Path | None = None,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.host = host.name
        self.config = host
        self._handshakes = handshakes or asyncio.Semaphore(32)
        self._bastion = bastion
        self._user_known_hosts = user_known_hosts
        self._max_backoff_s = max_backoff_s
        self._channels = asyncio.Semaphore(host.max_channels)
        self._lock = asyncio.Lock()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._client: _Client | None = None
        self._failures = 0
        self._clock = time.monotonic  # a seam for tests of the backoff
        self._retry_at = 0.0
        self._last_error: TransportError | None = None
        # Kills of abandoned commands run in the background so that a caller who gives up
        # on a host that stopped answering is not held up by it; close() waits for them.
        self._abandoning: set[asyncio.Task[None]] = set()
        # Sockets sshd would not connect: path -> until when they are refused without asking,
        # and what the host said.
        self._refused: dict[str, tuple[float, str]] = {}

    @property
    def where(self) -> str:
        """`name (address:port)`, how messages name this host."""
        return f"{self.host} ({self.config.address}:{self.config.port})"

    # --- connection -------------------------------------------------------------------------

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The host's connection, opened (or reopened after a backoff) on demand."""
        async with self._lock:
            if self._conn is not None:
                return self._conn
            if self._last_error is not None and self._clock() < self._retry_at:
                raise self._last_error
            try:
                conn = await self._open()
            except TransportError as err:
                self._failures += 1
                backoff = min(self._max_backoff_s, 0.25 * 2 ** (self._failures - 1))
                self._retry_at = self._clock() + backoff
                self._last_error = err
                raise
            self._failures = 0
            self._last_error = None
            self._conn = conn
            return conn

    async def _open(self) -> asyncssh.SSHClientConnection:
        host = self.config
        keys = client_keys(host)
        files = hostkeys.known_hosts_files(host, self._user_known_hosts)
        check = hostkeys.HostKeyCheck(host, files)
        tunnel: Any = () if self._bastion is None else await self._bastion()
        options: dict[str, Any] = {
            "port": host.port,
            "username": host.user,
            "known_hosts": check.known,
            "host_key_alias": None,
            "config": None,  # the inventory loader already merged ~/.ssh/config
            "tunnel": tunnel,
            "connect_timeout": host.connect_timeout,
            "login_timeout": host.connect_timeout,
            "keepalive_interval": host.keepalive_interval,
            "keepalive_count_max": host.keepalive_count_max,
            "encryption_algs": CIPHERS,
        }
        options.update(keys)
        client = _Client(check, self._lost)
        async with self._handshakes:
            try:
                conn, _ = await asyncssh.create_connection(lambda: client, host.address, **options)
            except asyncssh.HostKeyNotVerifiable as err:
                if check.refusal is not None:
                    raise check.refusal from None
                raise self._unreachable(SSH_ERROR, f"host key not verifiable: {err}") from None
            except asyncssh.PermissionDenied:
                user = host.user or "the local user"
                raise AuthFailed(
                    self.host,
                    f"{self.where}: authentication failed for {user}; check the user and "
                    "identity_file in the inventory, or load the key into ssh-agent",
                ) from None
            except ConnectionRefusedError:
                raise self._unreachable(
                    REFUSED, "connection refused; check that sshd runs there on that port"
                ) from None
            except TimeoutError:
                raise self._unreachable(
                    TIMEOUT,
                    f"no answer within {host.connect_timeout:g} s; check the address and "
                    "any firewall on the way",
                ) from None
            except socket.gaierror as err:
                raise self._unreachable(DNS, f"cannot resolve the address: {err}") from None
            except (OSError, asyncssh.Error) as err:
                raise self._unreachable(SSH_ERROR, f"cannot connect: {err}") from None
        self._client = client
        return conn

    def _lost(self, client: _Client) -> None:
        # Only forget the connection this client belongs to (a newer one may exist).
        if client is self._client:
            self._conn = None
            self._client = None

    def _unreachable(self, reason: str, detail: str) -> Unreachable:
        return Unreachable(self.host, reason, f"{self.where}: {detail}")

    async def close(self) -> None:
        """Finish killing abandoned commands, then close; the next call opens a new one."""
        if self._abandoning:
            await asyncio.gather(*self._abandoning, return_exceptions=True)
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self._client = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    # --- channels ---------------------------------------------------------------------------

    async def _process(self, line: str) -> asyncssh.SSHClientProcess[bytes]:
        """Open a channel running `line`, retrying while sshd refuses new channels."""
        delay = 0.05
        give_up = time.monotonic() + CHANNEL_RETRY_TOTAL_S
        while True:
            conn = await self.connection()
            try:
                return await self._opened(conn, conn.create_process(line, encoding=None))
            except asyncssh.ChannelOpenError as err:
                if self._conn is not conn:
                    # The connection died while we waited for the channel (keepalive gave
                    # up on a host that stopped answering): say so rather than reconnect.
                    raise self._unreachable(
                        CONNECTION_LOST, f"connection lost (no answer to keepalives): {err}"
                    ) from None
                # MaxSessions reached (other clients share it): wait for a channel to close.
                if time.monotonic() > give_up:
                    raise self._unreachable(SSH_ERROR, f"sshd refuses channels: {err}") from None
                await asyncio.sleep(delay)
                delay = min(CHANNEL_RETRY_MAX_S, delay * 2)

    async def _opened(self, conn: asyncssh.SSHClientConnection, opening: Awaitable[T]) -> T:
        """Await a channel's opening on `conn`; the connection dying meanwhile is a lost
        connection (Unreachable). A refused channel (ChannelOpenError) is the caller's."""
        try:
            return await opening
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError) as err:
            await self._forget(err)
        except (AssertionError, AttributeError):
            # asyncssh finishing a channel open on a connection that closed meanwhile (its
            # channel's connection is None by then): a lost connection, not a bug of ours. On
            # a live connection the error is real and goes up.
            if self._conn is conn and not conn.is_closed():
                raise
            await self._forget("it closed while a channel was opening")

    async def _forget(self, why: BaseException | str) -> NoReturn:
        await self._drop()
        raise self._unreachable(CONNECTION_LOST, f"connection lost: {why}") from None

    async def _pgid(self, proc: asyncssh.SSHClientProcess[bytes]) -> tuple[int | None, bytes]:
        """Read the wrapper's marker; returns (pgid, the line if it was not the marker)."""
        first: bytes = await proc.stderr.readline()
        match = _MARKER.match(first)
        return (int(match.group(1)), b"") if match else (None, first)

    async def _kill(self, pgid: int | None) -> None:
        """Kill an abandoned command's process group over a fresh channel (best effort)."""
        if pgid is None:
            return
        line = Command.script(_KILL_SCRIPT, pgid).line()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(KILL_TIMEOUT_S):
                proc = await self._process(line)
                await proc.wait()

    # --- the Transport interface ------------------------------------------------------------

    async def run(
        self,
        cmd: Command,
        *,
        stdin: Stdin = None,
        timeout: float | None = None,  # noqa: ASYNC109
        on_line: OnLine | None = None,
    ) -> RunResult:
        """Run `cmd` to completion; past `timeout` (which covers connecting) kill it and raise.
        With `on_line`, output lines go to it as they come (see Transport.run)."""
        state: dict[str, Any] = {"pgid": None, "proc": None}
        try:
            async with asyncio.timeout(timeout):
                return await self._run(cmd, stdin, state, on_line)
        except TimeoutError:
            self._give_up(state)
            if state["proc"] is None:
                raise self._unreachable(
                    TIMEOUT, f"not reached within {timeout:g} s; check the host and network"
                ) from None
            raise CommandTimeout(
                self.host, f"{self.where}: `{cmd}` did not finish within {timeout:g} s"
            ) from None
        except BaseException:
            self._give_up(state)
            raise

    async def _run(
        self, cmd: Command, stdin: Stdin, state: dict[str, Any], on_line: OnLine | None
    ) -> RunResult:
        async with self._channels:
            proc = await self._process(wrap(cmd).line())
            state["proc"] = proc
            try:
                pgid, head = await self._pgid(proc)
                state["pgid"] = pgid

                if on_line is None:
                    read: Any = asyncio.gather(proc.stdout.read(), proc.stderr.read())
                else:
                    if head:
                        on_line("stderr", head.rstrip(b"\n"))
                        head = b""
                    read = feed_lines(
                        proc.stdout.read, proc.stderr.read, on_line, quiet=_CONNECTION_GONE
                    )

                async def read_to_the_end() -> tuple[bytes, bytes]:
                    output: tuple[bytes, bytes] = await read
                    await proc.wait_closed()
                    return output

                feed = feed_stdin(stdin, proc.stdin.write, proc.stdin.drain, proc.stdin.write_eof)
                out, err = await with_feed(read_to_the_end(), feed)
                if (
                    on_line is not None
                    and proc.exit_status is None
                    and proc.exit_signal is None
                    and self._conn is None
                ):
                    # The readers end quietly when the connection goes: say it as run() does.
                    raise asyncssh.ConnectionLost("the connection closed under the command")
            except _CONNECTION_GONE as lost:
                state["proc"] = None  # no way left to reach it
                await self._forget(lost)
            state["proc"] = None  # finished: nothing to kill
            return RunResult(_exit_status(proc), out, head + err)

    def _give_up(self, state: dict[str, Any]) -> None:
        """Kill the command in `state` on the host, in the background."""
        if state["proc"] is None:
            return
        task = asyncio.create_task(self._abandon(dict(state)))
        self._abandoning.add(task)
        task.add_done_callback(self._abandoning.discard)

    async def _abandon(self, state: dict[str, Any]) -> None:
        proc: asyncssh.SSHClientProcess[bytes] | None = state["proc"]
        if proc is None:
            return
        pgid = state["pgid"]
        if pgid is None:
            # The marker is the wrapper's first output: give it a moment before giving up.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    pgid, _ = await self._pgid(proc)
        proc.close()
        await self._kill(pgid)

    async def unix_request(
        self,
        path: str,
        request: bytes,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> bytes:
        """Send `request` to the unix socket `path` on the host and return the answer, read
        until the socket closes (see Transport.unix_request and `unix_stream`)."""
        return await socket_request(self, self.where, path, request, timeout=timeout)

    def socket_refused(self, path: str) -> bool:
        """True while sshd's refusal of `path` is remembered (see unix_stream)."""
        refused = self._refused.get(path)
        return refused is not None and self._clock() < refused[0]

    @asynccontextmanager
    async def unix_stream(
        self,
        path: str,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncIterator[tuple[SocketReader, SocketWriter]]:
        """A connection to the unix socket `path` on the host over the connection (sshd's
        direct-streamlocal forwarding: sshd connects as the login user, no process runs); see
        Transport.unix_stream. A socket sshd would not connect is refused here for
        SOCKET_RETRY_S without asking again: OpenSSH says "open failed" alike for forwarding
        it forbids and for a socket that is missing (docker restarting), so both wait that
        long; the command line serves meanwhile."""
        if self.socket_refused(path):
            # A new one each time: a raise grows the exception's traceback.
            raise SocketRefused(self.host, self._refused[path][1])
        try:
            async with asyncio.timeout(timeout):
                conn = await self.connection()
                try:
                    reader, writer = await self._opened(conn, conn.open_unix_connection(path))
                except asyncssh.ChannelOpenError as err:
                    if self._conn is not conn:
                        await self._forget(err)
                    said = f"{self.where}: cannot connect to {path}: {err.reason}"
                    self._refused[path] = (self._clock() + SOCKET_RETRY_S, said)
                    raise SocketRefused(self.host, said) from None
        except TimeoutError:
            raise CommandTimeout(
                self.host, f"{self.where}: {path} did not answer within {timeout:g} s"
            ) from None

        def failure(err: BaseException | None) -> TransportError | None:
            if self._conn is not conn or conn.is_closed():
                if self._conn is conn:  # (closed: asyncssh's _lost is only late to say it)
                    self._conn = self._client = None
                why = err or "it closed under a socket"
                return self._unreachable(CONNECTION_LOST, f"connection lost: {why}")
            if err is None:
                return None
            # Only this channel went (the socket's server closed it): not the host.
            return SocketRefused(self.host, f"{self.where}: {path} closed the connection: {err!r}")

        errors = (asyncssh.Error, OSError)
        try:
            yield SocketReader(reader, failure, errors), SocketWriter(writer, failure, errors)
        finally:
            writer.close()

    async def stream(
        self,
        cmd: Command,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> AsyncIterator[tuple[StreamName, bytes]]:
        """Yield output lines (without the newline); closing the iterator kills `cmd`."""
        # asyncio.timeout() must not span a yield (it would cancel the consumer), so each
        # await gets the time left until one deadline instead.
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        state: dict[str, Any] = {"pgid": None, "proc": None}
        try:
            async with asyncio.timeout_at(deadline):
                await self._channels.acquire()
            try:
                async with asyncio.timeout_at(deadline):
                    proc = await self._process(wrap(cmd).line())
                    state["proc"] = proc
                    try:
                        pgid, head = await self._pgid(proc)
                        state["pgid"] = pgid
                        proc.stdin.write_eof()
                    except _CONNECTION_GONE as lost:
                        state["proc"] = None  # no way left to reach it
                        await self._forget(lost)  # raises Unreachable, as run() does
                if head:
                    yield "stderr", head.rstrip(b"\n")
                lines = merged_lines(
                    proc.stdout.read,
                    proc.stderr.read,
                    deadline=deadline,
                    quiet=(asyncssh.Error, OSError),
                )
                async with contextlib.aclosing(lines):
                    async for item in lines:
                        yield item
                async with asyncio.timeout_at(deadline):
                    await proc.wait_closed()
                state["proc"] = None
            finally:
                self._give_up(state)
                self._channels.release()
        except TimeoutError:
            raise CommandTimeout(
                self.host, f"{self.where}: `{cmd}` did not finish within {timeout:g} s"
            ) from None


def client_keys(host: HostConfig) -> dict[str, Any]:
    """asyncssh options for the host's identity_file (none given: agent and default keys).

    A passphrase-protected key is left to ssh-agent when one runs (as OpenSSH does); we never
    ask for a passphrase.
    """
    if not host.identity_file:
        return {}
    path = os.path.expanduser(host.identity_file)
    where = f"{host.name} ({host.address}:{host.port})"
    try:
        key = asyncssh.read_private_key(path)
    except OSError as err:
        raise AuthFailed(
            host.name,
            f"{where}: identity_file {path} cannot be read ({err.strerror}); fix identity_file "
            "in the inventory",
        ) from None
    except asyncssh.KeyImportError as err:
        if "assphrase" in str(err) and os.environ.get("SSH_AUTH_SOCK"):
            return {}  # encrypted: ssh-agent holds it (or says no, as auth failed)
        hint = (
            f"load it into ssh-agent (ssh-add {path})"
            if "assphrase" in str(err)
            else ("point identity_file at a private key")
        )
        raise AuthFailed(host.name, f"{where}: identity_file {path}: {err}; {hint}") from None
    return {"client_keys": [key]}


def _exit_status(proc: asyncssh.SSHClientProcess[bytes]) -> int:
    if proc.exit_status is not None and proc.exit_status >= 0:
        return int(proc.exit_status)
    return 255  # killed by a signal, or the channel closed without a status
