"""A terminal PROVISIONING_FAILED task keeps no owner, and a pull stopped by a kill is cleaned up
(DEPROVISIONING -> STOPPED) by the next engine even when its owner died right after
PROVISIONING_FAILED. The interleaving is forced: the owner's cleanup step never runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fake_hosts import ScriptedHost
from test_engine_kill_requests import created, engine

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import RunResult
from drove_tui.engine import lifecycle
from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.models.inventory import HostConfig, Inventory
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

S = TaskState


class PullHost(ScriptedHost):
    """`pull` (the pull script) answers `pull_reply`, or hangs when it is None; the
    deprovisioning script succeeds."""

    def __init__(self, pull_reply: RunResult | None) -> None:
        self.pull_reply = pull_reply
        self.ran: list[str] = []

    async def reply(self, cmd: Command, stdin: bytes | None) -> RunResult:
        script = cmd.argv()[2]
        what = "pull" if " pull " in script else "finish" if " rm -f " in script else script
        self.ran.append(what)
        if what == "pull":
            if self.pull_reply is None:
                await asyncio.Event().wait()  # a registry that never answers
            assert self.pull_reply is not None
            return self.pull_reply
        assert what == "finish", script
        return RunResult(0, b"", b"")


def provisioning(eng: Engine, fake: PullHost) -> TaskRecord:
    created(eng, "t1", state=S.PROVISIONING, host="h1", numa_node=0, cores=[0])
    assert eng.store.acquire("app", "t1", eng.owner, eng.lease_ttl_s)
    eng.cluster.transport = lambda _host: fake  # type: ignore[method-assign,assignment,return-value]
    got = eng.store.get_task("app", "t1")
    assert got is not None
    return got


async def test_a_failed_pull_leaves_a_terminal_task_with_no_owner(tmp_path: Path) -> None:
    eng = engine(tmp_path / "state.db")
    try:
        record = provisioning(eng, PullHost(RunResult(1, b"", b"manifest unknown")))
        assert record.owner == eng.owner
        await lifecycle.provisioning(eng, record)
        done = eng.get("app", "t1")
        assert done.state is S.PROVISIONING_FAILED
        assert "manifest unknown" in (done.error or "")
        assert (done.owner, done.lease_until) == (None, None)
    finally:
        await eng._close()


async def test_a_killed_pull_whose_owner_died_before_deprovisioning_is_finished_on_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    inv = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1")])
    # The first process: its leases lapse at once, so its death needs no waiting.
    first = Engine(inv, SqliteStore.open(path), lease_ttl_s=0.0)
    at_gap = asyncio.Event()

    async def dies_here(_eng: Engine, _record: TaskRecord) -> None:
        at_gap.set()
        await asyncio.Event().wait()  # the process is SIGKILLed before its cleanup step

    monkeypatch.setitem(lifecycle.STEPS, S.PROVISIONING_FAILED, dies_here)
    record = provisioning(first, PullHost(None))
    first.runners.run(record)
    await first.kill("app", "t1")
    async with asyncio.timeout(10):
        await at_gap.wait()
    # SIGKILL: the runner ends without handing the lease back (no clean close).
    await first.runners.stop()  # cancels the runners; only Engine's close releases leases
    await first.cluster.close()
    first.store.close()
    gap = SqliteStore.open(path).get_task("app", "t1")
    assert gap is not None and gap.state is S.PROVISIONING_FAILED and gap.owner == first.owner
    monkeypatch.undo()

    fake = PullHost(None)
    second = engine(path)
    second.cluster.transport = lambda _host: fake  # type: ignore[method-assign,assignment,return-value]
    try:
        second.runners.take_over()  # what Engine.open does on start
        async with asyncio.timeout(10):
            done = await second.wait("app", "t1")
        assert done.state is S.STOPPED
        assert done.result is not None and done.result.status is TaskStatus.CANCELLED
        assert (done.owner, done.lease_until) == (None, None)
        assert fake.ran == ["finish"]
        moves = [t.to_state for t in second.store.history("app", "t1")]
        assert moves[-3:] == [S.PROVISIONING_FAILED, S.DEPROVISIONING, S.STOPPED]
    finally:
        await second._close()
