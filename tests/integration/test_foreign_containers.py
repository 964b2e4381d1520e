"""Two stores on one sandbox host: each sees the other's running task as foreign (issue #6),
in the engine (what the TUI shows) and in `drove-tui hosts list --json`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from drove_tui.engine.engine import Engine
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import Inventory
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskState

if TYPE_CHECKING:  # the fixture provides it
    from tests.conftest import Sandbox

APP = "foreigntest"
HOST = "host1"


def inventory(sandbox: Sandbox) -> Inventory:
    inv = load_inventory(sandbox.inventory_path, ssh_config=sandbox.ssh_config)
    return inv.model_copy(
        update={"settings": inv.settings.model_copy(update={"probe_interval_s": 1})}
    )


def sleeper(sandbox: Sandbox, task: str) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "sourceAppName": APP,
            "taskId": task,
            "executable": {"type": "DOCKER", "url": sandbox.image},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
            "args": ["sh", "-c", "sleep 300"],
        }
    )


async def running(engine: Engine, task: str) -> None:
    async with asyncio.timeout(120):
        while True:
            record = engine.get(APP, task)
            if record.state is TaskState.RUNNING:
                return
            assert record.state not in TERMINAL, record
            await asyncio.sleep(0.05)


def hosts_list(sandbox: Sandbox, state: Path) -> dict[str, object]:
    argv = ["hosts", "list", HOST, "--json", "-i", str(sandbox.inventory_path)]
    done = subprocess.run(
        [sys.executable, "-m", "drove_tui", *argv, "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert isinstance(row, dict)
    return row


async def test_each_store_sees_the_others_running_task_as_foreign(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    leftovers = f"docker ps -aq --filter label=drove.app={APP} | xargs -r docker rm -f"
    sandbox.run_ssh(HOST, "sh", "-c", leftovers)
    inv = inventory(sandbox)
    ta, tb = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    async with (
        Engine.open(inv, tmp_path / "a.db") as a,
        Engine.open(inv, tmp_path / "b.db") as b,
    ):
        assert a.store.store_id != b.store.store_id
        try:
            await a.submit(sleeper(sandbox, ta), pin_host=HOST)
            await b.submit(sleeper(sandbox, tb), pin_host=HOST)
            await asyncio.gather(running(a, ta), running(b, tb))
            # Probes taken after both containers run.
            await asyncio.gather(a.probe(HOST), b.probe(HOST))
            assert [c.task_id for c in a.foreign(HOST) if c.app == APP] == [tb]
            assert [c.task_id for c in b.foreign(HOST) if c.app == APP] == [ta]

            row = await asyncio.to_thread(hosts_list, sandbox, tmp_path / "a.db")
            assert row["store_id"] == a.store.store_id
            assert row["containers_ours"] == 1
            assert isinstance(row["containers_foreign"], int) and row["containers_foreign"] >= 1
        finally:
            for engine, task in ((a, ta), (b, tb)):
                record = engine.store.get_task(APP, task)
                if record is not None and not record.terminal:
                    await engine.kill(APP, task)
            async with asyncio.timeout(120):
                await asyncio.gather(a.wait(APP, ta), b.wait(APP, tb))
