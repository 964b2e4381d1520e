"""Crash test: drove-tui is SIGKILLed with tasks in mixed states; on restart every task shows
UNKNOWN (or PENDING), then ends as it really did, and no task ever had two containers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.models.states import TERMINAL, TaskResult, TaskState
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import inventory, remove_leftovers, spec

S = TaskState
REPO = Path(__file__).resolve().parents[2]
LEASE_TTL_S = 2.0

# The child: open the engine, submit the tasks, say READY once the mix of states is there
# (every core busy, the rest PENDING), then wait to be killed.
CHILD = """
import asyncio, json, sys
from pathlib import Path
from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.spec import TaskSpec

async def main(inv_path, ssh_config, state, specs_path, ttl, running_wanted):
    inv = load_inventory(inv_path, ssh_config=Path(ssh_config))
    fast = inv.settings.model_copy(update={"probe_interval_s": 1})
    inv = inv.model_copy(update={"settings": fast})
    given = json.load(open(specs_path))
    specs = [TaskSpec.model_validate(s) for s, _ in given]
    async with Engine.open(inv, state, lease_ttl_s=float(ttl)) as engine:
        for s, (_, pin) in zip(specs, given):
            await engine.submit(s, pin_host=pin)
        while True:
            states = [engine.get(s.source_app_name, s.task_id).state for s in specs]
            if states.count("RUNNING") >= int(running_wanted) and "PENDING" in states:
                print("READY", flush=True)
                break
            await asyncio.sleep(0.05)
        await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


def containers_per_task(sandbox: Sandbox) -> Counter[str]:
    """How many containers (any state) each crash task has, over every host."""
    seen: Counter[str] = Counter()
    for host in sandbox.hosts:
        out = sandbox.run_ssh(
            host,
            "docker",
            "ps",
            "-a",
            "--filter",
            "label=drove.app=crash",
            "--format",
            '{{.Label "drove.task"}}',
        ).stdout.split()
        seen.update(out)
    return seen


async def test_sigkill_with_tasks_in_mixed_states_recovers_every_task_truthfully(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    remove_leftovers(sandbox, "crash")
    # Sandbox hosts have 2 cores. host1: two long tasks that outlive the restart, and two
    # PENDING behind them; host2: two that exit (status 3) while drove-tui is down; host3:
    # two more long ones.
    plan = [
        ("host1", "sleep 14; exit 0", 0),
        ("host1", "sleep 14; exit 0", 0),
        ("host2", "sleep 4; exit 3", 3),
        ("host2", "sleep 4; exit 3", 3),
        ("host3", "sleep 12; exit 6", 6),
        ("host3", "sleep 12; exit 6", 6),
        ("host1", "exit 5", 5),
        ("host1", "exit 5", 5),
    ]
    expected: dict[str, int] = {}
    specs = []
    for i, (host, script, code) in enumerate(plan):
        task = spec(sandbox, f"c{i}", ["sh", "-c", script])
        task = task.model_copy(update={"source_app_name": "crash"})
        specs.append((task.to_drove_json(), host))
        expected[f"c{i}"] = code
    running_wanted = 6
    specs_path = tmp_path / "specs.json"
    specs_path.write_text(json.dumps(specs))
    state = tmp_path / "state.db"
    child = subprocess.Popen(  # noqa: ASYNC220 (a real process, to SIGKILL it)
        [
            sys.executable,
            "-c",
            CHILD,
            str(sandbox.inventory_path),
            str(sandbox.ssh_config),
            str(state),
            str(specs_path),
            str(LEASE_TTL_S),
            str(running_wanted),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 90)
        assert line.strip() == "READY"
        assert max(containers_per_task(sandbox).values()) == 1
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    at_crash = {r.task_id: r.state for r in SqliteStore.open(state).list_tasks(app="crash")}
    live_at_crash = {t for t, st in at_crash.items() if st not in TERMINAL}
    assert any(at_crash[t] is S.RUNNING for t in live_at_crash)
    assert any(at_crash[t] is S.PENDING for t in live_at_crash)
    # While drove-tui is down the 4-second tasks exit; wait until they have, and until every
    # lease of the dead process has lapsed, so the restart takes every task over at once.
    await asyncio.sleep(max(LEASE_TTL_S, 4) + 2)
    assert max(containers_per_task(sandbox).values()) == 1

    async with Engine.open(inventory(sandbox), state, lease_ttl_s=LEASE_TTL_S) as engine:
        shown = {r.task_id: r.state for r in engine.list(app="crash")}
        assert set(shown) == set(expected)  # none missing from the store
        assert {shown[t] for t in live_at_crash} <= {S.UNKNOWN, S.PENDING}, shown
        async with asyncio.timeout(90):
            for task_id in expected:
                await engine.wait("crash", task_id)
                assert max(containers_per_task(sandbox).values(), default=0) <= 1
        final = {r.task_id: r for r in engine.list(app="crash")}
    for task_id, code in expected.items():
        record = final[task_id]
        assert record.state is S.STOPPED, (task_id, record.state, record.reason)
        assert record.result == TaskResult.from_exit_code(code), (task_id, record.result)
    assert containers_per_task(sandbox) == Counter()  # all deprovisioned
