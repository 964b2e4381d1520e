"""A warm client's stdout and stderr, as the warm server writes to them.

A cold run may block in write() when its reader is slow (`drove-tui --run job | less`): only
that run waits. The warm server runs every client's task, and its engine, on one event loop,
so a blocking write would stall them all (lease renewals included). `ClientOutput` hands the
bytes of both streams, in the order they were written, to one thread of its own that does the
blocking writes (`2>&1 | tee` keeps the order a cold run has). `drain()` lets the log stream
wait while more than LIMIT bytes are queued, so a slow reader slows its own run's logs and
nothing else, and no output is dropped or piles up without bound. Nothing here ever waits on
the loop's shared thread pool: the thread reports its end through a future.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import threading
from collections import deque
from collections.abc import Callable

LIMIT = 1 << 20  # bytes queued before drain() makes the log stream wait


class ClientOutput:
    """The client's descriptors (stdout, stderr) and the one thread that writes to them."""

    def __init__(self, stdout: int, stderr: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._fds = (stdout, stderr)
        self._queue: deque[tuple[int, bytes]] = deque()
        self._queued = 0
        self._wake = threading.Condition()
        self._ending = False
        self._dropping = False
        self._room = asyncio.Event()
        self._room.set()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self.stdout = ClientStream(self, stdout)
        self.stderr = ClientStream(self, stderr)
        threading.Thread(target=self._pump, name=f"client-{stdout}", daemon=True).start()

    def put(self, fd: int, data: bytes) -> None:
        """Queue `data` for `fd` (never blocks)."""
        with self._wake:
            if self._dropping:
                return
            self._queue.append((fd, data))
            self._queued += len(data)
            self._wake.notify()

    async def drain(self) -> None:
        """Wait until no more than LIMIT bytes are queued."""
        while self._queued > LIMIT and not self._dropping:
            # A wake-up the writer sent before the queue grew again may have left the event
            # set: clear it first, or wait() returns at once and this loop never yields.
            # Once cleared, the writer sets it again when the queue falls to LIMIT.
            self._room.clear()
            if self._queued <= LIMIT:
                return
            await self._room.wait()

    def drop(self) -> None:
        """The client has gone: nothing more is written (a terminal would show it after the
        shell's prompt), and nobody waits for what was queued."""
        with self._wake:
            self._dropping = True
            self._queue.clear()
            self._queued = 0
            self._wake.notify()
        self._room.set()

    async def finish(self) -> None:
        """Send what is queued, then close the descriptors (a pipe reader then sees its
        end). Returns at once when the client has gone: a reader stuck on a full pipe must
        not keep the server waiting; the thread closes the descriptors when it gets free."""
        with self._wake:
            self._ending = True
            self._wake.notify()
        if not self._dropping:
            await asyncio.shield(self._done)

    def _pump(self) -> None:
        broken: set[int] = set()
        try:
            while True:
                with self._wake:
                    while not self._queue and not self._ending:
                        self._wake.wait()
                    if not self._queue:
                        return
                    fd, data = self._queue.popleft()
                if fd not in broken and not _write_all(fd, data):
                    broken.add(fd)
                with self._wake:
                    if not self._dropping:
                        self._queued -= len(data)
                    if self._queued <= LIMIT:
                        self._tell(self._room.set)
        finally:
            for fd in set(self._fds):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._tell(self._finished)

    def _finished(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def _tell(self, callback: Callable[[], object]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self._loop.call_soon_threadsafe(callback)


class ClientStream(io.TextIOBase):
    """One of the client's streams, as Output writes to it: write() queues and returns."""

    def __init__(self, owner: ClientOutput, fd: int) -> None:
        super().__init__()
        self._owner = owner
        self._fd = fd
        self._tty = os.isatty(fd)

    def write(self, text: str) -> int:
        self._owner.put(self._fd, text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        """Nothing to do here: the writer thread sends everything as soon as it can."""

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    async def drain(self) -> None:
        """Wait while the client's reader lags far behind (see ClientOutput.drain)."""
        await self._owner.drain()


def _write_all(fd: int, data: bytes) -> bool:
    """False once the reader has gone (what follows is dropped, as `emit` does for a cold
    run whose reader went away)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except InterruptedError:
            continue
        except OSError:
            return False
    return True
