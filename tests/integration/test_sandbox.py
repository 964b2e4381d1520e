"""The sandbox itself: real hosts that behave like separate machines, and can be broken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox

SANDBOX_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sandbox"


def test_docker_run_over_ssh_prints_ok(sandbox: Sandbox) -> None:
    res = sandbox.run_ssh("host2", "docker", "run", "--rm", sandbox.image, "echo", "ok")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_image_runs_with_its_default_command_and_network(sandbox: Sandbox) -> None:
    # dockerd runs with --bridge=none: a plain `docker run` must still work (no --network).
    res = sandbox.run_ssh("host1", "docker", "run", "--rm", sandbox.image)
    assert res.returncode == 0, res.stderr


def test_each_host_sees_only_its_own_containers(sandbox: Sandbox) -> None:
    name = f"sandbox-test-{uuid.uuid4().hex[:8]}"
    started = sandbox.run_ssh(
        "host1", "docker", "run", "-d", "--name", name, sandbox.image, "sleep", "300"
    )
    assert started.returncode == 0, started.stderr
    try:
        for host in sandbox.hosts:
            ps = sandbox.run_ssh(host, "docker", "ps", "--format", "{{.Names}}")
            assert ps.returncode == 0, ps.stderr
            assert (name in ps.stdout.split()) == (host == "host1"), host
    finally:
        sandbox.run_ssh("host1", "docker", "rm", "-f", name)


def test_stopped_docker_is_down_until_started(sandbox: Sandbox) -> None:
    sandbox.stop("host3", "docker")
    try:
        down = sandbox.run_ssh("host3", "docker", "version")
        assert down.returncode != 0
        assert "Cannot connect to the Docker daemon" in down.stderr
    finally:
        sandbox.start("host3", "docker")
    up = sandbox.run_ssh("host3", "docker", "version", "--format", "{{.Server.Version}}")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip()


def test_stopped_sshd_refuses_connections_until_started(sandbox: Sandbox) -> None:
    sandbox.stop("host2", "sshd")
    try:
        refused = sandbox.run_ssh("host2", "true")
        assert refused.returncode == 255
        assert "Connection refused" in refused.stderr
    finally:
        sandbox.start("host2", "sshd")
    assert sandbox.run_ssh("host2", "true").returncode == 0


def test_cut_host_makes_connects_hang_until_healed(sandbox: Sandbox) -> None:
    ssh = ["ssh", "-F", str(sandbox.ssh_config), "-o", "ConnectTimeout=2", "host4", "true"]
    sandbox.cut("host4")
    try:
        hung = subprocess.run(ssh, capture_output=True, text=True, timeout=60, check=False)
        assert hung.returncode == 255
        # A partition hangs (timeout); it is not a refusal.
        assert "timed out" in hung.stderr, hung.stderr
    finally:
        sandbox.heal("host4")
    healed = subprocess.run(ssh, capture_output=True, text=True, timeout=60, check=False)
    assert healed.returncode == 0, healed.stderr


def test_status_marks_a_cut_host_and_fails_until_healed(sandbox: Sandbox) -> None:
    assert sandbox.script("status").returncode == 0
    sandbox.cut("host3")
    try:
        cut = sandbox.script("status")
        assert cut.returncode == 1
        host3 = next(line for line in cut.stdout.splitlines() if line.startswith("host3 "))
        assert host3.endswith("CUT")
    finally:
        sandbox.heal("host3")
    assert sandbox.script("status").returncode == 0


def test_big_image_is_pulled_by_a_host_with_its_random_payload(sandbox: Sandbox) -> None:
    pushed = sandbox.script("big-image", "3", "--tag", "sandbox-test")
    assert pushed.returncode == 0, pushed.stderr
    ref = pushed.stdout.strip()
    assert ref == f"{sandbox.registry}/big:sandbox-test"
    try:
        size = sandbox.run_ssh("host2", "docker", "run", "--rm", ref, "wc", "-c", "/big.bin")
        assert size.returncode == 0, size.stderr
        assert size.stdout.split()[0] == str(3 << 20)
    finally:
        sandbox.run_ssh("host2", "docker", "rmi", ref)


def test_up_again_keeps_the_running_daemons(sandbox: Sandbox) -> None:
    # The first up repairs whatever an earlier test may have left; the second must not touch.
    assert sandbox.script("up", str(len(sandbox.hosts))).returncode == 0
    pids_before = own_pids(sandbox.dir)
    res = sandbox.script("up", str(len(sandbox.hosts)))
    assert res.returncode == 0, res.stderr
    assert own_pids(sandbox.dir) == pids_before


def test_client_files_name_every_host(sandbox: Sandbox) -> None:
    inventory = sandbox.inventory_path.read_text()
    known = sandbox.known_hosts.read_text()
    for host, address in sandbox.addresses.items():
        assert f'name: {host}, address: "{address}"' in inventory
        assert f"[{address}]:2222 ssh-ed25519 " in known
    assert sandbox.identity_file.stat().st_mode & 0o077 == 0  # ssh refuses a readable key


@pytest.fixture
def spare_sandbox_env() -> Iterator[dict[str, str]]:
    """Environment for a second, one-host sandbox beside the session's (own dir, subnet, port)."""
    root = Path(os.environ.get("DROVE_SANDBOX_DIR", "/var/tmp/drove-sandbox")).absolute()
    subnet = os.environ.get("DROVE_SANDBOX_SUBNET", "127.0.0").split(".")
    port = int(os.environ.get("DROVE_SANDBOX_REGISTRY_PORT", "5000"))
    env = dict(
        os.environ,
        DROVE_SANDBOX_DIR=f"{root}-spare",
        DROVE_SANDBOX_SUBNET=f"127.{int(subnet[1]) + 100}.{subnet[2]}",
        DROVE_SANDBOX_REGISTRY_PORT=str(port + 1000),
    )
    try:
        yield env
    finally:
        spare_script(env, "down", "--purge")


