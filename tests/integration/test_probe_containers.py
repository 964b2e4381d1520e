"""The probe sees every drove-managed container on a host, with the allocation its labels hold,
and nothing else."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.probe import probe
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.host import offered_capacity

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox

HOST = "host2"


def _labels(app: str, task: str, cores: str, memory_mb: int) -> list[str]:
    labels = {
        "drove.managed": "1",
        "drove.app": app,
        "drove.task": task,
        "drove.instance": f"{app}-{task}-0000beef",
        "drove.cores": cores,
        "drove.numa": "0",
        "drove.memory_mb": str(memory_mb),
        "drove.owner": "integration-test",
    }
    return [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]


async def test_the_probe_lists_managed_containers_with_their_allocation(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    app = f"probe{secrets.token_hex(4)}"
    running, exited, foreign = (f"drove-{app}-{n}" for n in ("run", "exit", "plain"))
    docker = ["docker", "run", "--network", "none"]
    try:
        started = [
            sandbox.run_ssh(
                HOST,
                *docker,
                "-d",
                "--name",
                running,
                *_labels(app, "t1", "0,1", 64),
                sandbox.image,
                "sleep",
                "300",
            ),
            sandbox.run_ssh(
                HOST,
                *docker,
                "--name",
                exited,
                *_labels(app, "t2", "1", 32),
                sandbox.image,
                "sh",
                "-c",
                "exit 3",
            ),
            sandbox.run_ssh(HOST, *docker, "-d", "--name", foreign, sandbox.image, "sleep", "300"),
        ]
        assert [r.returncode for r in started] == [0, 3, 0], [r.stderr for r in started]
        host = load_inventory(sandbox.inventory_path).host(HOST)
        assert host is not None
        async with Cluster([host], user_known_hosts=tmp_path / "none") as cluster:
            facts = await probe(cluster.transport(host), host, timeout=30)
        mine = {c.name: c for c in facts.containers if c.app == app}
        assert set(mine) == {running, exited}
        assert foreign not in {c.name for c in facts.containers}
        live, done = mine[running], mine[exited]
        assert (live.running, live.exit_code, live.cores, live.memory_mb) == (
            True,
            None,
            [0, 1],
            64,
        )
        assert (live.task_id, live.instance_id, live.owner) == (
            "t1",
            f"{app}-t1-0000beef",
            "integration-test",
        )
        assert (done.running, done.exit_code, done.cores) == (False, 3, [1])
        assert done.finished_at is not None
        assert len(live.container_id) == 64
        # Both hold their allocation until removed: 3 core allocations and 96 MB on node 0.
        node0 = offered_capacity(facts.model_copy(update={"containers": list(mine.values())}))[0]
        assert (node0.used_core_slots, node0.used_memory_mb) == (3, 96)
    finally:
        sandbox.run_ssh(HOST, "docker", "rm", "-f", running, exited, foreign)
