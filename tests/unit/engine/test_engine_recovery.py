"""Reconciling an UNKNOWN task while its host keeps failing probes: the wait yields to the rest
of the engine (no spin) and ends on the first good probe. No host is needed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from test_engine_kill_requests import created, engine

from drove_tui.engine import recovery
from drove_tui.engine.engine import Engine
from drove_tui.models.host import HostFacts, HostState, HostStatus, ManagedContainer, NumaNode
from drove_tui.models.states import TaskState

S = TaskState


def probed(eng: Engine, status: HostStatus) -> None:
    eng.watch.on_probe(status, time.time())


async def test_reconcile_waits_for_a_good_probe_without_blocking_the_engine(
    tmp_path: Path,
) -> None:
    eng = engine(tmp_path / "state.db")
    try:
        record = created(eng, "t1", state=S.UNKNOWN, host="h1", cores=[0])
        down = HostStatus(name="h1", state=HostState.UNREACHABLE, reason="refused")
        probed(eng, down)
        waiting = asyncio.create_task(recovery.reconcile(eng, record))
        # A spinning reconcile would never let these turns of the loop happen.
        for _ in range(5):
            await asyncio.sleep(0.01)
            probed(eng, down)  # the host keeps failing: still UNKNOWN, still waiting
        assert not waiting.done()
        assert eng.get("app", "t1").state is S.UNKNOWN
        container = ManagedContainer(
            name=f"drove-{record.instance_id}",
            container_id="c1",
            app="app",
            task_id="t1",
            instance_id=record.instance_id,
            running=True,
            cores=[0],
        )
        facts = HostFacts(
            cores=2,
            numa=[NumaNode(id=0, cores=[0, 1], memory_mb=1024)],
            memory_total_mb=1024,
            memory_available_mb=1024,
            arch="x86_64",
            kernel="6",
            docker_version="20.10",
            containers=[container],
        )
        probed(eng, HostStatus(name="h1", state=HostState.ONLINE, facts=facts))
        await asyncio.wait_for(waiting, timeout=10)
        assert eng.get("app", "t1").state is S.RUNNING
    finally:
        await eng._close()