def spare_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SANDBOX_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def test_down_leaves_no_process_of_it_running(spare_sandbox_env: dict[str, str]) -> None:
    root = Path(spare_sandbox_env["DROVE_SANDBOX_DIR"])
    up = spare_script(spare_sandbox_env, "up", "1")
    assert up.returncode == 0, up.stderr
    state = json.loads((root / "state.json").read_text())
    ssh = ["ssh", "-F", str(root / "ssh_config"), "host1"]
    run = [*ssh, "docker", "run", "-d", state["image"], "sleep", "300"]
    assert subprocess.run(run, capture_output=True, timeout=120, check=False).returncode == 0
    assert own_pids(root), "the spare sandbox should be running before down"

    down = spare_script(spare_sandbox_env, "down")
    assert down.returncode == 0, down.stderr
    assert own_pids(root) == set()
    assert processes_mentioning(root) == []


def own_pids(root: Path) -> set[int]:
    """Pids from the sandbox's pid files whose processes still run (zombies do not count)."""
    pids = set()
    for pidfile in root.glob("*/*.pid"):
        try:
            pid = int(pidfile.read_text())
        except ValueError:
            continue
        if is_running(pid):
            pids.add(pid)
    return pids


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def processes_mentioning(root: Path) -> list[str]:
    """Command lines of live processes that name a path inside root (daemons, shims)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not is_running(int(entry.name)):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"{root}/" in cmdline:
            found.append(cmdline)
    return found


def test_docker_starts_again_past_a_zombie_pid_file_and_without_stale_sandboxes(
    spare_sandbox_env: dict[str, str],
) -> None:
    root = Path(spare_sandbox_env["DROVE_SANDBOX_DIR"])
    up = spare_script(spare_sandbox_env, "up", "1")
    assert up.returncode == 0, up.stderr
    state = json.loads((root / "state.json").read_text())
    ssh = ["ssh", "-F", str(root / "ssh_config"), "host1"]
    # With --bridge=none, each container run without --network leaves a network sandbox
    # record that a restarted dockerd removes one by one (moby/moby#46583).
    for _ in range(3):
        run = [*ssh, "docker", "run", "--rm", state["image"], "true"]
        assert subprocess.run(run, capture_output=True, timeout=120, check=False).returncode == 0
    stop = spare_script(spare_sandbox_env, "stop", "host1", "docker")
    assert stop.returncode == 0, stop.stderr
    # A dockerd killed during its start leaves its pid file; here its process is a zombie
    # (pid 1 may never reap it), which dockerd takes for a running daemon.
    zombie = subprocess.Popen(["true"])
    try:
        while is_running(zombie.pid):
            time.sleep(0.01)
        (root / "docker1" / "exec" / "docker.pid").write_text(f"{zombie.pid}")
        log = root / "docker1" / "dockerd.log"
        before = log.stat().st_size
        start = spare_script(spare_sandbox_env, "start", "host1", "docker")
        assert start.returncode == 0, start.stderr
    finally:
        zombie.wait()
    with log.open("rb") as f:
        f.seek(before)
        since = f.read().decode("utf-8", "replace")
    assert "Starting up" in since
    assert "Removing stale sandbox" not in since
