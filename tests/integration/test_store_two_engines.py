"""Two drove-tui engines (two OS processes) on one store, driving real tasks on the sandbox."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

from drove_tui.engine.store import SqliteStore
from drove_tui.models.states import TaskState, TaskStatus, can_move
from tests.conftest import Sandbox

DRIVER = Path(__file__).with_name("store_two_engines_driver.py")
APP = "twoproc"


def _containers(sandbox: Sandbox) -> dict[str, list[str]]:
    """Every container (running or not) of this test's app, per host, seen by plain ssh."""
    found = {}
    for host in sandbox.hosts:
        done = sandbox.run_ssh(
            host, "docker", "ps", "-a", "--filter", f"label=drove.app={APP}", "--format",
            "{{.Names}}",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        found[host] = done.stdout.split()
    return found


def test_hundred_tasks_from_two_engines_on_one_store_each_run_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    go = tmp_path / "go"
    assert sum(len(names) for names in _containers(sandbox).values()) == 0
    argv = [str(sandbox.inventory_path), str(sandbox.ssh_config), str(state), sandbox.image]
    workers = [
        subprocess.Popen(
            [sys.executable, str(DRIVER), *argv, name, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(Path(f"{go}.{n}.ready").exists() for n in "ab"):
            assert time.monotonic() < deadline, "the engines did not start"
            assert all(w.poll() is None for w in workers), "an engine died at start"
            time.sleep(0.05)
        go.touch()
        outputs = []
        for worker in workers:
            out, err = worker.communicate(timeout=480)
            assert worker.returncode == 0, err[-3000:]
            outputs.append(json.loads(out.splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    a, b = outputs
    assert set(a["created"]).isdisjoint(b["created"])
    assert len(a["created"]) + len(b["created"]) == 100
    assert set(a["states"] + b["states"]) == {"STOPPED"}

    store = SqliteStore.open(state)
    try:
        tasks = store.list_tasks(app=APP)
        assert len(tasks) == 100
        for task in tasks:
            assert task.state is TaskState.STOPPED, task
            assert task.result is not None and task.result.status is TaskStatus.SUCCESSFUL, task
            history = store.history(APP, task.task_id)
            shown = [(t.from_state, t.to_state, t.reason) for t in history]
            # A chain: every move starts where the previous one ended, so none was applied
            # twice; and STARTING is left once for what the start gave. A host that went
            # silent on a loaded machine may make the task UNKNOWN in between; then the
            # host's answer (created, not yet started) brings it back to STARTING once.
            for before, step in itertools.pairwise(history):
                assert step.from_state == before.to_state, shown
                assert can_move(before.to_state, step.to_state), shown
            started = [
                t
                for t in history
                if t.from_state is TaskState.STARTING and t.to_state is not TaskState.UNKNOWN
            ]
            assert len(started) == 1, shown
        assert store.integrity_check() == ["ok"]
    finally:
        store.close()
    # Every container was removed once it ended; none is left behind or duplicated.
    assert sum(len(names) for names in _containers(sandbox).values()) == 0
