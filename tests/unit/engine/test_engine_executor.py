"""Docker command lines: what the container gets, and the locked capacity re-check."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drove_tui.cluster.command import Command
from drove_tui.engine import container, executor
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
    args = container.create_args(spec, record(spec), host, "store-1")
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
    assert "nofile=20000:20000" in container.create_args(spec, record(spec), host, "s")


def test_env_file_has_spec_env_host_passthrough_and_drove_variables() -> None:
    spec = TaskSpec.model_validate(SPEC)
    host = HostConfig(name="h1", address="10.0.0.5")
    lines = container.env_file(spec, record(spec), host).decode().splitlines()
    assert "A=1" in lines
    assert "FROM_HOST" in lines  # a bare name: docker takes the host's own value
    assert "HOST=10.0.0.5" in lines and "DROVE_EXECUTOR_HOST=h1" in lines
    assert "DROVE_TASK_ID=t1" in lines and "DROVE_SOURCE_APP_NAME=app" in lines
    assert "DROVE_INSTANCE_ID=app-t1-abcd1234" in lines


def test_spec_hash_is_stable_and_changes_with_the_spec() -> None:
    spec = TaskSpec.model_validate(SPEC)
    other = TaskSpec.model_validate({**SPEC, "args": ["true"]})
    assert container.spec_hash(spec) == container.spec_hash(TaskSpec.model_validate(SPEC))
    assert len(container.spec_hash(spec)) == 16
    assert container.spec_hash(spec) != container.spec_hash(other)


FAKE_DOCKER = """#!/bin/sh
echo "$1" >>"$CALLS"
case "$1" in
  ps) cat "$CENSUS" ;;
  create) echo cid123 ;;
  run) shift; echo "run $*" >>"$CALLS"; echo cid123; exit "${RUN_STATUS:-0}" ;;
  container) [ -n "$STATE" ] && { echo "$STATE"; exit 0; }
    echo "${INSPECT_ERROR:-Error: No such object: x}" >&2; exit 1 ;;
  rm) ;;
