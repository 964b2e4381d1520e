"""Tasks in the SQLite store: creation, compare-and-set transitions, history, delete, prune."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from drove_tui.engine.store import IllegalTransition, TaskExists, TaskNotTerminal
from drove_tui.engine.store.sqlite import SqliteStore
from drove_tui.errors import ExitCode, StoreError, TaskNotFound
from drove_tui.models.states import TaskResult, TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

S = TaskState
RecordFactory = Callable[..., TaskRecord]


def test_created_task_reads_back_with_every_field(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    record = make_record(
        host="host1",
        numa_node=0,
        cores=[2, 3],
        container_id="abc",
        result=TaskResult.from_exit_code(3),
        error="Task instance exited with status: 3",
        pin_host="host1",
        log_path="/logs/app-t1.log",
        op_timeout_s=42.0,
        started_at=1001.0,
    )
    store.create_task(record)
    back = store.get_task("app", "t1")
    assert back is not None
    assert back.model_dump(exclude={"spec"}) == record.model_dump(exclude={"spec"})
    assert back.spec == record.spec.masked()


def test_get_of_unknown_task_is_none(store: SqliteStore) -> None:
    assert store.get_task("app", "nope") is None


def test_create_of_existing_pair_is_refused_even_when_finished(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.STOPPED))
    with pytest.raises(TaskExists, match="Task already exists") as caught:
        store.create_task(make_record())
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert len(store.history("app", "t1")) == 1


def test_spec_secrets_never_reach_the_file(
    store: SqliteStore, make_record: RecordFactory, state_path: Path
) -> None:
    store.create_task(make_record())
    raw = sqlite3.connect(state_path).execute("SELECT spec_json FROM tasks").fetchone()[0]
    assert "c2VjcmV0LWJ5dGVz" not in raw
    assert "hunter2" not in raw
    assert "fast" in raw  # a value whose name does not look secret is kept


def test_second_writer_with_stale_state_cannot_apply_the_same_move(
    state_path: Path, make_record: RecordFactory
) -> None:
    # Two connections read PENDING; both try PENDING -> PROVISIONING. The compare-and-set
    # lets exactly the first through, whatever the order of the two processes.
    first = SqliteStore.open(state_path)
    second = SqliteStore.open(state_path)
    try:
        first.create_task(make_record())
        seen_by_first = first.get_task("app", "t1")
        seen_by_second = second.get_task("app", "t1")
        assert seen_by_first is not None and seen_by_second is not None
        assert first.transition("app", "t1", seen_by_first.state, S.PROVISIONING, "placed on A")
        assert not second.transition(
            "app", "t1", seen_by_second.state, S.PROVISIONING, "placed on B", host="B"
        )
        after = second.get_task("app", "t1")
        assert after is not None and after.state is S.PROVISIONING and after.host is None
        moves = [(t.from_state, t.to_state, t.reason) for t in second.history("app", "t1")]
        assert moves == [(None, S.PENDING, "submitted"), (S.PENDING, S.PROVISIONING, "placed on A")]
    finally:
        first.close()
        second.close()


def test_illegal_move_raises_and_changes_nothing(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.RUNNING))
    with pytest.raises(IllegalTransition, match="cannot move from RUNNING to PENDING"):
        store.transition("app", "t1", S.RUNNING, S.PENDING, "oops")
    record = store.get_task("app", "t1")
    assert record is not None and record.state is S.RUNNING
    assert len(store.history("app", "t1")) == 1


def test_transition_of_missing_task_returns_false(store: SqliteStore) -> None:
    assert not store.transition("app", "ghost", S.PENDING, S.PROVISIONING, "placed")


def test_transition_writes_fields_and_stamps_start_and_finish(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.STARTING, owner="me", lease_until=5000.0))
    assert store.transition(
        "app", "t1", S.STARTING, S.RUNNING, "started", container_id="c1", updated_at=1010.0
    )
    assert store.transition(
        "app",
        "t1",
        S.RUNNING,
        S.RUN_COMPLETED,
        "exited",
        result=TaskResult.from_exit_code(3),
        error="Task instance exited with status: 3",
        updated_at=1020.0,
    )
    assert store.transition("app", "t1", S.RUN_COMPLETED, S.DEPROVISIONING, "cleanup")
    assert store.transition("app", "t1", S.DEPROVISIONING, S.STOPPED, "done", updated_at=1030.0)
    record = store.get_task("app", "t1")
    assert record is not None
    assert record.container_id == "c1"
    assert record.started_at == 1010.0
    assert record.finished_at == 1030.0
    assert record.result == TaskResult(status=TaskStatus.FAILED, exit_code=3)
    assert record.reason == "done"
    assert record.owner is None and record.lease_until is None  # nothing left to own


def test_transition_with_expected_owner_refuses_another_owner(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(owner="tui", lease_until=5000.0))
    assert not store.transition(
        "app", "t1", S.PENDING, S.PROVISIONING, "placed", expected_owner="headless"
    )
    assert store.transition("app", "t1", S.PENDING, S.PROVISIONING, "placed", expected_owner="tui")


def test_update_fields_is_compare_and_set_and_leaves_no_history(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.PROVISIONING))
    assert not store.update_fields("app", "t1", S.PENDING, host="wrong")
    assert store.update_fields("app", "t1", S.PROVISIONING, host="h1", cores=[4], numa_node=1)
    record = store.get_task("app", "t1")
    assert record is not None and (record.host, record.cores, record.numa_node) == ("h1", [4], 1)
    assert len(store.history("app", "t1")) == 1


def test_unknown_field_is_a_programming_error(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record())
    with pytest.raises(ValueError, match="no task field 'colour'"):
        store.update_fields("app", "t1", S.PENDING, colour="red")


def test_list_filters_by_state_app_and_update_time(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record("a", created_at=1.0, updated_at=1.0))
    store.create_task(make_record("b", created_at=2.0, updated_at=50.0, state=S.RUNNING))
    store.create_task(make_record("c", app="other", created_at=3.0, updated_at=60.0))

    def keys(records: list[TaskRecord]) -> list[str]:
        return [r.task_id for r in records]

    assert keys(store.list_tasks()) == ["a", "b", "c"]
    assert keys(store.list_tasks(state=S.PENDING)) == ["a", "c"]
    assert keys(store.list_tasks(app="app")) == ["a", "b"]
    assert keys(store.list_tasks(updated_after=10.0)) == ["b", "c"]
    assert keys(store.list_tasks(state=S.PENDING, app="other")) == ["c"]
    assert keys(store.list_tasks(kill_requested=True)) == []
    store.request_kill("app", "a")
    assert keys(store.list_tasks(kill_requested=True)) == ["a"]
    assert keys(store.list_tasks(state=S.RUNNING, kill_requested=True)) == []


def test_delete_forgets_a_finished_task_and_frees_its_id(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.LOST))
    store.delete_task("app", "t1")
    assert store.get_task("app", "t1") is None
    assert store.history("app", "t1") == []
    store.create_task(make_record(created_at=2000.0))
    assert [t.to_state for t in store.history("app", "t1")] == [S.PENDING]


def test_delete_refuses_a_task_that_may_still_run(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record(state=S.RUNNING))
    with pytest.raises(TaskNotTerminal, match="is RUNNING; only a finished task"):
        store.delete_task("app", "t1")
    assert store.get_task("app", "t1") is not None


def test_delete_of_unknown_task_says_no_task_found(store: SqliteStore) -> None:
    with pytest.raises(TaskNotFound, match="No task found") as caught:
        store.delete_task("app", "nope")
    assert caught.value.exit_code == ExitCode.NOT_FOUND


def test_prune_removes_only_terminal_tasks_finished_before_the_cutoff(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record("old", state=S.STOPPED, finished_at=100.0))
    store.create_task(make_record("recent", state=S.STOPPED, finished_at=900.0))
    store.create_task(make_record("old-live", state=S.RUNNING, updated_at=100.0))
    store.create_task(make_record("old-lost", state=S.LOST, updated_at=100.0))
    assert store.prune(500.0, now=1000.0) == 2
    assert sorted(r.task_id for r in store.list_tasks()) == ["old-live", "recent"]
    assert store.history("app", "old") == []


def test_store_passes_sqlite_integrity_check(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record())
    assert store.integrity_check() == ["ok"]


def test_replaced_spec_is_read_back_not_an_earlier_parse(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record())
    first = store.get_task("app", "t1")
    assert first is not None
    other = first.spec.model_copy(update={"args": ["echo", "changed"]})
    assert store.update_fields("app", "t1", S.PENDING, spec=other)
    again = store.get_task("app", "t1")
    assert again is not None and again.spec.args == ["echo", "changed"]


def test_task_whose_stored_spec_no_longer_loads_is_a_store_error_naming_it(
    store: SqliteStore, make_record: RecordFactory, state_path: Path
) -> None:
    store.create_task(make_record())
    raw = sqlite3.connect(state_path)
    raw.execute('UPDATE tasks SET spec_json = \'{"sourceAppName": "app"}\'')
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="holds task app/t1 whose spec does not load"):
        store.get_task("app", "t1")
