"""A state file drove-tui cannot trust stops `--run` and the TUI (exit 8) before any host is
touched, and stays byte for byte as it was: never a silent fresh start that would forget
tasks."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from drove_tui.cli import main

SPEC = {
    "sourceAppName": "app",
    "taskId": "t1",
    "executable": {"type": "DOCKER", "url": "busybox:latest"},
    "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 16}],
    "args": ["true"],
}


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x89PNG not a database at all" * 100)


def _newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('application', 'drove-tui'), ('schema_version', '7'),"
        " ('store_id', 'abc');"
    )
    conn.close()


def _directory(path: Path) -> None:
    path.mkdir()


def _run(spec: Path) -> list[str]:
    return ["--run", str(spec)]


def _terminal_app(spec: Path) -> list[str]:
    return []  # no command: the TUI, which opens the store before drawing anything


@pytest.mark.parametrize("front_door", [_run, _terminal_app])
@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_garbage, "is not a drove-tui store"),
        (_newer, "newer drove-tui"),
        (_directory, "is a directory"),
    ],
)
def test_untrusted_store_stops_the_front_door_with_exit_8_and_stays_as_it_was(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], None],
    says: str,
    front_door: Callable[[Path], list[str]],
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    state = tmp_path / "state.db"
    make(state)
    before = hashlib.sha256(state.read_bytes()).hexdigest() if state.is_file() else None
    code = main([*front_door(spec), "--state", str(state)])
    err = capsys.readouterr().err
    assert code == 8, err
    assert says in err and str(state) in err
    assert "Traceback" not in err
    if before is not None:
        assert hashlib.sha256(state.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json", "state.db"]
