"""The local transport (`connection: local`): the same interface as SSH, over subprocesses.

Each command runs as `sh -c LINE` in a session of its own, so that giving up on it can kill
its whole process group (the shell and everything it started), just as the SSH transport does
on a remote host.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import (
    CommandTimeout,
    OnLine,
    RunResult,
    SocketReader,
    SocketRefused,
    SocketWriter,
    Stdin,
    StreamName,
    TransportError,
    feed_lines,
    feed_stdin,
    merged_lines,
    socket_request,
    with_feed,
)

# How long a TERMed process group gets before it is KILLed.
KILL_GRACE_S = 2.0


class LocalTransport:
    """Runs commands on this machine."""

    def __init__(self, host: str = "localhost") -> None:
        self.host = host

    async def _spawn(self, cmd: Command, *, stdin: bool) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            cmd.line(),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )

    async def run(
        self,
        cmd: Command,
        *,
        stdin: Stdin = None,
        timeout: float | None = None,  # noqa: ASYNC109
        on_line: OnLine | None = None,
    ) -> RunResult:
        """Run `cmd` to completion; past `timeout` kill its process group and raise. With
        `on_line`, output lines go to it as they come (see Transport.run)."""
        proc = await self._spawn(cmd, stdin=stdin is not None)
        try:
            async with asyncio.timeout(timeout):
                out, err = await _feed_and_read(proc, stdin, on_line)
        except TimeoutError:
            await _kill_group(proc)
            raise CommandTimeout(
                self.host, f"{self.host}: `{cmd}` did not finish within {timeout:g} s"
            ) from None
        except BaseException:
            await asyncio.shield(_kill_group(proc))
            raise
        return RunResult(exit_status=_status(proc), stdout=out, stderr=err)

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
        proc = await self._spawn(cmd, stdin=False)
        assert proc.stdout is not None and proc.stderr is not None
        finished = False
        try:
            lines = merged_lines(proc.stdout.read, proc.stderr.read, deadline=deadline)
            async with contextlib.aclosing(lines):
                async for item in lines:
                    yield item
            async with asyncio.timeout_at(deadline):
                await proc.wait()
            finished = True
        except TimeoutError:
            raise CommandTimeout(
                self.host, f"{self.host}: `{cmd}` did not finish within {timeout:g} s"
            ) from None
        finally:
            if not finished:
                await asyncio.shield(_kill_group(proc))

    async def unix_request(
        self,
        path: str,
        request: bytes,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> bytes:
        """Send `request` to the unix socket `path` here; the answer, read until it closes."""
        return await socket_request(self, self.host, path, request, timeout=timeout)

    def socket_refused(self, path: str) -> bool:
        """Nothing is remembered here: a socket is always tried."""
        return False

    @asynccontextmanager
    async def unix_stream(
        self,
        path: str,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncIterator[tuple[SocketReader, SocketWriter]]:
        """A connection to the unix socket `path` here (see Transport.unix_stream)."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        except OSError as err:
            raise SocketRefused(
                self.host, f"{self.host}: cannot connect to {path}: {err.strerror}"
            ) from None
        except TimeoutError:
            raise CommandTimeout(
                self.host, f"{self.host}: {path} did not answer within {timeout:g} s"
            ) from None

        def failure(err: BaseException | None) -> TransportError | None:
            if err is None:
                return None
            return SocketRefused(self.host, f"{self.host}: {path} closed the connection: {err!r}")

        errors = (OSError,)
        try:
            yield SocketReader(reader, failure, errors), SocketWriter(writer, failure, errors)
        finally:
            writer.close()

    async def close(self) -> None:
        """Nothing to release for local commands."""


async def _feed_and_read(
    proc: asyncio.subprocess.Process, stdin: Stdin, on_line: OnLine | None
) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout, proc.stderr

    async def read() -> tuple[bytes, bytes]:
        if on_line is None:
            out, err = await asyncio.gather(stdout.read(), stderr.read())
            return out, err
        return await feed_lines(stdout.read, stderr.read, on_line)

    async def feed() -> None:
        if proc.stdin is not None:
            await feed_stdin(stdin, proc.stdin.write, proc.stdin.drain, proc.stdin.close)

    # The output ends as the command exits. Its stdin must be closed before waiting: asyncio's
    # wait() returns only once every pipe is.
    output = await with_feed(read(), feed())
    if proc.stdin is not None:
        proc.stdin.close()
    await proc.wait()
    return output


def _status(proc: asyncio.subprocess.Process) -> int:
    code = proc.returncode
    assert code is not None
    # Report death by signal the way a shell does (128 + signal number).
    return 128 - code if code < 0 else code


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """TERM the process group, then KILL it if it lingers."""
    if proc.returncode is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            async with asyncio.timeout(wait_s):
                await proc.wait()
            return
        except TimeoutError:
            continue
