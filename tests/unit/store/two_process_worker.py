"""One of the two processes of test_two_processes: submit 100 tasks, then walk them to STOPPED.

Run as `python two_process_worker.py STATE NAME GO_FILE`. Prints, as JSON, the tasks this
process created and every step whose compare-and-set it won.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from conftest import build_record

from drove_tui.engine.store import SqliteStore, TaskExists
from drove_tui.models.states import TERMINAL, TaskState

S = TaskState
TASKS = 100
NEXT = {
    S.PENDING: S.PROVISIONING,
    S.PROVISIONING: S.STARTING,
    S.STARTING: S.RUNNING,
    S.RUNNING: S.RUN_COMPLETED,
    S.RUN_COMPLETED: S.DEPROVISIONING,
    S.DEPROVISIONING: S.STOPPED,
}


def main(state: str, name: str, go_file: str) -> None:
    store = SqliteStore.open(state, busy_timeout_s=60.0)
    # Start together: the test creates GO_FILE once both processes are ready. Correctness
    # does not depend on this; it only makes the two overlap.
    Path(f"{go_file}.{name}.ready").touch()
    deadline = time.monotonic() + 60
    while not Path(go_file).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    ids = [f"t{i:03d}" for i in range(TASKS)]
    order = ids if name == "a" else list(reversed(ids))
    created = []
    for task in order:
        try:
            store.create_task(build_record(task, created_at=time.time()))
            created.append(task)
        except TaskExists:
            pass
    won: list[tuple[str, str, str]] = []
    leased: set[str] = set()
    while True:
        open_tasks = 0
        for task in order:
            record = store.get_task("app", task)
            if record is None or record.state in TERMINAL:
                continue
            open_tasks += 1
            # Even tasks are guarded by a lease as the engine does; odd ones only by the CAS.
            # A lease is asked for once (a write each time would only slow both down).
            if int(task[1:]) % 2 == 0 and task not in leased:
                if record.owner is not None or not store.acquire("app", task, name, 600.0):
                    continue
                leased.add(task)
            new = NEXT[record.state]
            if store.transition("app", task, record.state, new, f"by {name}"):
                won.append((task, str(record.state), str(new)))
        if open_tasks == 0:
            break
    store.close()
    print(json.dumps({"created": created, "won": won}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
