"""ClientStream: a slow reader never blocks the loop, holds back only the log stream (drain),
and loses nothing; a reader that went away is not an error."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from drove_tui.commands.warm_stream import LIMIT, ClientStream


def read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 1 << 16):
        into.extend(chunk)
    os.close(fd)


async def test_a_slow_reader_holds_back_drain_but_never_the_loop() -> None:
    r, w = os.pipe()
    stream = ClientStream(w)
    line = "x" * 1023 + "\n"
    count = 3 * LIMIT // len(line)
    for _ in range(count):
        stream.write(line)  # returns at once although nobody reads the pipe (64 KiB)
    drained = asyncio.ensure_future(stream.drain())
    for _ in range(20):
        await asyncio.sleep(0)  # the loop runs; the queue cannot shrink below LIMIT unread
    assert not drained.done()
    got = bytearray()
    reader = threading.Thread(target=read_all, args=(r, got))
    reader.start()
    await asyncio.wait_for(drained, 60)
    await stream.finish()  # everything sent, then the descriptor closed: the reader ends
    await asyncio.to_thread(reader.join, 60)
    assert not reader.is_alive()
    assert bytes(got) == line.encode() * count


async def test_a_reader_that_went_away_is_not_an_error() -> None:
    r, w = os.pipe()
    os.close(r)
    stream = ClientStream(w)
    stream.write("nobody reads this\n" * 100_000)
    await asyncio.wait_for(stream.drain(), 60)
    await asyncio.wait_for(stream.finish(), 60)


@pytest.mark.timeout(30)
async def test_drain_never_spins_on_a_stale_wake_up() -> None:
    # The writer thread can wake drain() (set the event) just before more writes refill the
    # queue; drain() must then wait again, not loop without yielding (the whole warm server
    # would freeze). Forced here: the queue is over LIMIT with the event set.
    r, w = os.pipe()
    stream = ClientStream(w)
    stream.write("y" * (2 * LIMIT))
    stream._room.set()  # the stale wake-up
    drained = asyncio.ensure_future(stream.drain())
    for _ in range(20):
        await asyncio.sleep(0)  # with the old drain() this line never got control back
    assert not drained.done()
    got = bytearray()
    reader = threading.Thread(target=read_all, args=(r, got))
    reader.start()
    await asyncio.wait_for(drained, 20)
    await stream.finish()
    await asyncio.to_thread(reader.join, 20)
    assert len(got) == 2 * LIMIT
