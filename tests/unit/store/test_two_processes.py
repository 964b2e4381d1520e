"""Two real processes on one store file: every task is created once and every step applied once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from drove_tui.engine.store import SqliteStore
from drove_tui.models.states import TaskState

WORKER = Path(__file__).with_name("two_process_worker.py")
STEPS = [
    (None, "PENDING"),
    ("PENDING", "PROVISIONING"),
    ("PROVISIONING", "STARTING"),
    ("STARTING", "RUNNING"),
    ("RUNNING", "RUN_COMPLETED"),
    ("RUN_COMPLETED", "DEPROVISIONING"),
    ("DEPROVISIONING", "STOPPED"),
]


def test_hundred_tasks_from_two_processes_finish_exactly_once(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    SqliteStore.open(state).close()
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(state), name, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        deadline = time.monotonic() + 180
        while not all(Path(f"{go}.{n}.ready").exists() for n in "ab"):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.01)
        go.touch()
        outputs = []
        for worker in workers:
            out, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err
            outputs.append(json.loads(out))
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()

    a, b = outputs
    # Creation: each task by exactly one process.
    assert set(a["created"]).isdisjoint(b["created"])
    assert len(a["created"]) + len(b["created"]) == 100
    # Each step of each task was won by exactly one process.
    won = Counter(tuple(step) for step in a["won"] + b["won"])
    assert set(won.values()) == {1}
    assert len(won) == 100 * 6

    store = SqliteStore.open(state)
    try:
        tasks = store.list_tasks()
        assert len(tasks) == 100
        assert {t.state for t in tasks} == {TaskState.STOPPED}
        for task in tasks:
            history = [(t.from_state, t.to_state) for t in store.history("app", task.task_id)]
            assert history == STEPS, task.task_id
        assert store.integrity_check() == ["ok"]
    finally:
        store.close()
