"""Task leases: one owner process per task."""

from __future__ import annotations

from collections.abc import Callable

from drove_tui.engine.store.sqlite import SqliteStore
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord

RecordFactory = Callable[..., TaskRecord]


def _owner(store: SqliteStore, task: str = "t1") -> tuple[str | None, float | None]:
    record = store.get_task("app", task)
    assert record is not None
    return record.owner, record.lease_until


def test_free_task_is_leased_to_the_first_asker_only(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record())
    assert store.acquire("app", "t1", "tui", 30.0, now=100.0)
    assert not store.acquire("app", "t1", "headless", 30.0, now=110.0)
    assert _owner(store) == ("tui", 130.0)


def test_owner_may_acquire_again_to_extend(store: SqliteStore, make_record: RecordFactory) -> None:
    store.create_task(make_record())
    assert store.acquire("app", "t1", "tui", 30.0, now=100.0)
    assert store.acquire("app", "t1", "tui", 30.0, now=120.0)
    assert _owner(store) == ("tui", 150.0)


def test_lapsed_lease_can_be_taken_over(store: SqliteStore, make_record: RecordFactory) -> None:
    store.create_task(make_record())
    assert store.acquire("app", "t1", "tui", 30.0, now=100.0)
    assert store.acquire("app", "t1", "headless", 30.0, now=131.0)
    assert _owner(store) == ("headless", 161.0)


def test_acquire_of_missing_task_fails(store: SqliteStore) -> None:
    assert not store.acquire("app", "ghost", "tui", 30.0)


def test_renew_extends_only_the_given_live_tasks_the_owner_holds(
    store: SqliteStore, make_record: RecordFactory
) -> None:
    store.create_task(make_record("mine", owner="tui", lease_until=110.0))
    store.create_task(make_record("theirs", owner="headless", lease_until=110.0))
    store.create_task(
        make_record("done", state=TaskState.PROVISIONING_FAILED, owner="tui", lease_until=110.0)
    )
    store.create_task(make_record("orphan", owner="tui", lease_until=110.0))
    keys = [("app", "mine"), ("app", "theirs"), ("app", "done")]
    assert store.renew("tui", keys, 30.0, now=100.0) == 1
    assert _owner(store, "mine") == ("tui", 130.0)
    assert _owner(store, "theirs") == ("headless", 110.0)
    assert _owner(store, "done") == ("tui", 110.0)
    assert _owner(store, "orphan") == ("tui", 110.0)  # held, but not asked for: it lapses
    assert store.renew("tui", [], 30.0, now=100.0) == 0


def test_only_the_owner_can_release(store: SqliteStore, make_record: RecordFactory) -> None:
    store.create_task(make_record(owner="tui", lease_until=500.0))
    assert not store.release("app", "t1", "headless")
    assert _owner(store) == ("tui", 500.0)
    assert store.release("app", "t1", "tui")
    assert _owner(store) == (None, None)
