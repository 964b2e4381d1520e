"""Kill requests kept in the store, so that the process owning a task can honour a
`tasks kill` given from another process (issue #7)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drove_tui.engine.store.migrations import MIGRATIONS
from drove_tui.engine.store.sqlite import SqliteStore
from drove_tui.engine.store.sqlite_file import open_connection
from drove_tui.models.states import TaskResult, TaskState
from drove_tui.models.task import TaskRecord

RecordFactory = Callable[..., TaskRecord]
S = TaskState


def test_kill_request_is_recorded_once_with_the_first_time(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record())
    assert store.request_kill("app", "t1", now=100.0)
    assert store.request_kill("app", "t1", now=200.0)  # asked again: still live, still True
    record = store.get_task("app", "t1")
    assert record is not None and record.kill_requested_at == 100.0


def test_kill_request_of_finished_or_missing_task_is_refused(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.STOPPED, result=TaskResult.cancelled()))
    assert not store.request_kill("app", "t1")
    assert not store.request_kill("app", "nope")
    record = store.get_task("app", "t1")
    assert record is not None and record.kill_requested_at is None


def test_owner_sees_only_kill_requests_of_its_live_tasks(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    for task in ("t1", "t2", "t3"):
        store.create_task(make_record(task))
    store.acquire("app", "t1", "tui", 30.0)
    store.acquire("app", "t2", "run", 30.0)
    store.acquire("app", "t3", "tui", 30.0)
    assert store.kill_requests("tui") == []
    store.request_kill("app", "t1")
    store.request_kill("app", "t2")
    assert store.kill_requests("tui") == [("app", "t1")]
    assert store.kill_requests("run") == [("app", "t2")]
    # Once finished, the request is history: nothing left for the owner to do.
    store.transition("app", "t1", S.PENDING, S.STOPPED, "killed", result=TaskResult.cancelled())
    assert store.kill_requests("tui") == []


def test_store_of_the_first_schema_gains_the_kill_request_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn, _ = open_connection(path, 5.0, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO tasks (app, task_id, instance_id, state, spec_json, op_timeout_s, "
        "created_at, updated_at) VALUES ('app', 't1', 'app-t1-x', 'PENDING', ?, 300, 1, 1)",
        (
            '{"sourceAppName": "app", "taskId": "t1", "executable": {"url": "img"}, '
            '"resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}]}',
        ),
    )
    conn.commit()
    conn.close()
    store = SqliteStore.open(path)
    try:
        record = store.get_task("app", "t1")
        assert record is not None and record.kill_requested_at is None
        assert store.request_kill("app", "t1", now=5.0)
        again = store.get_task("app", "t1")
        assert again is not None and again.kill_requested_at == 5.0
    finally:
        store.close()
