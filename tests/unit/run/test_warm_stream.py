"""ClientOutput: a slow reader never blocks the loop, holds back only the log stream (drain),
and loses nothing; both streams keep the order they were written in; a reader that went
away is not an error; a client that left is never waited for."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from drove_tui.commands.warm_stream import LIMIT, ClientOutput


def read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 1 << 16):
        into.extend(chunk)
    os.close(fd)


def reader(fd: int) -> tuple[threading.Thread, bytearray]:
    got = bytearray()
    thread = threading.Thread(target=read_all, args=(fd, got))
    thread.start()
    return thread, got


async def test_a_slow_reader_holds_back_drain_but_never_the_loop() -> None:
    r, w = os.pipe()
    output = ClientOutput(w, os.dup(w))
    line = "x" * 1023 + "\n"
    count = 3 * LIMIT // len(line)
    for _ in range(count):
        output.stdout.write(line)  # returns at once although nobody reads the pipe (64 KiB)
    drained = asyncio.ensure_future(output.stdout.drain())
    for _ in range(20):
        await asyncio.sleep(0)  # the loop runs; the queue cannot shrink below LIMIT unread
    assert not drained.done()
    thread, got = reader(r)
    await asyncio.wait_for(drained, 60)
    await asyncio.wait_for(output.finish(), 60)  # all sent, then closed: the reader ends
    await asyncio.to_thread(thread.join, 60)
    assert not thread.is_alive()
    assert bytes(got) == line.encode() * count


async def test_stdout_and_stderr_keep_the_order_they_were_written_in() -> None:
    # `drove-tui --run job 2>&1 | tee`: one pipe behind both streams, as a cold run writes.
    r, w = os.pipe()
    output = ClientOutput(w, os.dup(w))
    thread, got = reader(r)
    for i in range(2000):
        (output.stdout if i % 2 else output.stderr).write(f"{i}\n")
    await asyncio.wait_for(output.finish(), 60)
    await asyncio.to_thread(thread.join, 60)
    assert got.decode().split() == [str(i) for i in range(2000)]


@pytest.mark.timeout(30)
async def test_drain_never_spins_on_a_stale_wake_up() -> None:
    # The writer thread can wake drain() (set the event) just before more writes refill the
    # queue; drain() must then wait again, not loop without yielding (the whole warm server
    # would freeze). Forced here: the queue is over LIMIT with the event set.
    r, w = os.pipe()
    output = ClientOutput(w, os.dup(w))
    output.stdout.write("y" * (2 * LIMIT))
    output._room.set()  # the stale wake-up
    drained = asyncio.ensure_future(output.drain())
    for _ in range(20):
        await asyncio.sleep(0)  # with the old drain() this line never got control back
    assert not drained.done()
    thread, got = reader(r)
    await asyncio.wait_for(drained, 20)
    await asyncio.wait_for(output.finish(), 20)
    await asyncio.to_thread(thread.join, 20)
    assert len(got) == 2 * LIMIT


async def test_a_reader_that_went_away_is_not_an_error() -> None:
    r, w = os.pipe()
    os.close(r)
    output = ClientOutput(w, os.dup(w))
    output.stdout.write("nobody reads this\n" * 100_000)
    await asyncio.wait_for(output.drain(), 60)
    await asyncio.wait_for(output.finish(), 60)


async def test_a_client_that_left_is_not_waited_for_even_with_a_stuck_reader() -> None:
    r, w = os.pipe()
    output = ClientOutput(w, os.dup(w))
    output.stdout.write("z" * (2 * LIMIT))  # the pipe fills; nobody reads: the writer blocks
    output.drop()  # the client has gone
    await asyncio.wait_for(output.finish(), 10)  # returns although the writer is stuck
    await asyncio.wait_for(output.drain(), 10)
    os.close(r)  # the stuck write fails; the writer thread ends and closes its descriptors
