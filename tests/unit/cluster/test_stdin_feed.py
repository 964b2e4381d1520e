"""stdin fed piece by piece (transport.StdinFeed) through the local transport: the command
reads it while its output flows, ends with or without it, and dies when the run is given up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.local import LocalTransport
from drove_tui.cluster.transport import StdinFeed, with_feed
from tests.unit.cluster.test_local_transport import _gone


async def test_a_feed_gives_its_pieces_in_order_then_ends_for_good() -> None:
    feed = StdinFeed()
    feed.send(b"a")
    feed.send(b"")  # nothing
    feed.send(b"b")
    feed.close()
    feed.close()
    with pytest.raises(ValueError, match="closed"):
        feed.send(b"c")
    assert [piece async for piece in feed] == [b"a", b"b"]
    assert [piece async for piece in feed] == []


async def test_input_sent_once_the_command_asks_reaches_it_and_eof_follows() -> None:
    feed = StdinFeed()
    seen: list[tuple[str, bytes]] = []

    def on_line(name: str, line: bytes) -> None:
        seen.append((name, line))
        if line == b"ready":
            feed.send(b"hel")
            feed.send(b"lo\nsecond\n")
            feed.close()

    script = 'echo ready; read -r x; echo "got $x"; cat; echo eof >&2'
    done = await LocalTransport().run(
        Command("sh", "-c", script), stdin=feed, timeout=30, on_line=on_line
    )
    assert done.exit_status == 0
    assert [line for name, line in seen if name == "stdout"] == [b"ready", b"got hello", b"second"]
    assert [line for name, line in seen if name == "stderr"] == [b"eof"]


async def test_without_on_line_the_output_is_collected_as_with_bytes() -> None:
    feed = StdinFeed()
    running = asyncio.create_task(
        LocalTransport().run(Command("sh", "-c", "cat; echo end >&2"), stdin=feed, timeout=30)
    )
    await asyncio.sleep(0.2)
    assert not running.done()  # it waits on its stdin
    feed.send(b"one\n")
    feed.send(b"two")
    feed.close()
    done = await running
    assert (done.exit_status, done.stdout, done.stderr) == (0, b"one\ntwo", b"end\n")


async def test_a_command_that_ends_without_its_input_ends_the_run() -> None:
    feed = StdinFeed()  # never sent to nor closed
    async with asyncio.timeout(30):
        done = await LocalTransport().run(Command("sh", "-c", "echo bye; exit 3"), stdin=feed)
    assert (done.exit_status, done.stdout) == (3, b"bye\n")
    feed.send(b"too late")  # nobody reads it: no error either


async def test_a_cancelled_run_waiting_on_its_input_kills_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    feed = StdinFeed()
    script = 'sleep 1000 & echo $! > "$1"; echo ready; read -r x; wait'
    ready = asyncio.Event()
    running = asyncio.create_task(
        LocalTransport().run(
            Command.script(script, str(pidfile)),
            stdin=feed,
            timeout=60,
            on_line=lambda _, line: ready.set(),
        )
    )
    async with asyncio.timeout(60):
        await ready.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await _gone(int(pidfile.read_text()))


async def test_a_feeds_error_comes_at_once_and_stops_the_work() -> None:
    work_cancelled = asyncio.Event()

    async def work() -> int:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            work_cancelled.set()
            raise
        return 1

    async def broken_feed() -> None:
        raise RuntimeError("the feed broke")

    async with asyncio.timeout(30):
        with pytest.raises(RuntimeError, match="the feed broke"):
            await with_feed(work(), broken_feed())
    assert work_cancelled.is_set()
