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


def deferred(path: Path) -> Engine:
    """An engine (no watchers) whose store defers its syncs, as Engine._start makes it."""
    eng = engine(path)
    eng.store.defer_sync()
    return eng


def break_the_disk(monkeypatch: pytest.MonkeyPatch, errno: int, text: str) -> None:
    def broken(_fd: int) -> None:
        raise OSError(errno, text)

    monkeypatch.setattr("drove_tui.engine.store.sqlite._datasync", broken)


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
    eng = deferred(tmp_path / "state.db")
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
    eng = deferred(tmp_path / "state.db")

    async def moves(n: int) -> None:
        created(eng, f"t{n}")  # a step's move, then the next step's wait
        await eng.durable()

    await asyncio.gather(*(moves(n) for n in range(5)))
    assert len(fsyncs) == 1
    assert eng.store.synced == eng.store.committed == 5
    await eng._close()


async def test_close_puts_the_last_commits_on_disk(tmp_path: Path, fsyncs: list[str]) -> None:
    eng = deferred(tmp_path / "state.db")
    created(eng, "t1")
    await eng._close()
    assert fsyncs and eng.store.synced == eng.store.committed


def test_a_failed_sync_fails_every_later_flush_and_close_still_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = deferred(tmp_path / "state.db")
    created(eng, "t1")
    break_the_disk(monkeypatch, 5, "Input/output error")
    with pytest.raises(StoreError, match="cannot sync it to disk"):
        eng.store.flush()
    monkeypatch.undo()
    # A failed sync may have dropped its pages: a later one that succeeds proves nothing.
    with pytest.raises(StoreError, match="cannot sync it to disk"):
        eng.store.flush()
    assert eng.store.synced == 0
    with pytest.raises(StoreError):
        eng.store.close()
    with pytest.raises(StoreError, match="closed database"):  # closed all the same
        eng.store.get_task("app", "t1")


def test_a_store_reached_through_a_symbolic_link_syncs_the_real_wal(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    (tmp_path / "real").mkdir()
    SqliteStore.open(tmp_path / "real" / "state.db").close()
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "real" / "state.db")
    eng = deferred(link)
    created(eng, "t1")
    eng.store.flush()
    assert fsyncs == [f"{tmp_path / 'real' / 'state.db'}-wal"]
    eng.store.close()


def test_commits_that_change_nothing_need_no_sync(tmp_path: Path, fsyncs: list[str]) -> None:
    eng = deferred(tmp_path / "state.db")
    record = created(eng, "t1")
    eng.store.flush()
    # A compare-and-set that misses (the task moved on) commits an empty transaction.
    assert not eng.store.transition("app", "t1", S.RUNNING, S.RUN_COMPLETED, "late")
    assert record.state is S.PENDING
    eng.store.flush()
    assert len(fsyncs) == 1
    eng.store.close()


async def test_a_task_whose_moves_cannot_be_synced_is_left_as_it_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = deferred(tmp_path / "state.db")
    created(eng, "t1")
    break_the_disk(monkeypatch, 28, "No space left on device")
    with pytest.raises(StoreError):
        await lifecycle.drive(eng, "app", "t1")
    assert eng.get("app", "t1").state is S.PENDING  # not placed, and not LOST
    monkeypatch.undo()
    with pytest.raises(StoreError):
        await eng._close()


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
    eng = deferred(tmp_path / "state.db")
    assert isinstance(eng.store, SqliteStore)
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


async def test_a_kill_request_is_on_disk_before_the_caller_is_told(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    eng = deferred(tmp_path / "state.db")
    created(eng, "t1")
    eng.store.flush()
    await eng.kill("app", "t1")
    assert eng.store.synced >= 2  # the creation and the kill request
    await eng._close()


async def test_a_finished_task_is_on_disk_before_a_waiter_is_told(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    eng = deferred(tmp_path / "state.db")
    created(eng, "t1", state=S.STOPPED)
    assert eng.store.synced == 0
    done = await eng.wait("app", "t1")
    assert done.state is S.STOPPED
    assert eng.store.synced == eng.store.committed == 1
    await eng._close()


async def test_a_waiter_is_told_when_the_store_cannot_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = deferred(tmp_path / "state.db")
    created(eng, "t1")
    break_the_disk(monkeypatch, 5, "Input/output error")
    with pytest.raises(StoreError, match="cannot sync it to disk"):
        await asyncio.wait_for(eng.wait("app", "t1"), timeout=10)
    monkeypatch.undo()
    with pytest.raises(StoreError):
        await eng._close()
