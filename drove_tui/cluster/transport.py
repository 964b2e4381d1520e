"""The one small interface every way of reaching a host implements, and its errors.

A transport runs a `Command` on its host with a timeout that covers everything (connecting,
opening a channel, the command itself), streams output line by line, and feeds stdin (all at
once, or piece by piece through a `StdinFeed`). Giving up on a command (timeout or
cancellation) kills it on the host: nothing is left running. It also connects to unix sockets
on the host (`unix_stream`, `unix_request`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from drove_tui.cluster.command import Command
from drove_tui.errors import HostError

StreamName = Literal["stdout", "stderr"]
OnLine = Callable[[StreamName, bytes], None]
LineQueue = asyncio.Queue[tuple[StreamName, bytes] | None]
# What run() feeds a command: bytes, or chunks as they come (a StdinFeed); None: nothing.
Stdin = bytes | AsyncIterable[bytes] | None
T = TypeVar("T")

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


class StdinFeed:
    """stdin for `run` given piece by piece: `send` queues data, `close` ends it (EOF after
    what was sent). Iterating it (run does) waits for each piece."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    def send(self, data: bytes) -> None:
        """Queue `data` for the command; ValueError once closed."""
        if self.closed:
            raise ValueError("send() on a closed StdinFeed")
        if data:
            self._queue.put_nowait(bytes(data))

    def close(self) -> None:
        """End the input (the command reads EOF after what was sent); again: nothing."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    def __aiter__(self) -> StdinFeed:
        return self

    async def __anext__(self) -> bytes:
        data = await self._queue.get()
        if data is None:
            self._queue.put_nowait(None)  # ended for good
            raise StopAsyncIteration
        return data


# What a socket's failure means for its transport: given the error (None: the socket ended),
# the TransportError to raise, or None (a plain end).
SocketFailure = Callable[[BaseException | None], TransportError | None]


class _RawReader(Protocol):
    async def read(self, n: int) -> bytes: ...


class _RawWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def write_eof(self) -> None: ...
    def close(self) -> None: ...
    async def drain(self) -> None: ...


class SocketReader:
    """The reading end of a `unix_stream`: `read(n)` gives up to n bytes, b"" at the end."""

    def __init__(
        self, reader: _RawReader, failure: SocketFailure, errors: tuple[type[BaseException], ...]
    ) -> None:
        self._reader = reader
        self._failure = failure
        self._errors = errors

    async def read(self, n: int = READ_CHUNK) -> bytes:
        """Up to `n` bytes; b"" at the end; TransportError when the socket fails."""
        try:
            data = await self._reader.read(n)
        except self._errors as err:
            raise (self._failure(err) or err) from None
        if not data and (failed := self._failure(None)) is not None:
            raise failed  # the end came from a lost connection
        return data


class SocketWriter:
    """The writing end of a `unix_stream`; its errors come out as TransportError."""

    def __init__(
        self, writer: _RawWriter, failure: SocketFailure, errors: tuple[type[BaseException], ...]
    ) -> None:
        self._writer = writer
        self._failure = failure
        self._errors = errors

    def write(self, data: bytes) -> None:
        """Queue `data` for the socket."""
        try:
            self._writer.write(data)
        except self._errors as err:
            raise (self._failure(err) or err) from None

    async def drain(self) -> None:
        """Wait until what was written has gone out (or mostly)."""
        try:
            await self._writer.drain()
        except self._errors as err:
            raise (self._failure(err) or err) from None

    def write_eof(self) -> None:
        """Say that nothing more will be written (the socket can still answer)."""
        try:
            self._writer.write_eof()
        except self._errors as err:
            raise (self._failure(err) or err) from None

    def close(self) -> None:
        """Close the connection (errors ignored)."""
        with contextlib.suppress(Exception):
            self._writer.close()


class Transport(Protocol):
    """How drove-tui runs commands on one host."""

    host: str  # inventory name

    async def run(
        self,
        cmd: Command,
        *,
        stdin: Stdin = None,
        timeout: float | None = None,  # noqa: ASYNC109
        on_line: OnLine | None = None,
    ) -> RunResult:
        """Run `cmd` to completion; raise CommandTimeout (after killing it) past `timeout`.

        `stdin` bytes are written at once; an iterable's chunks are written (and drained) as
        they come while output is read, and EOF follows its end. A command that ends first
        stops the feeding; a command that stops reading is no error.
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

    def socket_refused(self, path: str) -> bool:
        """True while the host's refusal of the socket `path` is remembered (unix_stream would
        raise SocketRefused at once): a caller can take the command line straight away."""
        ...

    def unix_stream(
        self,
        path: str,
        *,
        timeout: float,
    ) -> AbstractAsyncContextManager[tuple[SocketReader, SocketWriter]]:
        """Connect to the unix socket `path` on the host and yield its (reader, writer); the
        connection is closed on leaving. `timeout` covers the opening only. SocketRefused when
        the host will not connect us, CommandTimeout past `timeout`; errors reading or writing
        come out as TransportError (SocketRefused for the socket alone, Unreachable when the
        host's connection went with it)."""
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


