"""Docker command lines: what the container gets, and the locked capacity re-check."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from drove_tui.engine import executor
from drove_tui.models.inventory import HostConfig
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord

SPEC = {
    "sourceAppName": "app",
    "taskId": "t1",
    "executable": {"type": "DOCKER", "url": "img:1", "dockerPullTimeout": "100 seconds"},
    "resources": [{"type": "CPU", "count": 2}, {"type": "MEMORY", "sizeInMB": 256}],
    "volumes": [{"pathInContainer": "/data", "pathOnHost": "/srv/d", "mode": "READ_ONLY"}],
    "configs": [
        {"type": "INLINE", "localFilename": "/c.txt", "data": base64.b64encode(b"x").decode()}
    ],
    "env": {"A": "1", "FROM_HOST": ""},
    "args": ["echo", "$(touch /tmp/pwned)"],
}


def record(spec: TaskSpec) -> TaskRecord:
    return TaskRecord(
        app="app",
        task_id="t1",
        instance_id="app-t1-abcd1234",
        state=TaskState.STARTING,
        spec=spec,
        host="h1",
        numa_node=0,
        cores=[1, 2],
        memory_mb=256,
        created_at=1.0,
        updated_at=1.0,
    )


def test_create_args_pin_cores_cap_memory_label_and_never_restart() -> None:
    spec = TaskSpec.model_validate(SPEC)
    host = HostConfig(name="h1", address="127.0.0.1")
    args = executor.create_args(spec, record(spec), host, "store-1")
    joined = " ".join(args)
    assert "--name drove-app-t1-abcd1234" in joined
    assert "--cpuset-cpus 1,2" in joined and "--cpuset-mems 0" in joined
    assert "--memory 256m" in joined and "--restart no" in joined
    assert "--label drove.cores=1,2" in joined and "--label drove.owner=store-1" in joined
    assert "--volume /srv/d:/data:ro" in joined
    assert "--ulimit" not in joined  # docker's default unless the host sets nofile
    assert "-p" not in args and "--publish" not in joined
    assert args[-3:] == ["img:1", "echo", "$(touch /tmp/pwned)"]  # args are the command


def test_nofile_ulimit_only_when_the_host_sets_it() -> None:
    spec = TaskSpec.model_validate(SPEC)
    host = HostConfig(name="h1", address="127.0.0.1", nofile=20000)
    assert "nofile=20000:20000" in executor.create_args(spec, record(spec), host, "s")


def test_env_file_has_spec_env_host_passthrough_and_drove_variables() -> None:
    spec = TaskSpec.model_validate(SPEC)
    host = HostConfig(name="h1", address="10.0.0.5")
    lines = executor.env_file(spec, record(spec), host).decode().splitlines()
    assert "A=1" in lines
    assert "FROM_HOST" in lines  # a bare name: docker takes the host's own value
    assert "HOST=10.0.0.5" in lines and "DROVE_EXECUTOR_HOST=h1" in lines
    assert "DROVE_TASK_ID=t1" in lines and "DROVE_SOURCE_APP_NAME=app" in lines
    assert "DROVE_INSTANCE_ID=app-t1-abcd1234" in lines


def test_spec_hash_is_stable_and_changes_with_the_spec() -> None:
    spec = TaskSpec.model_validate(SPEC)
    other = TaskSpec.model_validate({**SPEC, "args": ["true"]})
    assert executor.spec_hash(spec) == executor.spec_hash(TaskSpec.model_validate(SPEC))
    assert len(executor.spec_hash(spec)) == 16
    assert executor.spec_hash(spec) != executor.spec_hash(other)


FAKE_DOCKER = """#!/bin/sh
case "$1" in
  ps) cat "$CENSUS" ;;
  create) echo "created $*" >>"$CALLS"; echo cid123 ;;
  start) echo "start $*" >>"$CALLS" ;;
  run) echo "$*" >>"$CALLS"; echo cid123 ;;
esac
"""


def run_create(tmp_path: Path, census: str, cores: str, mem: int, mult: int = 1) -> tuple[int, str]:
    """Run CREATE_SCRIPT against a fake docker that lists `census` as live containers."""
    fake = tmp_path / "docker"
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    (tmp_path / "census").write_text(census)
    host = HostConfig(name="h", address="x", docker=str(fake), cpu_multiplier=mult)
    spec = TaskSpec.model_validate(SPEC)
    rec = record(spec).model_copy(update={"cores": [int(c) for c in cores.split(",")]})
    rec = rec.model_copy(update={"memory_mb": mem})
    cmd = executor.create(host, rec, ["img"], node_memory_mb=1000, lock_wait_s=5, start=True)
    env = {
        "CENSUS": str(tmp_path / "census"),
        "CALLS": str(tmp_path / "calls"),
        "PATH": "/usr/bin:/bin",
    }
    env["DOCKER_HOST"] = f"unix://{tmp_path}/sock"
    done = subprocess.run(["sh", "-c", cmd.line()], env=env, capture_output=True, check=False)
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize(
    ("census", "cores", "mem", "mult", "expected"),
    [
        ("", "1,2", 256, 1, 0),
        ("drove-x 2,3 0 100\n", "1,2", 256, 1, executor.NO_ROOM),  # core 2 taken
        ("drove-x 2,3 0 100\n", "1,2", 256, 2, 0),  # over-provisioned: core 2 has a slot
        ("drove-x 3 0 800\n", "1,2", 256, 1, executor.NO_ROOM),  # memory: 800 + 256 > 1000
        ("drove-x 3 1 800\n", "1,2", 256, 1, 0),  # memory held on another NUMA node
        ("drove-app-t1-abcd1234 1,2 0 256\n", "1,2", 256, 1, executor.ALREADY_EXISTS),
    ],
)
def test_create_rechecks_live_allocations_under_the_host_lock(
    tmp_path: Path, census: str, cores: str, mem: int, mult: int, expected: int
) -> None:
    code, err = run_create(tmp_path, census, cores, mem, mult)
    assert code == expected, err
    calls = (tmp_path / "calls").read_text() if (tmp_path / "calls").exists() else ""
    # Created and started by one `docker run --detach`, only when there is room.
    assert calls.splitlines() == (["run --detach img"] if expected == 0 else [])
