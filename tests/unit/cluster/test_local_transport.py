"""The local transport: same behaviour as SSH, and nothing left running when we give up."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.local import LocalTransport
from drove_tui.cluster.transport import CommandTimeout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by its parent) is not running.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def _gone(pid: int) -> bool:
    for _ in range(1200):  # up to 60 s: generous for a busy machine
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_run_returns_status_output_and_feeds_stdin() -> None:
    result = await LocalTransport().run(
        Command("sh", "-c", "cat; echo oops >&2; exit 4"), stdin=b"hello", timeout=30
    )
    assert (result.exit_status, result.stdout, result.stderr) == (4, b"hello", b"oops\n")


async def test_a_timed_out_command_and_its_children_are_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = 'sleep 1000 & echo $! > "$1"; wait'
    with pytest.raises(CommandTimeout, match="did not finish"):
        await LocalTransport().run(Command.script(script, str(pidfile)), timeout=3)
    # (On a machine too busy to start sh within 3 s there is no child to check: still fine.)
    if pidfile.exists() and pidfile.read_text().strip():
        assert await _gone(int(pidfile.read_text()))


async def test_a_cancelled_wait_kills_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = tmp_path / "started"
    script = 'sleep 1000 & echo $! > "$1"; touch "$2"; wait'
    task = asyncio.create_task(
        LocalTransport().run(Command.script(script, str(pidfile), str(started)), timeout=60)
    )
    for _ in range(2400):  # up to 60 s
        if started.exists():
            break
        await asyncio.sleep(0.025)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _gone(int(pidfile.read_text()))


async def test_stream_yields_lines_of_both_streams_in_order_per_stream() -> None:
    cmd = Command.script("for i in 1 2 3; do echo out$i; echo err$i >&2; done")
    lines = [item async for item in LocalTransport().stream(cmd, timeout=30)]
    assert [text for name, text in lines if name == "stdout"] == [b"out1", b"out2", b"out3"]
    assert [text for name, text in lines if name == "stderr"] == [b"err1", b"err2", b"err3"]


async def test_closing_a_stream_early_kills_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = 'sleep 1000 & echo $! > "$1"; echo ready; wait'
    stream = LocalTransport().stream(Command.script(script, str(pidfile)), timeout=60)
    async for _name, line in stream:
        assert line == b"ready"
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert await _gone(int(pidfile.read_text()))


async def test_stream_passes_a_line_longer_than_the_reader_limit_without_hanging() -> None:
    # asyncio's StreamReader gives up on a line over 64 KiB; the stream must still deliver it
    # (whole or in pieces, never reordered) and end. The timeout only turns a hang into a fail.
    size = 300_000
    cmd = Command("sh", "-c", f"head -c {size} /dev/zero | tr '\\0' a; echo; echo done")
    got: list[bytes] = []
    async with asyncio.timeout(30):
        async for kind, line in LocalTransport().stream(cmd):
            assert kind == "stdout"
            got.append(line)
    assert got[-1] == b"done"
    assert b"".join(got[:-1]) == b"a" * size


async def test_run_with_on_line_hands_over_lines_as_they_come_and_the_status() -> None:
    seen: list[tuple[str, bytes]] = []
    script = 'read -r a; echo "got $a"; echo oops >&2; printf tail; exit 4'
    done = await LocalTransport().run(
        Command("sh", "-c", script), stdin=b"input\n", on_line=lambda s, b: seen.append((s, b))
    )
    assert done.exit_status == 4
    assert (done.stdout, done.stderr) == (b"", b"")
    assert [b for s, b in seen if s == "stdout"] == [b"got input", b"tail"]
    assert [b for s, b in seen if s == "stderr"] == [b"oops"]
