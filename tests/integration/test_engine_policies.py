"""Placement policies on real hosts: each policy chooses exactly the eligible hosts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from drove_tui.engine.engine import Engine
from drove_tui.models.states import TaskState
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import inventory, remove_leftovers, spec

S = TaskState
# host1 carries tag gpu, host2 tag zone=b; host3 and host4 are untagged.
TAGS = {"host1": {"gpu": ""}, "host2": {"zone": "b"}}


@pytest.fixture(autouse=True)
def _clean_hosts(sandbox: Sandbox) -> None:
    remove_leftovers(sandbox, "pl")


def tagged(sandbox: Sandbox) -> Any:
    inv = inventory(sandbox, placement="spread")
    hosts = [h.model_copy(update={"tags": TAGS.get(h.name, {})}) for h in inv.hosts]
    return inv.model_copy(update={"hosts": hosts})


async def hosts_chosen(
    engine: Engine, sandbox: Sandbox, name: str, count: int, policy: dict[str, Any] | None
) -> tuple[set[str], int]:
    """Submit `count` live tasks of app pl-NAME under `policy`; the hosts they got, and how
    many could not be placed (they stay PENDING)."""
    ids = [f"{name}{i}" for i in range(count)]
    for task_id in ids:
        extra = {"placementPolicy": policy} if policy else {}
        task = spec(sandbox, task_id, ["sleep", "60"], **extra)
        await engine.submit(task.model_copy(update={"source_app_name": "pl"}))
    async with asyncio.timeout(60):
        while True:
            records = [engine.get("pl", t) for t in ids]
            placed = [r for r in records if r.state is S.RUNNING]
            waiting = [r for r in records if r.state is S.PENDING and "no ONLINE host" in r.reason]
            if len(placed) + len(waiting) == count:
                break
            await asyncio.sleep(0.1)
    for record in [*waiting, *placed]:  # the waiting first, so none is placed meanwhile
        await engine.kill("pl", record.task_id)
    for task_id in ids:
        await engine.wait("pl", task_id)
    return {r.host for r in placed if r.host}, len(waiting)


async def test_each_policy_chooses_exactly_the_eligible_hosts(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(tagged(sandbox), tmp_path / "s.db") as engine:
        await engine.probe()
        # Untagged tasks (ANY) avoid tagged hosts: 4 cores on host3+host4 for 5 tasks.
        assert await hosts_chosen(engine, sandbox, "any", 5, None) == ({"host3", "host4"}, 1)
        assert await hosts_chosen(engine, sandbox, "notag", 2, {"type": "NO_TAG"}) == (
            {"host3", "host4"},
            0,
        )
        one = {"type": "ONE_PER_HOST"}
        assert await hosts_chosen(engine, sandbox, "one", 3, one) == ({"host3", "host4"}, 1)
        maxn = {"type": "MAX_N_PER_HOST", "numContainers": 1}
        assert await hosts_chosen(engine, sandbox, "maxn", 3, maxn) == ({"host3", "host4"}, 1)
        gpu = {"type": "MATCH_TAG", "tag": "gpu"}
        assert await hosts_chosen(engine, sandbox, "gpu", 2, gpu) == ({"host1"}, 0)
        rule = {"type": "RULE_BASED", "rule": '"zone" in tags && tags.zone == "b"'}
        assert await hosts_chosen(engine, sandbox, "rule", 2, rule) == ({"host2"}, 0)
        either = {
            "type": "COMPOSITE",
            "combiner": "OR",
            "policies": [gpu, {"type": "MATCH_TAG", "tag": "zone"}],
        }
        assert await hosts_chosen(engine, sandbox, "or", 4, either) == ({"host1", "host2"}, 0)
        both = {"type": "COMPOSITE", "combiner": "AND", "policies": [gpu, one]}
        assert await hosts_chosen(engine, sandbox, "and", 2, both) == ({"host1"}, 1)
