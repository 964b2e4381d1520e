"""Host failures on the real sandbox: loss past the grace, a partition healed within it, and two
drove-tui processes with their own stores placing on one host at the same moment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drove_tui.engine.engine import Engine
from drove_tui.engine.events import TaskProgress
from drove_tui.models.states import TaskResult, TaskState, TaskStatus
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import (
    inventory,
    remove_leftovers,
    spec,
    wait_state,
    with_cores,
)

S = TaskState


@pytest.fixture(autouse=True)
def _clean_hosts(sandbox: Sandbox) -> None:
    remove_leftovers(sandbox, "it")


async def test_host_lost_past_the_grace_turns_its_task_unknown_then_lost(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(inventory(sandbox, grace_period_s=4), tmp_path / "s.db") as engine:
        events = engine.subscribe()
        await engine.submit(spec(sandbox, "gone", ["sleep", "120"]), pin_host="host3")
        await wait_state(engine, "it", "gone", S.RUNNING)
        try:
            sandbox.stop("host3", "sshd")
            sandbox.stop("host3", "docker")
            await wait_state(engine, "it", "gone", S.UNKNOWN)
            done = await asyncio.wait_for(engine.wait("it", "gone"), 60)
        finally:
            sandbox.start("host3", "docker")
            sandbox.start("host3", "sshd")
        # Its container is back with the host, exited (docker stopped it): reported, and
        # removed, so that it holds no cores for good; reap_zombies is only for running ones.
        async with asyncio.timeout(60):
            async for event in events:
                if isinstance(event, TaskProgress) and "turned up" in event.message:
                    assert "exited; removing it" in event.message
                    break
        for _ in range(300):  # the host is asked, not told: look until it is gone (60 s)
            left = sandbox.run_ssh(
                "host3", "docker", "ps", "-aq", "--filter", "label=drove.task=gone"
            )
            if not left.stdout.strip():
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the exited container of the LOST task is still on host3")
    assert done.state is S.LOST
    assert done.result == TaskResult.lost()
    assert "host3" in done.reason


async def test_partition_shorter_than_the_grace_ends_with_the_real_exit_code(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    inv = inventory(sandbox, grace_period_s=60)
    async with Engine.open(inv, tmp_path / "s.db") as engine:
        task = spec(sandbox, "cut", ["sh", "-c", "sleep 3; exit 0"])
        await engine.submit(task, pin_host="host4")
        await wait_state(engine, "it", "cut", S.RUNNING)
        try:
            sandbox.cut("host4")
            # The task exits during the cut; drove-tui notices the host went silent.
            await wait_state(engine, "it", "cut", S.UNKNOWN)
        finally:
            sandbox.heal("host4")
        done = await asyncio.wait_for(engine.wait("it", "cut"), 90)
    assert done.state is S.STOPPED
    assert done.result is not None
    assert (done.result.status, done.result.exit_code) == (TaskStatus.SUCCESSFUL, 0)


async def test_two_stores_placing_on_one_host_never_run_two_tasks_at_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # host2 has 2 cores; each task needs both. Both processes see the host empty and choose
    # it at the same moment; the host lock and the label re-check let only one create.
    inv = inventory(sandbox)
    async with (
        Engine.open(inv, tmp_path / "a.db") as first,
        Engine.open(inv, tmp_path / "b.db") as second,
    ):
        await asyncio.gather(first.probe("host2"), second.probe("host2"))
        both = [with_cores(spec(sandbox, name, ["sh", "-c", "sleep 2"]), 2) for name in ("a", "b")]
        await asyncio.gather(
            first.submit(both[0], pin_host="host2"), second.submit(both[1], pin_host="host2")
        )
        done = await asyncio.gather(first.wait("it", "a"), second.wait("it", "b"))
        spans = []
        for engine, name in ((first, "a"), (second, "b")):
            history = engine.store.history("it", name)
            start = next(t.at for t in history if t.to_state is S.RUNNING)
            end = next(t.at for t in history if t.to_state is S.RUN_COMPLETED)
            spans.append((start, end))
    assert all(r.state is S.STOPPED for r in done)
    assert all(r.result is not None and r.result.status is TaskStatus.SUCCESSFUL for r in done)
    (_, a_end), (b_start, _) = sorted(spans)
    # The second container was created only after the first was removed, hence after its
    # RUN_COMPLETED was recorded.
    assert b_start > a_end
