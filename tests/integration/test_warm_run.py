"""`drove-tui --run` through the warm server, as real processes on the real sandbox.

Every test has its own runtime directory (XDG_RUNTIME_DIR), so its servers are its own; they
are stopped at the end. Runs use `subprocess.run(capture_output=True)`, which reads both pipes
to their end: if the server kept a client's stdout or stderr open after the run, the call
would hang until the server's idle time (300 s here) and fail on the timeout. Waits are on
the processes' own output and on process ends, never on sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import test_run_cli as run_cli
import yaml
from test_run_cli import container_of, start_run, write_spec

if TYPE_CHECKING:
    from conftest import Sandbox

TIMEOUT = 180


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Path]:
    """This test's XDG_RUNTIME_DIR; every server started in it is stopped afterwards."""
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    yield path
    for pid in server_pids(path):
        os.kill(pid, signal.SIGTERM)
    for pid in server_pids(path):
        wait_gone(pid)


def server_pids(runtime: Path) -> list[int]:
    """The live warm servers of this runtime directory (each writes its pid in its lock)."""
    found = []
    for lock in sorted((runtime / "drove-tui").glob("*.lock")):
        text = lock.read_text().strip()
        if text and Path(f"/proc/{text}").exists():
            found.append(int(text))
    return found


def wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return  # exited; its parent (long gone) left the reaping to init
        assert time.monotonic() < deadline, f"warm server {pid} still there"
        time.sleep(0.05)


