"""Taking over a container that was created but never started, on a real host: its configs are
copied in again before it starts (its creator lost the host between the create and the copy)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import CONNECTION_LOST, RunResult, Unreachable
from drove_tui.engine.engine import Engine
from drove_tui.models.states import TaskState, TaskStatus
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import assert_legal_history, inventory, spec

S = TaskState


async def test_a_container_created_without_its_configs_gets_them_before_it_starts(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    content = b"config-that-must-be-there\n"
    task = spec(
        sandbox,
        "adopted",
        ["cat", "/etc/app/conf.txt"],
        configs=[
            {
                "type": "INLINE",
                "localFilename": "/etc/app/conf.txt",
                "data": base64.b64encode(content).decode(),
            }
        ],
    )
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        host = engine.inventory.host("host1")
        assert host is not None
        transport = engine.cluster.transport(host)
        real_run = transport.run
        dropped: list[str] = []

        async def run(cmd: Command, **kw: Any) -> RunResult:
            # The first copy of the configs never reaches the host: the container stays
            # created, without them, and the task is UNKNOWN until the next probe.
            if not dropped and cmd.argv()[1:3] == ["cp", "-"]:
                dropped.append(str(cmd))
                raise Unreachable("host1", CONNECTION_LOST, "host1: connection lost (test)")
            return await real_run(cmd, **kw)

        transport.run = run  # type: ignore[method-assign]
        await engine.submit(task, pin_host="host1")
        done = await engine.wait("it", "adopted")
        text = "\n".join([line.text async for line in engine.logs("it", "adopted")])
        moves = [t.to_state for t in engine.store.history("it", "adopted")]
        assert_legal_history(engine, done)
    assert dropped, "the fault was never injected"
    assert S.UNKNOWN in moves and moves.count(S.STARTING) == 2, moves
    assert done.state is S.STOPPED, done.reason
    assert done.result is not None and done.result.status is TaskStatus.SUCCESSFUL, done.error
    assert text.strip() == content.decode().strip()
