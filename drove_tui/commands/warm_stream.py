"""A warm client's stdout or stderr, as the warm server writes to it.

A cold run may block in write() when its reader is slow (`drove-tui --run job | less`): only
that run waits. The warm server runs every client's task, and its engine, on one event loop,
so a blocking write would stall them all (lease renewals included). `ClientStream` hands the
bytes to a thread of its own that does the blocking writes; `drain()` lets the log stream wait
while more than LIMIT bytes are queued, so a slow reader slows its own run's logs and nothing
else, and no output is dropped or piles up without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import threading
from collections import deque

LIMIT = 1 << 20  # bytes queued before drain() makes the log stream wait


class ClientStream(io.TextIOBase):
    """A text stream over a descriptor a client passed us; writes never block the loop."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._wake = threading.Condition()
        self._ending = False
        self._room = asyncio.Event()
        self._room.set()
        self._writer = threading.Thread(target=self._pump, name=f"client-fd-{fd}", daemon=True)
        self._writer.start()

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        with self._wake:
            self._queue.append(data)
            self._queued += len(data)
            if self._queued > LIMIT:
                self._room.clear()
            self._wake.notify()
        return len(text)

    def flush(self) -> None:
        """Nothing to do here: the writer thread sends everything as soon as it can."""

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    async def drain(self) -> None:
        """Wait until no more than LIMIT bytes are queued."""
        while self._queued > LIMIT:
            # A wake-up the writer sent before the queue grew again may have left the event
            # set: clear it first, or wait() returns at once and this loop never yields.
            # Once cleared, the writer sets it again when the queue falls to LIMIT.
            self._room.clear()
            if self._queued <= LIMIT:
                return
            await self._room.wait()

    async def finish(self) -> None:
        """Send what is queued, then close the descriptor (the reader then sees its end)."""
        with self._wake:
            self._ending = True
            self._wake.notify()
        await asyncio.to_thread(self._writer.join)
        os.close(self._fd)

    def _pump(self) -> None:
        broken = False
        while True:
            with self._wake:
                while not self._queue and not self._ending:
                    self._wake.wait()
                if not self._queue:
                    return
                data = self._queue.popleft()
            if not broken:
                broken = not _write_all(self._fd, data)
            with self._wake:
                self._queued -= len(data)
                if self._queued <= LIMIT:
                    with contextlib.suppress(RuntimeError):  # the loop has closed
                        self._loop.call_soon_threadsafe(self._room.set)


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
