"""The app on the real sandbox (real sshd, real dockerd): create, watch, logs, kill, host loss."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from pilot_helpers import until as wait_until
from textual.pilot import Pilot
from textual.widgets import Input

from drove_tui.engine.engine import Engine
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.host import HostState
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.tui.app import DroveApp
from drove_tui.tui.engine_backend import EngineBackend
from drove_tui.tui.screens import ConfirmScreen, DetailScreen, LogsScreen
from drove_tui.tui.widgets import LogView, RowTable

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox

APP = "tuitest"
SIZE = (120, 40)
# Real hosts, real containers: a generous limit, and no need to look very often.
until = partial(wait_until, limit=120.0, step=0.05)


@pytest.fixture(autouse=True)
def _clean_hosts(sandbox: Sandbox) -> None:
    for host in sandbox.hosts:
        sandbox.run_ssh(
            host,
            "sh",
            "-c",
            f"docker ps -aq --filter label=drove.app={APP} | xargs -r docker rm -f",
        )


@asynccontextmanager
async def running_app(sandbox: Sandbox, state: Path) -> AsyncIterator[tuple[DroveApp, Pilot[int]]]:
    inv = load_inventory(sandbox.inventory_path, ssh_config=sandbox.ssh_config)
    # Fast probes; a long grace so a stopped host's task stays UNKNOWN while we look at it.
    settings = inv.settings.model_copy(update={"probe_interval_s": 1, "grace_period_s": 300})
    fast = {"connect_timeout": 2.0, "keepalive_interval": 1.0, "keepalive_count_max": 2}
    hosts = [h.model_copy(update=fast) for h in inv.hosts]
    inv = inv.model_copy(update={"settings": settings, "hosts": hosts})
    async with Engine.open(inv, state) as engine:
        app = DroveApp(EngineBackend(engine))
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot


def spec_yaml(sandbox: Sandbox, task: str, command: str) -> str:
    return (
        f"sourceAppName: {APP}\ntaskId: {task}\n"
        f"executable: {{type: DOCKER, url: '{sandbox.image}', dockerPullTimeout: 60 seconds}}\n"
        "resources: [{type: CPU, count: 1}, {type: MEMORY, sizeInMB: 64}]\n"
        f"args: [sh, -c, '{command}']\n"
    )


def state_of(app: DroveApp, key: str) -> TaskState | None:
    row = app.tasks.get(key)
    return row.record.state if row else None


async def test_create_from_file_runs_to_stopped_and_its_log_is_searchable(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    spec_file = tmp_path / "hello.yaml"
    spec_file.write_text(
        spec_yaml(sandbox, "hello", "for i in 1 2 3; do echo line $i; done; echo needle-42")
    )
    key = f"{APP}/hello"
    async with running_app(sandbox, tmp_path / "state.db") as (app, pilot):
        await pilot.press("c")
        await until(pilot, lambda: app.screen.query("#path"))
        app.screen.query_one("#path", Input).value = str(spec_file)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert isinstance(app.screen, DetailScreen) and app.screen.key == key
        await until(pilot, lambda: state_of(app, key) is TaskState.STOPPED)
        # The timeline the detail view shows: every step from PENDING to STOPPED.
        steps = [t.to_state for t in app.backend.history(APP, "hello")]
        assert steps[0] is TaskState.PENDING and steps[-1] is TaskState.STOPPED
        assert TaskState.RUNNING in steps or TaskState.RUN_COMPLETED in steps
        record = app.tasks[key].record
        assert record.result is not None and record.result.status is TaskStatus.SUCCESSFUL

        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        view = app.screen.query_one(LogView)
        await until(pilot, lambda: any("needle-42" in text for text, _ in view.lines), limit=60)
        await pilot.press("slash", *"needle", "enter")
        await pilot.pause()
        assert len(view.matches) == 1
        assert "needle-42" in view.lines[view.matches[0] - view.dropped][0]


async def test_kill_of_a_running_task_from_the_tasks_view(sandbox: Sandbox, tmp_path: Path) -> None:
    key = f"{APP}/sleeper"
    async with running_app(sandbox, tmp_path / "state.db") as (app, pilot):
        spec = TaskSpec.model_validate(yaml.safe_load(spec_yaml(sandbox, "sleeper", "sleep 300")))
        await app.backend.submit(spec, op_spec=None)
        await until(pilot, lambda: state_of(app, key) is TaskState.RUNNING)
        app.screen.query_one(RowTable).move_to(key)
        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#question").render())
        host = app.tasks[key].record.host
        assert key in question and f"host {host}" in question
        await pilot.press("y")
        await until(pilot, lambda: state_of(app, key) is TaskState.STOPPED)
        result = app.tasks[key].record.result
        assert result is not None and result.status is TaskStatus.CANCELLED


async def test_stopped_host_turns_unreachable_and_its_task_unknown(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    key = f"{APP}/stranded"
    async with running_app(sandbox, tmp_path / "state.db") as (app, pilot):
        spec = TaskSpec.model_validate(yaml.safe_load(spec_yaml(sandbox, "stranded", "sleep 300")))
        await app.backend.submit(spec, op_spec=None, pin_host="host2")
        await until(pilot, lambda: state_of(app, key) is TaskState.RUNNING)
        await pilot.press("2")
        try:
            sandbox.stop("host2", "sshd")
            # Sessions already open outlive sshd (as with a real `systemctl stop ssh`); drop
            # ours as a network blip would, so that the next probe must connect anew.
            assert isinstance(app.backend, EngineBackend)
            await app.backend.engine.cluster.transport("host2").close()
            await until(pilot, lambda: app.host_rows["host2"].status.state is HostState.UNREACHABLE)
            await until(pilot, lambda: state_of(app, key) is TaskState.UNKNOWN)
            assert "host2" in app.screen.query_one(RowTable).order
        finally:
            sandbox.start("host2", "sshd")
        await until(pilot, lambda: app.host_rows["host2"].status.state is HostState.ONLINE)
        await until(pilot, lambda: state_of(app, key) is TaskState.RUNNING)
        await app.backend.kill(APP, "stranded")
        await until(pilot, lambda: state_of(app, key) is TaskState.STOPPED)
