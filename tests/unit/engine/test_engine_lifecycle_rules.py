"""Lifecycle rules that need no host: illegal moves, waiting for room, kill before placement."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from drove_tui.engine import lifecycle
from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.models.inventory import HostConfig, Inventory
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.models.task import TaskRecord, make_instance_id

S = TaskState


def engine(tmp_path: Path) -> Engine:
    """An engine whose host watchers are not started: no probe ever arrives."""
    inv = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1")])
    return Engine(inv, SqliteStore.open(tmp_path / "state.db"))


def submitted(eng: Engine, task_id: str, *, timeout_s: float = 300) -> TaskRecord:
    spec = TaskSpec.model_validate(
        {
            "sourceAppName": "app",
            "taskId": task_id,
            "executable": {"url": "img"},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
        }
    )
    now = time.time()
    record = TaskRecord(
        app="app",
        task_id=task_id,
        instance_id=make_instance_id("app", task_id, now),
        state=S.PENDING,
        spec=spec,
        op_timeout_s=timeout_s,
        created_at=now,
        updated_at=now,
    )
    eng.store.create_task(record)
    return record


async def test_illegal_transition_turns_the_task_lost_with_the_reason(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    record = submitted(eng, "t1")
    moved = eng.move(record, S.RUNNING, "skipping ahead")  # PENDING -> RUNNING is illegal
    assert moved is not None and moved.state is S.LOST
    assert moved.result is not None and moved.result.status is TaskStatus.LOST
    assert "cannot move from PENDING to RUNNING" in moved.reason


async def test_pending_task_says_why_it_waits_and_times_out_with_that_reason(
    tmp_path: Path,
) -> None:
    eng = engine(tmp_path)
    submitted(eng, "t1", timeout_s=0.3)
    await asyncio.wait_for(lifecycle.drive(eng, "app", "t1"), 10)
    done = eng.get("app", "t1")
    assert done.state is S.STOPPED
    assert done.result is not None and done.result.status is TaskStatus.TIMED_OUT
    assert done.reason == "not placed in time: waiting for the first probe of the hosts"


async def test_kill_of_pending_task_cancels_it_without_placing(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    submitted(eng, "t1")
    runner = asyncio.create_task(lifecycle.drive(eng, "app", "t1"))
    async with asyncio.timeout(10):
        while True:  # until the runner waits (its reason is set), not a moment sooner
            if eng.get("app", "t1").reason == "waiting for the first probe of the hosts":
                break
            await asyncio.sleep(0.01)
    await eng.kill("app", "t1")
    await asyncio.wait_for(runner, 10)
    history = [t.to_state for t in eng.store.history("app", "t1")]
    assert history == [S.PENDING, S.STOPPED]
    assert eng.get("app", "t1").result is not None


async def test_a_clean_close_hands_the_leases_back(tmp_path: Path) -> None:
    inv = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1", connection="local")])
    async with Engine.open(inv, tmp_path / "state.db") as eng:
        submitted(eng, "t1")
        eng.runners.take_over()  # nobody holds it: this engine drives it now
        held = eng.store.get_task("app", "t1")
        assert held is not None and held.owner == eng.owner
    again = SqliteStore.open(tmp_path / "state.db")
    record = again.get_task("app", "t1")
    assert record is not None and record.owner is None
