"""Local log copies: docker's timestamped lines parsed, merged in time order, bounded."""

from __future__ import annotations

from pathlib import Path

from drove_tui.engine.logs import LogStore, merge_capture


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