def env_for(runtime: Path, warm: str = "300") -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["DROVE_TUI_WARM"] = warm
    env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def drove(
    sandbox: Sandbox,
    runtime: Path,
    state: Path,
    *argv: str,
    inventory: Path | None = None,
    warm: str = "300",
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """test_run_cli.drove with this test's runtime directory and warm setting."""
    return run_cli.drove(
        sandbox, state, *argv, inventory=inventory, env=env_for(runtime, warm), **kw
    )


def test_warm_runs_reproduce_both_streams_and_exit_codes_on_one_server(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    script = "echo out1; echo err1 >&2; echo out2; exit 7"
    first, _, _ = write_spec(tmp_path, sandbox.image, script)
    done = drove(sandbox, runtime, state, "--run", str(first))
    assert done.returncode == 7, done.stderr
    assert done.stdout == "out1\nout2\n"
    assert "err1" in done.stderr.splitlines()
    assert any(line.startswith("RUNNING") for line in done.stderr.splitlines())
    servers = server_pids(runtime)
    assert len(servers) == 1

    second, app, task = write_spec(tmp_path, sandbox.image, script)
    done = drove(sandbox, runtime, state, "--run", str(second), "--json")
    assert done.returncode == 7, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert (lines[-1]["sourceAppName"], lines[-1]["taskId"]) == (app, task)
    assert lines[-1]["taskResult"] == {"status": "FAILED", "exitCode": 7}
    logs = [(x["stream"], x["text"]) for x in lines if x.get("event") == "log"]
    assert sorted(logs) == [("stderr", "err1"), ("stdout", "out1"), ("stdout", "out2")]
    assert server_pids(runtime) == servers  # the same server ran both


def test_warm_run_reads_relative_paths_and_stdin_where_the_user_stands(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    work = tmp_path / "work"
    work.mkdir()
    spec, _, _ = write_spec(work, sandbox.image, "echo from-file")
    done = drove(sandbox, runtime, state, "--run", spec.name, cwd=work)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from-file\n"

    piped, _, _ = write_spec(tmp_path, sandbox.image, "echo from-stdin")
    done = drove(sandbox, runtime, state, "--run", "-", input=piped.read_text())
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from-stdin\n"
    # A path that names the client's own descriptor is read by the client, not the server.
    devstdin, _, _ = write_spec(tmp_path, sandbox.image, "echo from-dev-stdin")
    done = drove(sandbox, runtime, state, "--run", "/dev/stdin", input=devstdin.read_text())
    assert (done.returncode, done.stdout) == (0, "from-dev-stdin\n"), done.stderr
    assert "running in this process" not in done.stderr
    assert len(server_pids(runtime)) == 1


def test_bad_input_on_a_warm_server_is_one_sentence_and_leaves_the_store_alone(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    good, _, _ = write_spec(tmp_path, sandbox.image, "true")
    assert drove(sandbox, runtime, state, "--run", str(good)).returncode == 0
    before = drove(sandbox, runtime, state, "tasks", "list", "--json").stdout

    broken = tmp_path / "broken.yaml"
    data = yaml.safe_load(good.read_text())
    data["resources"][0]["count"] = "many"
    broken.write_text(yaml.safe_dump(data))
    done = drove(sandbox, runtime, state, "--run", "broken.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("drove-tui: ")
    assert "broken.yaml:" in done.stderr and "Traceback" not in done.stderr
    missing = drove(sandbox, runtime, state, "--run", str(good), "--fan-out", "nosuchhost")
    assert missing.returncode == 2, missing.stderr
    assert (
        "--fan-out 'nosuchhost': host pattern term 'nosuchhost' matches no host" in missing.stderr
    )
    assert drove(sandbox, runtime, state, "tasks", "list", "--json").stdout == before
    assert len(server_pids(runtime)) == 1  # the server served all three


def test_interrupt_detaches_and_the_server_drives_the_task_until_killed(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    spec, app, task = write_spec(tmp_path, sandbox.image, "echo started; sleep 300")
    proc = start_run(sandbox, state, spec, env=env_for(runtime))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "detached" in err and f"drove-tui tasks kill {app} {task}" in err
    shown = json.loads(drove(sandbox, runtime, state, "tasks", "show", app, task, "--json").stdout)
    assert shown["state"] == "RUNNING"
    assert len(container_of(sandbox, shown["hostname"], task)) == 1
    # `tasks kill` is its own process: the kill goes through the store to the server, which
    # owns the task and ends it.
    killed = drove(sandbox, runtime, state, "tasks", "kill", app, task, "--wait")
    assert killed.returncode == 0, killed.stderr
    final = json.loads(drove(sandbox, runtime, state, "tasks", "show", app, task, "--json").stdout)
    assert (final["state"], final["taskResult"]["status"]) == ("STOPPED", "CANCELLED")
    assert container_of(sandbox, shown["hostname"], task) == []


def test_warm_fan_out_prefixes_every_host_and_summarises(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    spec, _, _ = write_spec(tmp_path, sandbox.image, 'echo "hi from $DROVE_EXECUTOR_HOST"')
    hosts = sandbox.hosts[:2]
    done = drove(sandbox, runtime, state, "--run", str(spec), "--fan-out", ",".join(hosts))
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [f"{h} | hi from {h}" for h in hosts]
    assert f"all {len(hosts)} hosts succeeded" in done.stderr


def test_a_changed_inventory_gets_a_new_server(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(sandbox.inventory_path.read_text())
    spec, _, _ = write_spec(tmp_path, sandbox.image, "true")
    assert drove(sandbox, runtime, state, "--run", str(spec), inventory=inventory).returncode == 0
    first = server_pids(runtime)
    inventory.write_text(inventory.read_text() + "\n# changed\n")
    spec, _, _ = write_spec(tmp_path, sandbox.image, "true")
    assert drove(sandbox, runtime, state, "--run", str(spec), inventory=inventory).returncode == 0
    both = server_pids(runtime)
    assert len(first) == 1 and len(both) == 2 and first[0] in both


def test_an_idle_server_leaves_and_removes_its_socket(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    spec, _, _ = write_spec(tmp_path, sandbox.image, "true")
    done = drove(sandbox, runtime, tmp_path / "state.db", "--run", str(spec), warm="1")
    assert done.returncode == 0, done.stderr
    sockets = list((runtime / "drove-tui").glob("*.sock"))
    locks = list((runtime / "drove-tui").glob("*.lock"))
    assert len(sockets) == 1 and len(locks) == 1
    wait_gone(int(locks[0].read_text()))
    assert not sockets[0].exists()


def test_no_warm_runs_in_the_process_itself(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    spec, _, _ = write_spec(tmp_path, sandbox.image, "echo here")
    state = tmp_path / "state.db"
    done = drove(sandbox, runtime, state, "--run", str(spec), "--no-warm")
    assert (done.returncode, done.stdout) == (0, "here\n"), done.stderr
    off = drove(sandbox, runtime, state, "--run", str(spec), warm="0")
    assert off.returncode != 0 and "already" in off.stderr.lower()  # same task id: refused
    assert not (runtime / "drove-tui").exists()


def test_a_runtime_directory_others_can_enter_is_not_used(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    (runtime / "drove-tui").mkdir(mode=0o755)
    (runtime / "drove-tui").chmod(0o755)
    spec, _, _ = write_spec(tmp_path, sandbox.image, "echo here")
    # From a pipe: the spec the client read is handed to the run in its own process.
    done = drove(sandbox, runtime, tmp_path / "state.db", "--run", "-", input=spec.read_text())
    assert (done.returncode, done.stdout) == (0, "here\n"), done.stderr
    assert "not private" in done.stderr and "running in this process" in done.stderr
    assert list((runtime / "drove-tui").iterdir()) == []


def test_a_spec_of_megabytes_on_stdin_reaches_the_server_whole(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    spec, _, _ = write_spec(tmp_path, sandbox.image, "echo big")
    # Padding the loader accepts (a YAML comment, under its 1 MiB), far beyond a socket buffer.
    text = spec.read_text() + "#" + "p" * (900 * 1024) + "\n"
    done = drove(sandbox, runtime, tmp_path / "state.db", "--run", "-", input=text)
    assert (done.returncode, done.stdout) == (0, "big\n"), done.stderr[-2000:]
    assert len(server_pids(runtime)) == 1


def test_a_replaced_state_file_retires_the_server_and_a_new_one_takes_the_run(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    state = tmp_path / "state.db"
    spec, _, _ = write_spec(tmp_path, sandbox.image, "true")
    assert drove(sandbox, runtime, state, "--run", str(spec)).returncode == 0
    first = server_pids(runtime)
    for path in tmp_path.glob("state.db*"):
        path.unlink()  # the operator starts afresh
    spec, app, task = write_spec(tmp_path, sandbox.image, "echo fresh")
    done = drove(sandbox, runtime, state, "--run", str(spec))
    assert (done.returncode, done.stdout) == (0, "fresh\n"), done.stderr
    listed = json.loads(drove(sandbox, runtime, state, "tasks", "show", app, task, "--json").stdout)
    assert listed["state"] == "STOPPED"  # in the new state file, not the deleted one
    now = server_pids(runtime)
    assert len(first) == 1 and len(now) >= 1 and now != first


def test_a_broken_inventory_is_told_once_as_without_a_server(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts:\n  - {name: h1, adress: 127.0.0.1}\n")
    spec, _, _ = write_spec(tmp_path, sandbox.image, "true")
    done = drove(
        sandbox,
        runtime,
        tmp_path / "state.db",
        "--run",
        "-",
        inventory=inventory,
        input=spec.read_text(),
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("drove-tui: ") and "adress" in done.stderr, done.stderr
    assert "warm server" not in done.stderr and "Traceback" not in done.stderr
    assert server_pids(runtime) == []


def test_two_first_runs_at_once_share_one_server(
    sandbox: Sandbox, tmp_path: Path, runtime: Path
) -> None:
    # Two CI steps starting together: both spawn a server, one wins the lock, and the other
    # client waits for it instead of running alone.
    state = tmp_path / "state.db"
    specs = [write_spec(tmp_path, sandbox.image, f"echo run{i}")[0] for i in (1, 2)]
    base = [sys.executable, "-m", "drove_tui", "-i", str(sandbox.inventory_path)]
    procs = [
        subprocess.Popen(
            [*base, "--state", str(state), "--run", str(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_for(runtime),
        )
        for spec in specs
    ]
    outs = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    for i, (proc, (out, err)) in enumerate(zip(procs, outs, strict=True), start=1):
        assert (proc.returncode, out) == (0, f"run{i}\n"), err
        assert "running in this process" not in err
    assert len(server_pids(runtime)) == 1
