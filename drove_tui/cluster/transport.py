"""The one small interface every way of reaching a host implements, and its errors.

A transport runs a `Command` on its host with a timeout that covers everything (connecting,
opening a channel, the command itself), streams output line by line, and feeds stdin. Giving
up on a command (timeout or cancellation) kills it on the host: nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from drove_tui.cluster.command import Command
from drove_tui.errors import HostError

StreamName = Literal["stdout", "stderr"]
OnLine = Callable[[StreamName, bytes], None]
LineQueue = asyncio.Queue[tuple[StreamName, bytes] | None]

log = logging.getLogger(__name__)
# Output is read in chunks of this size; a line longer than MAX_LINE comes out in pieces of
# MAX_LINE bytes (in order) instead of growing without bound or stalling the stream.
READ_CHUNK = 64 * 1024
MAX_LINE = 1024 * 1024
# The most of a unix socket's answer `unix_request` keeps (docker's answers are small).
MAX_ANSWER = 1024 * 1024

# Why a host could not be reached; shown as HostStatus.reason and in messages.
REFUSED = "refused"
TIMEOUT = "timeout"
AUTH_FAILED = "auth failed"
HOST_KEY_UNKNOWN = "host key unknown"
HOST_KEY_CHANGED = "host key changed"
DNS = "name not resolved"
CONNECTION_LOST = "connection lost"
SSH_ERROR = "ssh error"


@dataclass(frozen=True)
class RunResult:
    """What a finished command left: its exit status and all its output."""

    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.exit_status == 0

    def text(self) -> str:
        """stdout decoded as UTF-8 (invalid bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")


class TransportError(HostError):
    """Something went wrong talking to a host; str() names the host and what to do."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(message)
        self.host = host


class Unreachable(TransportError):  # noqa: N818 (the contract's name)
    """The host could not be reached; `reason` is one of the constants above."""

    def __init__(self, host: str, reason: str, message: str) -> None:
        super().__init__(host, message)
        self.reason = reason


class HostKeyUnknown(Unreachable):
    """The host's key is in no known_hosts file (refused unless the policy is accept-new)."""

    def __init__(self, host: str, message: str, fingerprint: str) -> None:
        super().__init__(host, HOST_KEY_UNKNOWN, message)
        self.fingerprint = fingerprint


class HostKeyChanged(Unreachable):
    """The host presented a key other than the one recorded: always refused."""

    def __init__(self, host: str, message: str, fingerprint: str) -> None:
        super().__init__(host, HOST_KEY_CHANGED, message)
        self.fingerprint = fingerprint


class AuthFailed(Unreachable):
    """The host refused every key we offered."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(host, AUTH_FAILED, message)


class SocketRefused(TransportError):  # noqa: N818 (as the others)
    """The host would not connect us to a unix socket (forwarding is off in its sshd, or the
    socket is missing or not the user's to open), or the socket closed before answering.
    Callers fall back to a command."""


class CommandTimeout(TransportError):  # noqa: N818 (the contract's name)
    """A command did not finish in time; it has been killed on the host."""


class Transport(Protocol):
    """How drove-tui runs commands on one host."""

    host: str  # inventory name

    async def run(
        self,
        cmd: Command,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        on_line: OnLine | None = None,
    ) -> RunResult:
        """Run `cmd` to completion; raise CommandTimeout (after killing it) past `timeout`.

        With `on_line`, each output line (without the newline) goes to it as it comes and
        the result carries the exit status only (its stdout and stderr are empty)."""
        ...

    def stream(
        self,
        cmd: Command,
        *,
        timeout: float | None = None,
    ) -> AsyncIterator[tuple[StreamName, bytes]]:
        """Yield ("stdout"|"stderr", line) as they come; closing the iterator kills `cmd`."""
        ...

    async def unix_request(
        self,
        path: str,
        request: bytes,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> bytes:
        """Connect to the unix socket `path` on the host, send `request`, and return what
        comes back until the other end closes (at most MAX_ANSWER bytes). No process runs on
        the host. SocketRefused when the host will not connect us; CommandTimeout past
        `timeout`."""
        ...

    async def close(self) -> None:
        """Release the connection; later calls reconnect."""
        ...


async def read_answer(read: Callable[[int], Awaitable[bytes]]) -> bytes:
    """Everything `read` gives until its end, at most MAX_ANSWER bytes (the rest is left)."""
    answer = bytearray()
    while len(answer) < MAX_ANSWER and (chunk := await read(READ_CHUNK)):
        answer += chunk
    return bytes(answer[:MAX_ANSWER])


async def pump_lines(
    name: StreamName,
    read: Callable[[int], Awaitable[bytes]],
    queue: LineQueue,
    *,
    quiet: tuple[type[BaseException], ...] = (),
) -> None:
    """Put the lines `read` yields on `queue` (without the newline), then None (the end).

    One function for every transport's streams: it reads chunks and splits the lines itself,
    so no line length can stall it (asyncio's readline gives up past 64 KiB); a line over
    MAX_LINE arrives in pieces. The end is always put, also when reading fails (errors in
    `quiet` are the channel going away; anything else is logged), so the consumer never hangs.
    """
    pending = bytearray()
    try:
        while chunk := await read(READ_CHUNK):
            pending += chunk
            start = 0
            while (end := pending.find(b"\n", start)) >= 0:
                await queue.put((name, bytes(pending[start:end])))
                start = end + 1
            del pending[:start]
            while len(pending) >= MAX_LINE:
                await queue.put((name, bytes(pending[:MAX_LINE])))
                del pending[:MAX_LINE]
        if pending:
            await queue.put((name, bytes(pending)))
    except asyncio.CancelledError:
        raise
    except quiet:
        pass
    except Exception:
        log.exception("reading the %s of a command failed", name)
    await queue.put(None)


async def feed_lines(
    stdout: Callable[[int], Awaitable[bytes]],
    stderr: Callable[[int], Awaitable[bytes]],
    on_line: OnLine,
    *,
    quiet: tuple[type[BaseException], ...] = (),
) -> tuple[bytes, bytes]:
    """Hand every line of both outputs to `on_line` until both end (run()'s `on_line`
    mode); returns empty output, so the caller builds its RunResult the same way."""
    lines = merged_lines(stdout, stderr, deadline=None, quiet=quiet)
    async with contextlib.aclosing(lines):
        async for kind, raw in lines:
            on_line(kind, raw)
    return b"", b""


async def merged_lines(
    stdout: Callable[[int], Awaitable[bytes]],
    stderr: Callable[[int], Awaitable[bytes]],
    *,
    deadline: float | None,
    quiet: tuple[type[BaseException], ...] = (),
) -> AsyncGenerator[tuple[StreamName, bytes], None]:
    """The lines of both outputs as they come, until both end; TimeoutError past `deadline`
    (loop time). Use it under `contextlib.aclosing` so that leaving early stops the readers."""
    queue: LineQueue = asyncio.Queue(maxsize=1024)
    readers = [
        asyncio.create_task(pump_lines("stdout", stdout, queue, quiet=quiet)),
        asyncio.create_task(pump_lines("stderr", stderr, queue, quiet=quiet)),
    ]
    try:
        open_readers = len(readers)
        while open_readers:
            # asyncio.timeout() must not span a yield (it would cancel the consumer), so each
            # wait gets the time left until the one deadline instead.
            async with asyncio.timeout_at(deadline):
                item = await queue.get()
            if item is None:
                open_readers -= 1
            else:
                yield item
    finally:
        for reader in readers:
            reader.cancel()
