"""`tasks kill` from a second process: the kill is recorded in the store and the process that
owns the task honours it (issue #7). Two engines on one state file; no host is needed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from drove_tui.engine import lifecycle, recovery
from drove_tui.engine.engine import Engine, Subscription
from drove_tui.engine.events import TaskProgress
from drove_tui.engine.store import SqliteStore
from drove_tui.models.host import ManagedContainer
from drove_tui.models.inventory import HostConfig, Inventory
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.models.task import TaskRecord, make_instance_id

S = TaskState
WAITING = "waiting for the first probe of the hosts"


def engine(path: Path) -> Engine:
    """An engine whose host watchers are not started: no probe ever arrives."""
    inv = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1")])
    return Engine(inv, SqliteStore.open(path))


def created(eng: Engine, task_id: str, **fields: object) -> TaskRecord:
    spec = TaskSpec.model_validate(
        {
            "sourceAppName": "app",
            "taskId": task_id,
            "executable": {"url": "img"},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
        }
    )
    now = time.time()
    values: dict[str, object] = {
        "app": "app",
        "task_id": task_id,
        "instance_id": make_instance_id("app", task_id, now),
        "state": S.PENDING,
        "spec": spec,
        "op_timeout_s": 300,
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    record = TaskRecord.model_validate(values)
    eng.store.create_task(record)
    return record


async def until_waiting(sub: Subscription) -> None:
    """Until the task's runner waits for room (it says why), not a moment sooner."""
    async with asyncio.timeout(10):
        async for event in sub:
            if isinstance(event, TaskProgress) and event.message == WAITING:
                return


async def test_kill_from_another_process_is_honoured_by_the_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The waiting runner only wakes when signalled: no periodic re-read of the store may
    # find the request instead of the owner's tick.
    monkeypatch.setattr(lifecycle, "IDLE_RECHECK_S", 3600.0)
    owner, other = engine(tmp_path / "state.db"), engine(tmp_path / "state.db")
    try:
        record = created(owner, "t1")
        assert owner.store.acquire("app", "t1", owner.owner, owner.lease_ttl_s)
        sub = owner.subscribe()
        owner.runners.run(record)
        ticks = asyncio.create_task(owner.runners.tick())
        owner._background.append(ticks)
        await until_waiting(sub)

        await other.kill("app", "t1")
        assert ("app", "t1") not in other.runners  # the owner is alive: not taken over
        async with asyncio.timeout(30):
            done = await other.wait("app", "t1")
        assert done.state is S.STOPPED
        assert done.result is not None and done.result.status is TaskStatus.CANCELLED
        assert done.result.exit_code == -1
        assert done.reason == "killed before placement"
        assert ("app", "t1") in owner._killed  # the owner's tick took the request up
        # The owner drove it to the end: it never went through a takeover (UNKNOWN).
        moves = [t.to_state for t in other.store.history("app", "t1")]
        assert moves == [S.PENDING, S.STOPPED]
    finally:
        await owner._close()
        await other._close()


async def test_kill_of_a_task_whose_owner_died_takes_it_over(tmp_path: Path) -> None:
    other = engine(tmp_path / "state.db")
    try:
        created(other, "t1", owner="dead:1:abc", lease_until=time.time() - 1)
        await other.kill("app", "t1")
        assert ("app", "t1") in other.runners or other.get("app", "t1").terminal
        async with asyncio.timeout(30):
            done = await other.wait("app", "t1")
        assert done.state is S.STOPPED
        assert done.result is not None and done.result.status is TaskStatus.CANCELLED
    finally:
        await other._close()


async def test_kill_of_a_task_with_a_live_owner_leaves_it_to_the_owner(tmp_path: Path) -> None:
    other = engine(tmp_path / "state.db")
    try:
        created(other, "t1", owner="alive:1:abc", lease_until=time.time() + 600)
        killed = await other.kill("app", "t1")
        assert killed.kill_requested_at is not None
        assert killed.state is S.PENDING and killed.owner == "alive:1:abc"
        assert ("app", "t1") not in other.runners
    finally:
        await other._close()


async def test_exit_found_by_reconciliation_is_cancelled_when_a_kill_was_recorded(
    tmp_path: Path,
) -> None:
    # A fresh process (nothing in its memory) settles a task someone asked to kill.
    eng = engine(tmp_path / "state.db")
    try:
        record = created(
            eng, "t1", state=S.UNKNOWN, host="h1", cores=[0], kill_requested_at=time.time()
        )
        assert eng.is_killed(record)
        found = ManagedContainer(
            name=f"drove-{record.instance_id}",
            container_id="c1",
            app="app",
            task_id="t1",
            instance_id=record.instance_id,
            running=False,
            exit_code=137,
        )
        recovery.settle(eng, record, found)
        settled = eng.get("app", "t1")
        assert settled.state is S.RUN_COMPLETED
        assert settled.result is not None and settled.result.status is TaskStatus.CANCELLED
    finally:
        await eng._close()
