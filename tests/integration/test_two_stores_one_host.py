"""Two stores race for the same cores of one sandbox host (docs/engine.md, "The census").

The create script counts the engine's own view of the host's containers (its last probe)
instead of asking `docker ps`. A container another process made after that probe is missing
from the view; its reservation, written under the host lock, must still stop a second
create on the same cores. Without a view (too old) the script asks `docker ps`, which must
stop it too.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from drove_tui.engine.capacity import CENSUS_MAX_AGE_S
from drove_tui.engine.engine import Engine
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import Inventory
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskState

if TYPE_CHECKING:  # the fixture provides it
    from tests.conftest import Sandbox

APP = "censustest"
HOST = "host1"


def inventory(sandbox: Sandbox, probe_interval_s: float) -> Inventory:
    inv = load_inventory(sandbox.inventory_path, ssh_config=sandbox.ssh_config)
    settings = inv.settings.model_copy(update={"probe_interval_s": probe_interval_s})
    return inv.model_copy(update={"settings": settings})


def every_core(sandbox: Sandbox, task: str, cores: int) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "sourceAppName": APP,
            "taskId": task,
            "executable": {"type": "DOCKER", "url": sandbox.image},
            "resources": [{"type": "CPU", "count": cores}, {"type": "MEMORY", "sizeInMB": 64}],
            "args": ["sh", "-c", "sleep 300"],
        }
    )


async def until(engine: Engine, task: str, state: TaskState) -> None:
    async with asyncio.timeout(120):
        while (record := engine.get(APP, task)).state is not state:
            assert record.state not in TERMINAL, record
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("view", [True, False], ids=["engine view", "docker ps"])
async def test_a_create_the_other_stores_view_misses_is_stopped_by_its_reservation(
    sandbox: Sandbox, tmp_path: Path, view: bool
) -> None:
    leftovers = f"docker ps -aq --filter label=drove.app={APP} | xargs -r docker rm -f"
    sandbox.run_ssh(HOST, "sh", "-c", leftovers)
    ta, tb = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    # B probes seldom (its view stays in use, being younger than CENSUS_MAX_AGE_S): after
    # its first probe, B never sees A's container until it asks for a fresh probe.
    slow = CENSUS_MAX_AGE_S - 5
    async with (
        Engine.open(inventory(sandbox, 1), tmp_path / "a.db") as a,
        Engine.open(inventory(sandbox, slow), tmp_path / "b.db") as b,
    ):
        try:
            await b.probe(HOST)
            facts = b.watch.status(HOST).facts
            assert facts is not None
            cores = facts.cores  # every core of the host, for each task
            await a.submit(every_core(sandbox, ta, cores), pin_host=HOST)
            await until(a, ta, TaskState.RUNNING)
            started_a = a.get(APP, ta).started_at
            assert started_a is not None
            assert b.watch.probed_at(HOST) < started_a  # B's view predates A's container

            sent: list[str | None] = []  # the census B's creates send
            real = b.capacity.census

            def spy(host: str) -> str | None:
                sent.append(real(host) if view else None)  # None: the script asks docker ps
                return sent[-1]

            b.capacity.census = spy  # type: ignore[method-assign]
            await b.submit(every_core(sandbox, tb, cores), pin_host=HOST)
            async with asyncio.timeout(60):
                while "has no room right now" not in (b.get(APP, tb).reason or ""):
                    assert b.get(APP, tb).state is not TaskState.RUNNING
                    await asyncio.sleep(0.05)
            reason = b.get(APP, tb).reason or ""
            assert "is already taken on this host" in reason, reason  # the script said so
            if view:  # B counted its own view, which lacks A's container: A's reservation
                assert sent and sent[0] is not None, sent  # refused it
                assert a.get(APP, ta).instance_id not in sent[0]

            await a.kill(APP, ta)
            stopped_a = await a.wait(APP, ta)
            await until(b, tb, TaskState.RUNNING)
            started_b = b.get(APP, tb).started_at
            assert started_b is not None and stopped_a.updated_at <= started_b
        finally:
            for engine, task in ((a, ta), (b, tb)):
                record = engine.store.get_task(APP, task)
                if record is not None and not record.terminal:
                    await engine.kill(APP, task)
            async with asyncio.timeout(120):
                await asyncio.gather(a.wait(APP, ta), b.wait(APP, tb))


async def test_docker_ps_counts_a_managed_container_without_a_cores_label(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Made by hand, with no reservation and no drove.cores label: only the script's own
    # `docker ps` sees it, and its memory must still count on its NUMA node.
    leftovers = f"docker ps -aq --filter label=drove.app={APP} | xargs -r docker rm -f"
    sandbox.run_ssh(HOST, "sh", "-c", leftovers)
    hand, task = f"hand{uuid.uuid4().hex[:8]}", f"c{uuid.uuid4().hex[:8]}"
    async with Engine.open(inventory(sandbox, CENSUS_MAX_AGE_S - 5), tmp_path / "b.db") as b:
        b.capacity.census = lambda host: None  # type: ignore[method-assign]
        try:
            await b.probe(HOST)  # before the hand-made container: B places on HOST
            labels = ["drove.managed=1", f"drove.app={APP}", "drove.numa=0"]
            labels.append(f"drove.memory_mb={10**9}")
            argv = ["docker", "run", "-d", "--name", hand]
            argv += [part for label in labels for part in ("--label", label)]
            started = sandbox.run_ssh(HOST, *argv, sandbox.image, "sleep", "300")
            assert started.returncode == 0, started.stderr
            await b.submit(every_core(sandbox, task, 1), pin_host=HOST)
            async with asyncio.timeout(60):
                while "has no room right now" not in (b.get(APP, task).reason or ""):
                    assert b.get(APP, task).state is not TaskState.RUNNING
                    await asyncio.sleep(0.05)
            reason = b.get(APP, task).reason or ""
            assert "MB are free on NUMA node 0" in reason, reason
            sandbox.run_ssh(HOST, "docker", "rm", "-f", hand)
            await until(b, task, TaskState.RUNNING)
        finally:
            sandbox.run_ssh(HOST, "docker", "rm", "-f", hand)
            record = b.store.get_task(APP, task)
            if record is not None and not record.terminal:
                await b.kill(APP, task)
                async with asyncio.timeout(120):
                    await b.wait(APP, task)