async def socket_request(
    transport: Transport,
    where: str,
    path: str,
    request: bytes,
    *,
    timeout: float,  # noqa: ASYNC109
) -> bytes:
    """Every transport's `unix_request`, over its `unix_stream`: send `request`, read the
    answer to its end; CommandTimeout past `timeout` (`where` names the host in it)."""
    try:
        async with asyncio.timeout(timeout):
            async with transport.unix_stream(path, timeout=timeout) as (reader, writer):
                writer.write(request)
                return await read_answer(reader.read)
    except TimeoutError:
        raise CommandTimeout(
            transport.host, f"{where}: {path} did not answer within {timeout:g} s"
        ) from None


async def feed_stdin(
    stdin: Stdin,
    write: Callable[[bytes], None],
    drain: Callable[[], Awaitable[None]],
    end: Callable[[], None],
) -> None:
    """Write `stdin` (an iterable's chunks as they come, each drained), then `end` it (EOF).
    A command that no longer takes input (a broken pipe) ends the feeding quietly."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if isinstance(stdin, bytes):
            if stdin:
                write(stdin)
                await drain()
        elif stdin is not None:
            async for chunk in stdin:
                if chunk:
                    write(chunk)
                    await drain()
        end()


async def with_feed(work: Awaitable[T], feed: Awaitable[None]) -> T:
    """`work` (reading a command's output to its exit) with `feed` running beside it. A feed's
    error goes up at once; a feed still waiting when `work` ends is cancelled (the command
    is gone). Leaving early cancels both."""
    working = asyncio.ensure_future(work)
    feeding = asyncio.ensure_future(feed)
    try:
        done, _ = await asyncio.wait((working, feeding), return_when=asyncio.FIRST_COMPLETED)
        if feeding in done:
            feeding.result()  # its error, if any
        return await working
    finally:
        for task in (working, feeding):
            task.cancel()
        await asyncio.gather(working, feeding, return_exceptions=True)


def cut_lines(pending: bytearray, chunk: bytes) -> list[bytes]:
    """Add `chunk` to `pending` and take out its complete lines (without the newline), and
    pieces of MAX_LINE bytes of a line growing longer; the rest stays in `pending`."""
    pending += chunk
    lines = []
    start = 0
    while (end := pending.find(b"\n", start)) >= 0:
        lines.append(bytes(pending[start:end]))
        start = end + 1
    del pending[:start]
    while len(pending) >= MAX_LINE:
        lines.append(bytes(pending[:MAX_LINE]))
        del pending[:MAX_LINE]
    return lines


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
            for line in cut_lines(pending, chunk):
                await queue.put((name, line))
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
