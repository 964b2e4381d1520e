"""Containers of tasks already given up on (recovery.report_zombies): an exited one is removed
with its output kept, a running one is left alone unless settings.reap_zombies says so."""

from __future__ import annotations

from pathlib import Path

from fake_hosts import FakeHost
from test_engine_kill_requests import created, engine

from drove_tui.cluster.transport import RunResult
from drove_tui.engine import executor, recovery
from drove_tui.engine.engine import Engine
from drove_tui.engine.logs import merge_capture
from drove_tui.models.host import ManagedContainer
from drove_tui.models.states import TaskResult, TaskState

S = TaskState


def answer(line: str) -> RunResult:
    if "logs" in line:  # the finish script: the log, then the removal
        return RunResult(0, b"2026-01-01T00:00:01Z last words\n", b"")
    return RunResult(0, b"", b"")


def container(eng: object, task_id: str, instance_id: str, *, running: bool) -> ManagedContainer:
    return ManagedContainer(
        name=executor.container_name(instance_id),
        container_id="c",
        app="app",
        task_id=task_id,
        instance_id=instance_id,
        running=running,
        exit_code=None if running else 137,
        owner=eng.store.store_id,  # type: ignore[attr-defined]
    )


def engine_on_fake_host(tmp_path: Path) -> tuple[Engine, FakeHost]:
    """An engine whose every host answers as `answer` says."""
    eng = engine(tmp_path / "state.db")
    fake = FakeHost(answer)
    eng.cluster.transport = lambda _host: fake  # type: ignore[method-assign,assignment,return-value]
    return eng, fake


async def test_an_exited_zombie_is_removed_with_its_output_kept_a_running_one_is_not(
    tmp_path: Path,
) -> None:
    eng, fake = engine_on_fake_host(tmp_path)
    lost = created(eng, "dead", state=S.LOST, host="h1", result=TaskResult.lost())
    alive = created(eng, "alive", state=S.LOST, host="h1", result=TaskResult.lost())
    exited = container(eng, "dead", lost.instance_id, running=False)
    running = container(eng, "alive", alive.instance_id, running=True)
    try:
        await recovery.report_zombies(eng, "h1", [exited, running])
        assert len(fake.asked) == 1 and exited.name in fake.asked[0]  # only the exited one
        assert [line.text for line in eng.logs_store.read("app", "dead")] == ["last words"]

        eng.inventory.settings.reap_zombies = True
        eng._sighted.clear()
        await recovery.report_zombies(eng, "h1", [running])
        assert "rm -f -v" in fake.asked[-1] and fake.asked[-1].endswith(f" {running.name}")
    finally:
        eng.store.close()


async def test_a_lost_tasks_partial_copy_is_replaced_by_its_zombies_whole_log(
    tmp_path: Path,
) -> None:
    eng, _ = engine_on_fake_host(tmp_path)
    lost = created(eng, "cut", state=S.LOST, host="h1", result=TaskResult.lost())
    # What its channel saw before the host went silent.
    eng.logs_store.write(merge_capture("app", "cut", b"2026-01-01T00:00:00Z first words\n", b""))
    try:
        zombie = container(eng, "cut", lost.instance_id, running=False)
        await recovery.report_zombies(eng, "h1", [zombie])
        assert [line.text for line in eng.logs_store.read("app", "cut")] == ["last words"]
    finally:
        eng.store.close()
