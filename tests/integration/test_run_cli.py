"""`drove-tui --run` as a real process against the real sandbox (sshd + dockerd per host).

Each test has its own state file, so tasks never collide across tests or runs. Waits are on
the process's own output lines (plain lines when stderr is not a terminal), never on sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox

TIMEOUT = 180


def write_spec(directory: Path, image: str, script: str, **extra: Any) -> tuple[Path, str, str]:
    """A spec running `sh -c script`; returns (path, app, task id), both unique."""
    app, task = "runtest", f"t{uuid.uuid4().hex[:8]}"
    spec = {
        "sourceAppName": app,
        "taskId": task,
        "executable": {"type": "DOCKER", "url": image, "dockerPullTimeout": "100 seconds"},
        "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
        "args": ["sh", "-c", script],
        **extra,
    }
    path = directory / f"{task}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path, app, task


def drove(
    sandbox: Sandbox,
    state: Path,
    *argv: str,
    inventory: Path | None = None,
    env: dict[str, str] | None = None,
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """Run drove-tui to completion with the sandbox inventory and this test's state file."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "drove_tui",
            *argv,
            "-i",
            str(inventory or sandbox.inventory_path),
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env or _env(),
        **kw,
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    return env


def container_of(sandbox: Sandbox, host: str, task: str) -> list[str]:
    """`docker ps` lines on `host` of the containers of task `task` (plain ssh, not ours)."""
    res = sandbox.run_ssh(
        host,
        "docker",
        "ps",
        "--filter",
        f"label=drove.task={task}",
        "--format",
        "{{.Names}} {{.Status}}",
    )
    assert res.returncode == 0, res.stderr
    return [line for line in res.stdout.splitlines() if line.strip()]


def test_run_reproduces_both_streams_and_exits_with_the_containers_code(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    spec, _, _ = write_spec(
        tmp_path,
        sandbox.image,
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 7",
    )
    done = drove(sandbox, tmp_path / "state.db", "--run", str(spec))
    assert done.returncode == 7, done.stderr
    assert done.stdout == "out1\nout2\n"
    err = done.stderr.splitlines()
    assert err.index("err1") < err.index("err2")
    assert any(line.startswith("RUNNING") for line in err)  # progress went to stderr


def test_run_json_lines_all_parse_and_the_last_is_task_info_failed_7(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    spec, app, task = write_spec(tmp_path, sandbox.image, "echo hi; echo oops >&2; exit 7")
    done = drove(sandbox, tmp_path / "state.db", "--run", str(spec), "--json")
    assert done.returncode == 7, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    last = lines[-1]
    assert (last["sourceAppName"], last["taskId"]) == (app, task)
    assert last["taskResult"] == {"status": "FAILED", "exitCode": 7}
    assert last["hostname"] in sandbox.hosts
    logs = [(x["stream"], x["text"]) for x in lines if x.get("event") == "log"]
    # Each stream keeps its order; between the two, order is whatever the pipes delivered.
    assert [text for stream, text in logs if stream == "stdout"] == ["hi"]
    assert [text for stream, text in logs if stream == "stderr"] == ["oops"]
    assert len(logs) == 2


def test_detach_then_tasks_wait_gives_the_same_exit_code(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    spec, app, task = write_spec(tmp_path, sandbox.image, "sleep 1; exit 7")
    detached = drove(sandbox, state, "--run", str(spec), "--detach")
    assert detached.returncode == 0, detached.stderr
    assert detached.stdout.split() == [app, task]
    waited = drove(sandbox, state, "tasks", "wait", app, task)
    assert waited.returncode == 7, waited.stderr


def start_run(
    sandbox: Sandbox, state: Path, spec: Path, *flags: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`drove-tui --run` in the background, pipes open, for tests that signal it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drove_tui",
            "--run",
            str(spec),
            "-i",
            str(sandbox.inventory_path),
            "--state",
            str(state),
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or _env(),
    )


def interrupt_once_running(proc: subprocess.Popen[str]) -> str:
    """Wait for the container's first line (proof it runs), send SIGINT, return stderr."""
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
        return err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_interrupt_detaches_leaving_the_task_running(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    spec, app, task = write_spec(tmp_path, sandbox.image, "echo started; sleep 300")
    proc = start_run(sandbox, state, spec)
    err = interrupt_once_running(proc)
    assert proc.returncode == 130, err
    assert "detached" in err and f"drove-tui tasks kill {app} {task}" in err
    shown = json.loads(drove(sandbox, state, "tasks", "show", app, task, "--json").stdout)
    host = shown["hostname"]
    try:
        assert len(container_of(sandbox, host, task)) == 1  # still running, seen by plain ssh
    finally:
        killed = drove(sandbox, state, "tasks", "kill", app, task, "--wait")
    assert killed.returncode == 0, killed.stderr
    assert container_of(sandbox, host, task) == []


def test_tasks_kill_of_a_detached_task_ends_it_cancelled(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    spec, app, task = write_spec(tmp_path, sandbox.image, "sleep 300")
    detached = drove(sandbox, state, "--run", str(spec), "--detach")
    assert detached.returncode == 0, detached.stderr
    killed = drove(sandbox, state, "tasks", "kill", app, task, "--wait")
    assert killed.returncode == 0, killed.stderr
    final = json.loads(drove(sandbox, state, "tasks", "show", app, task, "--json").stdout)
    assert final["state"] == "STOPPED"
    assert final["taskResult"]["status"] == "CANCELLED"


def test_kill_on_interrupt_kills_the_task_and_exits_6(sandbox: Sandbox, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    spec, app, task = write_spec(tmp_path, sandbox.image, "echo started; sleep 300")
    proc = start_run(sandbox, state, spec, "--kill-on-interrupt")
    err = interrupt_once_running(proc)
    assert proc.returncode == 6, err
    final = json.loads(drove(sandbox, state, "tasks", "show", app, task, "--json").stdout)
    assert (final["state"], final["taskResult"]["status"]) == ("STOPPED", "CANCELLED")
    assert container_of(sandbox, final["hostname"], task) == []


def test_a_create_operation_is_accepted_and_timeout_overrides_its_op_spec(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # MATCH_TAG on a tag no sandbox host carries: never placeable. The operation allows ten
    # minutes; --timeout 2s must win, so the run ends "not placed" (3) at once.
    spec, _, _ = write_spec(
        tmp_path, sandbox.image, "true", placementPolicy={"type": "MATCH_TAG", "tag": "nope"}
    )
    operation = tmp_path / "create.json"
    operation.write_text(
        json.dumps(
            {
                "type": "CREATE",
                "spec": yaml.safe_load(spec.read_text()),
                "opSpec": {"timeout": "10 minutes", "parallelism": 1, "failureStrategy": "STOP"},
            }
        )
    )
    done = drove(sandbox, tmp_path / "state.db", "--run", str(operation), "--timeout", "2s")
    assert done.returncode == 3, done.stderr
    assert "not placed in time" in done.stderr


def test_an_image_that_cannot_be_pulled_exits_4(sandbox: Sandbox, tmp_path: Path) -> None:
    spec, _, _ = write_spec(tmp_path, f"{sandbox.registry}/no-such-image:latest", "true")
    done = drove(sandbox, tmp_path / "state.db", "--run", str(spec))
    assert done.returncode == 4, done.stderr


def test_an_invalid_spec_exits_2_naming_the_file_and_touches_no_host(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sourceAppName: x\n")
    done = subprocess.run(
        [sys.executable, "-m", "drove_tui", "--run", str(bad), "-i", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "bad.yaml" in done.stderr
    assert "Traceback" not in done.stderr