esac
"""


class Host:
    """A fake docker endpoint: its census (`docker ps`), its reservations folder and the
    docker verbs the scripts ran."""

    def __init__(self, tmp_path: Path, census: str = "", mult: int = 1) -> None:
        self.tmp = tmp_path
        fake = tmp_path / "docker"
        fake.write_text(FAKE_DOCKER)
        fake.chmod(0o755)
        (tmp_path / "census").write_text(census)
        self.config = HostConfig(name="h", address="x", docker=str(fake), cpu_multiplier=mult)
        self.env = {
            "CENSUS": str(tmp_path / "census"),
            "CALLS": str(tmp_path / "calls"),
            "PATH": "/usr/bin:/bin",
            "DOCKER_HOST": f"unix://{tmp_path}/sock",
        }
        key = subprocess.run(
            ["sh", "-c", executor.HOST_PATHS + 'printf %s "$resv"'],
            env={**self.env, "d": str(fake)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.reservations = Path(key)

    def run(self, cmd: Command, *, umask: int = 0o022) -> tuple[int, str]:
        done = subprocess.run(
            ["sh", "-c", cmd.line()],
            env=self.env,
            capture_output=True,
            check=False,
            timeout=30,  # a script that blocks (say, on a FIFO) fails the test, not the run
            umask=umask,
        )
        return done.returncode, done.stderr.decode()

    def create_command(
        self,
        cores: str,
        mem: int,
        mode: executor.CreateMode = "detach",
        census: str | None = None,
    ) -> Command:
        """CREATE_SCRIPT for a task on `cores` with `mem` MB (`census`: the engine's view of
        the host's containers; None: the script asks `docker ps`)."""
        spec = TaskSpec.model_validate(SPEC)
        rec = record(spec).model_copy(update={"cores": [int(c) for c in cores.split(",")]})
        rec = rec.model_copy(update={"memory_mb": mem})
        return executor.create(
            self.config,
            rec,
            ["img"],
            node_memory_mb=1000,
            lock_wait_s=5,
            mode=mode,
            tag="@T",
            census=census,
        )

    def create(
        self,
        cores: str,
        mem: int,
        mode: executor.CreateMode = "detach",
        census: str | None = None,
    ) -> tuple[int, str]:
        """Run CREATE_SCRIPT (see create_command)."""
        return self.run(self.create_command(cores, mem, mode, census))

    def reserve(self, line: str, *, minutes_old: int = 0) -> None:
        """A reservation as CREATE_SCRIPT writes it: `NAME cores numa memory r EPOCH`."""
        self.reservations.mkdir(exist_ok=True)
        path = self.reservations / line.split()[0]
        path.write_text(f"{line} r {int(time.time()) - minutes_old * 60}\n")

    def calls(self) -> list[str]:
        calls = self.tmp / "calls"
        return calls.read_text().splitlines() if calls.exists() else []

    def cleanup(self) -> None:
        if self.reservations.is_symlink():
            self.reservations.unlink()
        shutil.rmtree(self.reservations, ignore_errors=True)
        Path(str(self.reservations).removesuffix(".d") + ".lock").unlink(missing_ok=True)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    fake = Host(tmp_path)
    yield fake
    fake.cleanup()


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
    fake = Host(tmp_path, census, mult)
    try:
        code, err = fake.create(cores, mem)
        assert code == expected, err
        runs = [c for c in fake.calls() if c.startswith("run ")]
        # Created and started by one `docker run --detach`, only when there is room.
        assert runs == (["run --detach img"] if expected == 0 else [])
        # Reserved only when created here (an existing container has its own).
        mine = fake.reservations / "drove-app-t1-abcd1234"
        assert mine.exists() == (expected == 0)
    finally:
        fake.cleanup()


@pytest.mark.parametrize(
    ("census", "expected"),
    [
        ("", 0),
        ("drove-x 2,3 0 100\n", executor.NO_ROOM),
        ("drove-x - 0 800\n", executor.NO_ROOM),  # no cores label: its memory still counts
        ("drove-app-t1-abcd1234 1,2 0 256\n", executor.ALREADY_EXISTS),
    ],
)
def test_the_engines_census_is_counted_instead_of_asking_docker(
    tmp_path: Path, census: str, expected: int
) -> None:
    # docker's own list would say the opposite of the engine's view: it is never asked.
    fake = Host(tmp_path, census="" if expected else "drove-y 1 0 900\n")
    try:
        code, err = fake.create("1,2", 256, census=census)
        assert code == expected, err
        assert "ps" not in fake.calls()
        assert any(c.startswith("run ") for c in fake.calls()) == (expected == 0)
    finally:
        fake.cleanup()


def test_without_the_engines_census_docker_is_asked(tmp_path: Path) -> None:
    fake = Host(tmp_path, census="drove-y 1 0 100\n")
    try:
        code, err = fake.create("1,2", 256, census=None)
        assert code == executor.NO_ROOM
        assert "core 1 is already taken" in err
        assert "ps" in fake.calls()
    finally:
        fake.cleanup()


def test_reservations_count_beside_the_engines_census(host: Host) -> None:
    # Another process's create since the engine's last probe: only its reservation says so.
    host.reserve("drove-inflight 2 0 100")
    code, err = host.create("1,2", 256, census="drove-x 3 0 100\n")
    assert code == executor.NO_ROOM
    assert "core 2 is already taken" in err


def test_a_stale_reservation_missing_from_the_engines_census_is_dropped(host: Host) -> None:
    host.reserve("drove-gone 2 0 100", minutes_old=5)
    host.reserve("drove-live 3 0 100", minutes_old=5)
    code, err = host.create("1,2", 256, census="drove-live 3 0 100\n")
    assert code == 0, err
    assert not (host.reservations / "drove-gone").exists()
    assert (host.reservations / "drove-live").exists()


def test_a_fresh_reservation_holds_its_cores_before_docker_lists_the_container(
    host: Host,
) -> None:
    host.reserve("drove-inflight 2 0 100")  # another process's create, not created yet
    code, err = host.create("1,2", 256)
    assert code == executor.NO_ROOM
    assert "core 2 is already taken" in err


def test_a_stale_reservation_whose_container_is_gone_is_dropped(host: Host) -> None:
    host.reserve("drove-gone 2 0 100", minutes_old=5)
    code, err = host.create("1,2", 256)
    assert code == 0, err
    assert not (host.reservations / "drove-gone").exists()
    assert (host.reservations / "drove-app-t1-abcd1234").exists()  # ours, just written


def test_an_old_reservation_of_a_live_container_is_kept(tmp_path: Path) -> None:
    fake = Host(tmp_path, census="drove-live 2 0 100\n")
    try:
        fake.reserve("drove-live 2 0 100", minutes_old=5)
        code, _ = fake.create("1,2", 256)
        assert code == executor.NO_ROOM  # docker's list says so
        assert (fake.reservations / "drove-live").exists()
    finally:
        fake.cleanup()


def test_a_container_docker_lists_counts_without_any_reservation(tmp_path: Path) -> None:
    # Made by an older drove-tui, or its reservation went with a /tmp clean-up.
    fake = Host(tmp_path, census="drove-old 1 0 100\n")
    try:
        code, err = fake.create("1,2", 256)
        assert code == executor.NO_ROOM
        assert "core 1 is already taken" in err
    finally:
        fake.cleanup()


def test_a_reservation_says_when_it_was_made_by_the_hosts_clock(host: Host) -> None:
    before = int(time.time())
    code, err = host.create("1,2", 256)
    assert code == 0, err
    name, cores, numa, memory, r, epoch = (
        (host.reservations / "drove-app-t1-abcd1234").read_text().split()
    )
    assert (name, cores, numa, memory, r) == ("drove-app-t1-abcd1234", "1,2", "0", "256", "r")
    assert before <= int(epoch) <= time.time() + 1


def test_a_reservation_without_its_time_counts_as_stale(host: Host) -> None:
    # Written by an older drove-tui (its age was the file's): never counted, dropped when
    # its container is gone.
    host.reservations.mkdir(exist_ok=True)
    (host.reservations / "drove-older").write_text("drove-older 2 0 100 r\n")
    code, err = host.create("1,2", 256)
    assert code == 0, err
    assert not (host.reservations / "drove-older").exists()


def test_odd_file_names_in_the_reservations_folder_are_neither_run_nor_removed(
    host: Host,
) -> None:
    # The folder is shared by every user of the host (sticky, like /tmp).
    host.reservations.mkdir(exist_ok=True)
    odd = ["$(touch pwned)", "a b", "*", "x;y"]
    for name in [*odd, "-rf"]:
        (host.reservations / name).write_text("x 9 0 1 r 1\n")  # stale, no container
    code, err = host.create("1,2", 256)
    assert code == 0, err
    # A stale one with a plain name is dropped, even one that looks like an option.
    assert sorted(p.name for p in host.reservations.iterdir()) == sorted(
        [*odd, "drove-app-t1-abcd1234"]
    )
    assert not (host.tmp / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize(
    "docker_host",
    ["unix:///var/run/docker.sock", "ssh://u@h:22 x'y\"z", "tcp://h:2375/" + "p" * 300],
)
def test_the_host_lock_path_is_one_safe_file_per_docker_endpoint(docker_host: str) -> None:
    def paths(env: dict[str, str]) -> str:
        return subprocess.run(
            [
                "sh",
                "-c",
                'd="sudo docker"\n' + executor.HOST_PATHS + 'printf "%s|%s" "$lock" "$resv"',
            ],
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    lock, resv = paths({"DOCKER_HOST": docker_host}).split("|")
    assert lock.startswith("/tmp/drove-tui-") and lock.endswith(".lock")
    key = lock.removeprefix("/tmp/drove-tui-").removesuffix(".lock")
    assert resv == f"/tmp/drove-tui-{key}.d"
    assert key and len(key) <= 200 and all(c.isalnum() or c in "._-" for c in key)
    assert paths({"DOCKER_HOST": docker_host}) == paths({"DOCKER_HOST": docker_host})
    assert paths({"DOCKER_HOST": docker_host + "2"}) != paths({"DOCKER_HOST": docker_host})


def test_no_directory_fifo_or_link_in_the_reservations_folder_stops_a_create(
    host: Host,
) -> None:
    host.reservations.mkdir(exist_ok=True)
    (host.reservations / "drove-dir").mkdir()
    os.mkfifo(host.reservations / "drove-fifo")  # opening it would block, lock held
    (host.reservations / "drove-link").symlink_to("/etc/hostname")
    code, err = host.create("1,2", 256)
    assert code == 0, err
    names = {p.name for p in host.reservations.iterdir()}
    assert {"drove-dir", "drove-fifo", "drove-link", "drove-app-t1-abcd1234"} <= names


def test_a_reservations_folder_that_is_a_link_is_refused(host: Host, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "drove-victim").write_text("drove-victim 3 0 100 r 1\n")  # stale
    host.reservations.symlink_to(elsewhere)
    code, err = host.create("1,2", 256)
    assert code == 1
    assert "is a symbolic link" in err
    assert (elsewhere / "drove-victim").exists()
    host.reservations.unlink()


def test_a_reservation_made_after_the_engines_listing_counts_whatever_its_age(
    host: Host,
) -> None:
    # The create waited (for a channel, the lock) since the engine's probe: a reservation
    # counts while it was younger than two minutes at that listing, whatever its age now.
    census = f"@since {int(time.time()) - 10 * 60}\n"
    host.reserve("drove-after 2 0 100", minutes_old=9)  # made after the listing
    host.reserve("drove-young 3 0 100", minutes_old=11)  # a minute old at the listing
    host.reserve("drove-old 4 0 100", minutes_old=13)  # three minutes old at the listing
    for taken in ("2", "3"):
        code, err = host.create(f"1,{taken}", 256, census=census)
        assert code == executor.NO_ROOM
        assert f"core {taken} is already taken" in err
    code, err = host.create("1,4", 256, census=census)
    assert code == 0, err
    assert not (host.reservations / "drove-old").exists()  # stale, no container: dropped
    assert (host.reservations / "drove-young").exists()


def test_reservations_are_readable_by_every_user_whatever_the_umask(host: Host) -> None:
    code, err = host.run(host.create_command("1,2", 256), umask=0o077)
    assert code == 0, err
    lock = Path(str(host.reservations).removesuffix(".d") + ".lock")
    for path in (lock, host.reservations / "drove-app-t1-abcd1234"):
        assert path.stat().st_mode & 0o044 == 0o044, oct(path.stat().st_mode)


def test_a_reservation_without_a_final_newline_counts(host: Host) -> None:
    host.reservations.mkdir(exist_ok=True)
    (host.reservations / "drove-x").write_text(f"drove-x 2 0 100 r {int(time.time())}")
    code, err = host.create("1,2", 256)
    assert code == executor.NO_ROOM
    assert "core 2 is already taken" in err


def test_our_own_reservation_without_a_container_does_not_block_us(host: Host) -> None:
    host.reserve("drove-app-t1-abcd1234 1,2 0 256")  # a create of ours that was cut short
    code, err = host.create("1,2", 256)
    assert code == 0, err


def test_removing_a_container_drops_its_reservation(host: Host) -> None:
    host.reserve("drove-app-t1-abcd1234 1,2 0 256")
    code, err = host.run(executor.remove(host.config, "drove-app-t1-abcd1234"))
    assert code == 0, err
    assert "rm" in host.calls()
    assert not (host.reservations / "drove-app-t1-abcd1234").exists()


@pytest.mark.parametrize(
    ("status", "state", "error", "marker", "kept"),
    [
        # An exited container's labels hold its allocation: the reservation goes at once,
        # so that its removal needs no shell (engine/removal.py).
        (0, "", "", "@T exit 0", False),
        (7, "exited 7", "", "@T exit 7", False),  # the container's exit code, as docker says
        (137, "exited 137", "", "@T exit 137", False),  # killed
        (255, "exited 3", "", "@T exit 3", False),  # the client's status is not the container's
        (125, "", "", "@T notstarted", False),  # docker could not create it: nothing reserved
        (127, "created 0", "", "@T notstarted", True),  # created, not started: removed later
        (143, "running 0", "", "@T running", True),  # the client ended, the container did not
        (1, "", "Cannot connect to the Docker daemon", "@T unknown", True),  # docker silent
    ],
)
def test_attached_run_ends_with_what_its_status_means(
    host: Host, status: int, state: str, error: str, marker: str, kept: bool
) -> None:
    host.env.update(RUN_STATUS=str(status), STATE=state)
    if error:
        host.env["INSPECT_ERROR"] = error
    code, err = host.create("1,2", 256, mode="attach")
    assert code == status
    assert [c for c in host.calls() if c.startswith("run ")] == ["run --sig-proxy=false img"]
    assert [line for line in err.splitlines() if line.startswith("@T ")] == [marker]
    assert (host.reservations / "drove-app-t1-abcd1234").exists() == kept


def test_attached_run_with_no_room_says_so_before_running_anything(host: Host) -> None:
    host.reserve("drove-x 1 0 100")
    (host.tmp / "census").write_text("drove-x 1 0 100\n")
    code, err = host.create("1,2", 256, mode="attach")
    assert code == executor.NO_ROOM
    assert f"@T fail {executor.NO_ROOM}" in err.splitlines()
    assert not [c for c in host.calls() if c.startswith("run ")]


def start_reserve(host: Host, cores: str = "1", census: str = "") -> subprocess.Popen[bytes]:
    """CREATE_SCRIPT in reserve mode, its stdin left open (the engine's feed)."""
    line = host.create_command(cores, 100, "reserve", census=census).line()
    return subprocess.Popen(
        ["sh", "-c", line], env=host.env, stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )


def reservation(host: Host) -> Path:
    return host.reservations / executor.container_name(
        record(TaskSpec.model_validate(SPEC)).instance_id
    )


@pytest.mark.parametrize(("told", "kept"), [(b"ended\n", False), (b"", True), (b"other\n", True)])
def test_reserve_mode_reserves_lets_the_lock_go_and_drops_the_reservation_only_when_told(
    host: Host, told: bytes, kept: bool
) -> None:
    proc = start_reserve(host)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        assert proc.stderr.readline() == b"@T reserved\n"
        assert reservation(host).read_text().startswith(f"{reservation(host).name} 1 0 100 r ")
        # The lock is free while the run goes on: another create can take it at once.
        lock = str(host.reservations).removesuffix(".d") + ".lock"
        assert subprocess.run(["flock", "-n", lock, "true"], check=False).returncode == 0
        proc.stdin.write(told)
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert reservation(host).exists() == kept
    assert host.calls() == []  # no docker call: the engine's census, the engine's create


def test_reserve_mode_with_no_room_says_so_and_reserves_nothing(host: Host) -> None:
    proc = start_reserve(host, census="drove-x 1 0 100\n")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == executor.NO_ROOM
    assert err.decode().splitlines()[-1] == f"@T fail {executor.NO_ROOM}"
    assert b"reserved" not in err
    assert not reservation(host).exists()
