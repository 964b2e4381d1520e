"""Leases are renewed only for the tasks this process really drives: a task whose runner
ended lets its lease lapse, so another process can take it over. No host is needed."""

from __future__ import annotations

import time
from pathlib import Path

from test_engine_kill_requests import created, engine


async def test_a_task_without_a_live_runner_is_not_renewed_and_is_taken_over(
    tmp_path: Path,
) -> None:
    owner, other = engine(tmp_path / "state.db"), engine(tmp_path / "state.db")
    try:
        now = time.time()
        driven = created(owner, "driven", owner=owner.owner, lease_until=now + 1)
        owner.runners.run(driven)
        # Held by this process in the store, but its runner is gone (it died): the lease
        # ran out a moment ago and must stay run out.
        created(owner, "orphan", owner=owner.owner, lease_until=now - 1)

        await owner.runners.tick_once(take_over=False)

        renewed = owner.store.get_task("app", "driven")
        assert renewed is not None and (renewed.lease_until or 0) >= now + owner.lease_ttl_s
        orphan = owner.store.get_task("app", "orphan")
        assert orphan is not None and orphan.lease_until == now - 1
        other.runners.take_over()
        assert ("app", "orphan") in other.runners
        assert ("app", "driven") not in other.runners
    finally:
        await owner._close()
        await other._close()
