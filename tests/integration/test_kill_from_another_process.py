"""`drove-tui tasks kill` from a second process while a live `drove-tui --run` owns the task
(issue #7): the owner carries the kill out, on the real sandbox.

Waits are on observable states (the container's first line, the processes' exits), never on
sleeps; timeouts are generous.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:  # the fixture provides it
    from tests.conftest import Sandbox

TIMEOUT = 180


def cli(sandbox: Sandbox, state: Path, *argv: str) -> list[str]:
    """The drove-tui command line with the sandbox inventory and this test's state file."""
    inventory = str(sandbox.inventory_path)
    return [sys.executable, "-m", "drove_tui", *argv, "-i", inventory, "--state", str(state)]


def drove(sandbox: Sandbox, state: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """drove-tui to completion."""
    return subprocess.run(
        cli(sandbox, state, *argv),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "NO_COLOR"},
    )


def containers_of(sandbox: Sandbox, host: str, task: str) -> list[str]:
    """Every container (running or not) of `task` on `host`, by plain ssh."""
    res = sandbox.run_ssh(
        host, "docker", "ps", "-a", "--filter", f"label=drove.task={task}", "--format", "{{.Names}}"
    )
    assert res.returncode == 0, res.stderr
    return [line for line in res.stdout.splitlines() if line.strip()]


def test_kill_from_a_second_process_is_carried_out_by_the_running_owner(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    app, task = "killtest", f"t{uuid.uuid4().hex[:8]}"
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "sourceAppName": app,
                "taskId": task,
                "executable": {"type": "DOCKER", "url": sandbox.image},
                "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
                "args": ["sh", "-c", "echo started; sleep 300"],
            }
        )
    )
    owner = subprocess.Popen(
        cli(sandbox, state, "--run", str(spec)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "NO_COLOR"},
    )
    host = None
    try:
        assert owner.stdout is not None
        # The container's first line: the task is RUNNING and the run process owns it.
        assert owner.stdout.readline() == "started\n"
        shown = json.loads(drove(sandbox, state, "tasks", "show", app, task, "--json").stdout)
        host = shown["hostname"]
        assert shown["state"] == "RUNNING"

        killer = drove(sandbox, state, "tasks", "kill", app, task, "--wait")
        assert killer.returncode == 0, killer.stderr
        _, err = owner.communicate(timeout=TIMEOUT)
        assert owner.returncode == 6, err  # the run saw its task killed
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
            if host is not None:  # do not leave a 300 s sleeper holding a core
                leftover = f"docker ps -aq --filter label=drove.task={task} | xargs -r docker rm -f"
                sandbox.run_ssh(host, "sh", "-c", leftover)

    final = json.loads(drove(sandbox, state, "tasks", "show", app, task, "--json").stdout)
    assert final["state"] == "STOPPED"
    assert final["taskResult"] == {"status": "CANCELLED", "exitCode": -1}
    history = json.loads(drove(sandbox, state, "tasks", "history", app, task, "--json").stdout)
    # The owner drove it to the end: the killer never took it over (that would go via UNKNOWN).
    assert "UNKNOWN" not in [move["to"] for move in history]
    assert containers_of(sandbox, host, task) == []
