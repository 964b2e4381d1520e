"""`drove-tui tasks ...` as the installed program, where a host must not be contacted.

The hosts are addresses of the sandbox subnet that no sandbox host uses (.200 and up): one
has a listener that accepts TCP and never speaks SSH (a connection there would hang until
the inventory's connect timeout), the other has nothing at all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drove_tui.engine.store import SqliteStore
from drove_tui.models.states import TaskResult, TaskState
from tests.task_records import task_record

DROVE_TUI = Path(sys.executable).parent / "drove-tui"
SUBNET = os.environ.get("DROVE_SANDBOX_SUBNET", "127.0.23")


@pytest.fixture
def silent_host() -> Iterator[socket.socket]:
    """A listener on an unused sandbox address: the kernel completes any TCP handshake into
    its backlog, so after the command has exited, accept() tells whether anyone connected."""
    listener = socket.create_server((f"{SUBNET}.200", 0))
    listener.setblocking(False)
    yield listener
    listener.close()


def connections(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_kill_of_a_finished_task_never_contacts_a_host(
    tmp_path: Path, silent_host: socket.socket
) -> None:
    port = silent_host.getsockname()[1]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "defaults: {connect_timeout: 30, host_key_policy: accept-new}\n"
        "hosts:\n"
        f"  - {{name: far1, address: {SUBNET}.200, port: {port}}}\n"
        f"  - {{name: far2, address: {SUBNET}.201}}\n"
    )
    state = tmp_path / "state.db"
    store = SqliteStore.open(state)
    store.create_task(task_record("done1", TaskState.STOPPED, result=TaskResult.from_exit_code(0)))
    # A live task whose owner is gone: opening the engine would take it over (and drive it).
    store.create_task(task_record("orphan1", TaskState.RUNNING, host="far1", cores=[0]))
    store.close()

    done = subprocess.run(
        [
            str(DROVE_TUI),
            "tasks",
            "kill",
            "app",
            "done1",
            "-i",
            str(inventory),
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=20,  # far below the 30 s a connection to far1 would hang
        check=False,
    )

    assert connections(silent_host) == 0
    store = SqliteStore.open(state)
    try:
        orphan = store.get_task("app", "orphan1")
        assert orphan is not None
        assert (orphan.state, orphan.owner) == (TaskState.RUNNING, None)
        assert [t.to_state for t in store.history("app", "orphan1")] == [TaskState.RUNNING]
    finally:
        store.close()
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "drove-tui: Task app/done1 has already ended (it is STOPPED, result SUCCESSFUL/0); "
        "there is nothing to kill.\n"
    )
