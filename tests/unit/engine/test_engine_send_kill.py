"""A kill that does not reach docker is sent again until it does, the container's exit is
known, or the task leaves RUNNING: never dropped (Engine.send_kill, lifecycle.running)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_hosts import ScriptedHost
from test_engine_kill_requests import created, engine

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import CONNECTION_LOST, RunResult, Unreachable
from drove_tui.engine import engine as engine_module
from drove_tui.engine import executor, lifecycle
from drove_tui.engine.engine import Engine
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

S = TaskState
LOST = Unreachable("h1", CONNECTION_LOST, "h1: connection lost")


class KillHost(ScriptedHost):
    """Answers `docker kill` with the next reply of a script (the last one repeats)."""

    def __init__(self, *replies: RunResult | Unreachable) -> None:
        self.replies = list(replies)
        self.kills = 0
        self.on_kill: Callable[[int], None] = lambda _n: None

    async def reply(self, cmd: Command, stdin: bytes | None) -> RunResult:
        assert cmd.argv()[1] == "kill", cmd
        self.kills += 1
        self.on_kill(self.kills)
        reply = self.replies[min(self.kills, len(self.replies)) - 1]
        if isinstance(reply, Unreachable):
            raise reply
        return reply


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "KILL_RETRY_S", 0.0)


def running_task(eng: Engine, fake: KillHost) -> TaskRecord:
    record = created(eng, "t1", state=S.RUNNING, host="h1", numa_node=0, cores=[0])
    eng.cluster.transport = lambda _host: fake  # type: ignore[method-assign,assignment,return-value]
    return record


async def test_a_kill_lost_on_the_way_is_sent_again_until_docker_takes_it(tmp_path: Path) -> None:
    eng = engine(tmp_path / "state.db")
    fake = KillHost(LOST, LOST, RunResult(0, b"", b""))
    try:
        record = running_task(eng, fake)
        async with asyncio.timeout(10):  # a hang fails the test
            await eng.send_kill(record)
        assert fake.kills == 3
    finally:
        await eng._close()


async def test_a_container_already_gone_or_stopped_needs_no_second_kill(tmp_path: Path) -> None:
    eng = engine(tmp_path / "state.db")
    fake = KillHost(RunResult(1, b"", b"Error response from daemon: No such container: x"))
    try:
        record = running_task(eng, fake)
        await eng.send_kill(record)
        assert fake.kills == 1
    finally:
        await eng._close()


async def test_retrying_stops_when_the_task_leaves_running(tmp_path: Path) -> None:
    eng = engine(tmp_path / "state.db")
    fake = KillHost(LOST)
    try:
        record = running_task(eng, fake)

        def host_lost(n: int) -> None:
            if n == 2:  # the host watcher gives up on the host while the kill is retried
                current = eng.get("app", "t1")
                assert eng.move(current, S.UNKNOWN, "host h1 is UNREACHABLE") is not None

        fake.on_kill = host_lost
        async with asyncio.timeout(10):
            await eng.send_kill(record)
        assert fake.kills == 2
    finally:
        await eng._close()


async def test_a_killed_running_task_whose_first_kill_failed_still_ends_cancelled(
    tmp_path: Path,
) -> None:
    eng = engine(tmp_path / "state.db")
    fake = KillHost(LOST, RunResult(0, b"", b""))
    try:
        record = running_task(eng, fake)
        name = executor.container_name(record.instance_id)
        # The delivered kill ends the container: its exit arrives as the watcher would say.
        fake.on_kill = lambda n: eng.exits.on_exit(name, 137) if n == 2 else None
        eng.exits.expect(record)  # as STARTING did
        eng._killed.add(record.key)
        async with asyncio.timeout(10):
            await lifecycle.running(eng, eng.get("app", "t1"))
        done = eng.get("app", "t1")
        assert fake.kills == 2
        assert done.state is S.RUN_COMPLETED
        assert done.result is not None and done.result.status is TaskStatus.CANCELLED
    finally:
        await eng._close()
