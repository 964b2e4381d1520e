"""A host's status lives in the engine's memory only: a probe writes nothing to the store
(nothing read it back, and every probe of every host cost a write transaction)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from test_engine_kill_requests import engine

from drove_tui.models.host import HostState, HostStatus


async def test_a_probe_is_kept_in_memory_and_not_written_to_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    eng = engine(path)
    try:
        down = HostStatus(name="h1", state=HostState.UNREACHABLE, reason="refused: no")
        eng.watch.on_probe(down, time.time())
        assert eng.hosts() == [down]
    finally:
        await eng._close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM hosts").fetchone() == (0,)
