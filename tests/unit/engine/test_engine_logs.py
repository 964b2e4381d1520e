"""Local log copies: docker's timestamped lines parsed, merged in time order, bounded."""

from __future__ import annotations

from pathlib import Path

from fake_hosts import FakeHost
from test_engine_kill_requests import created, engine

from drove_tui.cluster.transport import CONNECTION_LOST, RunResult, Unreachable
from drove_tui.engine.logs import LogStore, merge_capture
from drove_tui.models.states import TaskState

S = TaskState


def test_capture_merges_both_streams_in_time_order() -> None:
    out = b"2026-01-01T00:00:01.000000001Z first\n2026-01-01T00:00:03.5Z third\n"
    err = b"2026-01-01T00:00:02.25Z second\n"
    lines = merge_capture("app", "t", out, err)
    assert [(line.stream, line.text) for line in lines] == [
        ("stdout", "first"),
        ("stderr", "second"),
        ("stdout", "third"),
    ]
    assert lines[1].at - lines[0].at == 1.25


def test_kept_lines_survive_a_new_store_object_and_rotate_at_the_cap(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_bytes=200)
    for i in range(20):
        store.write(
            merge_capture("app", "t", f"2026-01-01T00:00:{i:02d}Z line {i}\n".encode(), b"")
        )
    again = LogStore(tmp_path, max_bytes=200)
    texts = [line.text for line in again.read("app", "t")]
    assert texts[-1] == "line 19"
    assert "line 0" not in texts  # the oldest went with the rotation
    assert sum(p.stat().st_size for p in (tmp_path / "app").iterdir()) <= 2 * 200
    assert [line.text for line in again.read("app", "t", tail=2)] == ["line 18", "line 19"]


def test_tabs_and_odd_lines_do_not_break_the_file(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.write(merge_capture("app", "t", b"not timestamped\tat all\n", b""))
    assert [line.text for line in store.read("app", "t")] == ["not timestamped at all"]


def test_tail_zero_is_no_line(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.write(merge_capture("app", "t", b"2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b\n", b""))
    assert store.read("app", "t", tail=0) == []
    assert [line.text for line in store.read("app", "t", tail=5)] == ["a", "b"]


async def lines_of(tmp_path: Path, fake: FakeHost) -> list[str]:
    eng = engine(tmp_path / "state.db")
    created(eng, "t1", state=S.UNKNOWN, host="h1", numa_node=0, cores=[0])
    eng.logs_store.write(merge_capture("app", "t1", b"2026-01-01T00:00:01Z kept\n", b""))
    eng.cluster.transport = lambda _host: fake  # type: ignore[method-assign,assignment,return-value]
    try:
        return [line.text for line in [x async for x in eng.logs("app", "t1")]]
    finally:
        eng.store.close()


async def test_logs_of_an_unknown_task_ask_its_host_first(tmp_path: Path) -> None:
    # Just taken over after a restart, the task may well still run: its host knows best.
    fake = FakeHost(lambda _line: RunResult(0, b"2026-01-01T00:00:05Z from the host\n", b""))
    assert await lines_of(tmp_path, fake) == ["from the host"]
    assert any(" logs " in line for line in fake.asked)


async def test_logs_of_an_unknown_task_fall_back_to_the_kept_copy(tmp_path: Path) -> None:
    unreachable = Unreachable("h1", CONNECTION_LOST, "h1: connection lost")
    assert await lines_of(tmp_path, FakeHost(lambda _line: unreachable)) == ["kept"]
    gone = RunResult(1, b"", b"Error: No such container: drove-x\n")
    assert await lines_of(tmp_path / "again", FakeHost(lambda _line: gone)) == ["kept"]
