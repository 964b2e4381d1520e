"""`drove-tui --run SPEC --fan-out PATTERN` on the real sandbox (the fixture's 4 hosts)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox

TIMEOUT = 240


def write_spec(directory: Path, image: str, script: str) -> tuple[Path, str, str]:
    app, task = f"fan{uuid.uuid4().hex[:6]}", f"f{uuid.uuid4().hex[:8]}"
    spec = {
        "sourceAppName": app,
        "taskId": task,
        "executable": {"type": "DOCKER", "url": image, "dockerPullTimeout": "100 seconds"},
        "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
        "args": ["sh", "-c", script],
    }
    path = directory / f"{task}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path, app, task


def fan_out(
    sandbox: Sandbox, tmp_path: Path, spec: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "drove_tui",
            "--run",
            str(spec),
            "--fan-out",
            "all",
            "-i",
            str(sandbox.inventory_path),
            "--state",
            str(tmp_path / "state.db"),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_fan_out_prefixes_every_hosts_output_and_names_the_failing_host(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    failing = sandbox.hosts[2]
    spec, _, task = write_spec(
        tmp_path,
        sandbox.image,
        'echo "hello from $DROVE_EXECUTOR_HOST"; '
        f'[ "$DROVE_EXECUTOR_HOST" != {failing} ] || exit 3',
    )
    done = fan_out(sandbox, tmp_path, spec)
    assert done.returncode == 1, done.stderr
    width = max(len(h) for h in sandbox.hosts)
    assert sorted(done.stdout.splitlines()) == sorted(
        f"{h.ljust(width)} | hello from {h}" for h in sandbox.hosts
    )
    summary = done.stderr[done.stderr.index("HOST ") :].splitlines()
    rows = {line.split()[0]: line.split() for line in summary[1 : 1 + len(sandbox.hosts)]}
    assert set(rows) == set(sandbox.hosts)
    assert rows[failing][1:4] == [f"{task}-{failing}", "STOPPED", "3"]
    assert all(rows[h][3] == "0" for h in sandbox.hosts if h != failing)
    assert summary[-1] == f"1 of {len(sandbox.hosts)} hosts did not succeed: {failing}"


def container_lifetimes(
    sandbox: Sandbox, app: str, since: float, until: float
) -> list[tuple[int, int]]:
    """(nanosecond time, +1 create / -1 destroy) of the app's containers on every host, from
    each dockerd's own event log (plain ssh): an exact record, not a sampled census. All
    sandbox dockerds share this machine's clock, so the times merge."""
    changes: list[tuple[int, int]] = []
    for host in sandbox.hosts:
        res = sandbox.run_ssh(
            host,
            "docker",
            "events",
            "--since",
            f"{since:.0f}",
            "--until",
            f"{until:.0f}",
            "--filter",
            f"label=drove.app={app}",
            "--filter",
            "event=create",
            "--filter",
            "event=destroy",
            "--format",
            "{{.TimeNano}} {{.Action}}",
        )
        assert res.returncode == 0, res.stderr
        for line in res.stdout.splitlines():
            nanos, action = line.split()
            changes.append((int(nanos), 1 if action == "create" else -1))
    return sorted(changes)


def test_fan_out_with_parallel_2_never_has_more_than_2_containers(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    spec, app, _ = write_spec(tmp_path, sandbox.image, "sleep 1")
    since = time.time() - 1
    done = fan_out(sandbox, tmp_path, spec, "--parallel", "2", "--json")
    assert done.returncode == 0, done.stderr
    changes = container_lifetimes(sandbox, app, since, time.time() + 2)
    assert len(changes) == 2 * len(sandbox.hosts)  # every host ran (and removed) one
    alive = most = 0
    for _, delta in changes:
        alive += delta
        most = max(most, alive)
    assert most <= 2

    # The run's own account agrees: hosts holding a task, in the order events happened.
    live: set[str] = set()
    most = 0
    for line in done.stdout.splitlines():
        event: dict[str, Any] = json.loads(line)
        if event.get("event") != "state":
            continue
        if event["state"] == "PENDING":
            live.add(event["host"])
        if event["state"] == "STOPPED":
            live.discard(event["host"])
        most = max(most, len(live))
    assert most <= 2
    summary = json.loads(done.stdout.splitlines()[-1])
    assert [h["exitCode"] for h in summary["hosts"]] == [0] * len(sandbox.hosts)
