"""The engine's commits return before the disk has them; each task's step puts them on disk
before it acts on a host, and one sync of the WAL serves the tasks that moved together."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fake_hosts import ScriptedHost
from test_engine_kill_requests import created, engine

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import RunResult
from drove_tui.engine import lifecycle
from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.errors import StoreError
from drove_tui.models.states import TaskState

S = TaskState


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the store syncs, by name."""
    seen: list[str] = []
    real = os.fdatasync

    def spy(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr("drove_tui.engine.store.sqlite._datasync", spy)
    return seen


def sync_level(store: SqliteStore) -> int:
    return int(store._conn.execute("PRAGMA synchronous").fetchone()[0])


def test_a_store_syncs_every_commit_until_told_to_defer(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path / "state.db")
    try:
        assert sync_level(store) == 2  # FULL: the CLI's kill requests, a store opened alone
        store.defer_sync()
        assert sync_level(store) == 1  # NORMAL: the engine's, flushed by it
    finally:
        store.close()


def test_flush_fsyncs_the_wal_once_for_every_commit_before_it(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    eng = engine(tmp_path / "state.db")
    eng.store.defer_sync()
    created(eng, "t1")
    created(eng, "t2")
    assert (eng.store.committed, eng.store.synced) == (2, 0)
    eng.store.flush()
    assert fsyncs == [f"{tmp_path / 'state.db'}-wal"]
    assert eng.store.synced == 2
    eng.store.flush()  # nothing new: no fsync
    assert len(fsyncs) == 1
    eng.store.close()


async def test_tasks_that_move_in_one_turn_share_one_sync(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    eng = engine(tmp_path / "state.db")
    eng.store.defer_sync()

    async def moves(n: int) -> None:
        created(eng, f"t{n}")  # a step's move, then the next step's wait
        await eng.durable()

    await asyncio.gather(*(moves(n) for n in range(5)))
    assert len(fsyncs) == 1
    assert eng.store.synced == eng.store.committed == 5
    await eng._close()


async def test_close_puts_the_last_commits_on_disk(tmp_path: Path, fsyncs: list[str]) -> None:
    eng = engine(tmp_path / "state.db")
    eng.store.defer_sync()
    created(eng, "t1")
    await eng._close()
    assert fsyncs and eng.store.synced == eng.store.committed


def test_a_failed_fsync_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    eng = engine(tmp_path / "state.db")
    eng.store.defer_sync()
    created(eng, "t1")

    def broken(_fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("drove_tui.engine.store.sqlite._datasync", broken)
    with pytest.raises(StoreError, match="cannot sync it to disk"):
        eng.store.flush()
    assert eng.store.synced == 0  # still owed: the next flush tries again
    monkeypatch.undo()
    eng.store.close()
    assert eng.store.synced == 1


class RecordingHost(ScriptedHost):
    """Fails the pull, noting how many commits were on disk when each command arrived."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.seen: list[tuple[int, int]] = []

    async def reply(self, cmd: Command, stdin: bytes | None) -> RunResult:
        self.seen.append((self.store.committed, self.store.synced))
        return RunResult(1, b"", b"manifest unknown")


async def test_a_step_acts_on_a_host_only_once_its_placement_is_on_disk(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    eng: Engine = engine(tmp_path / "state.db")
    assert isinstance(eng.store, SqliteStore)
    eng.store.defer_sync()
    created(eng, "t1")
    placed = eng.get("app", "t1")
    eng.move(placed, S.PROVISIONING, "placed on h1", host="h1", numa_node=0, cores=[0])
    assert eng.store.acquire("app", "t1", eng.owner, eng.lease_ttl_s)
    host = RecordingHost(eng.store)
    eng.cluster.transport = lambda _host: host  # type: ignore[method-assign,assignment,return-value]
    await lifecycle.drive(eng, "app", "t1")
    assert eng.get("app", "t1").state is S.PROVISIONING_FAILED
    assert host.seen, "the pull never ran"
    committed, synced = host.seen[0]
    assert committed == synced == 3  # creation, placement, lease: all on disk before the pull
    await eng._close()
