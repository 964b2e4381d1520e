"""The task engine on the real sandbox: Drove's lifecycle over docker, failures, kill, capacity."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import CONNECTION_LOST, RunResult, Unreachable
from drove_tui.engine.engine import Engine
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import Inventory
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskState, TaskStatus, can_move
from drove_tui.models.task import TaskRecord
from tests.conftest import Sandbox

S = TaskState


def inventory(sandbox: Sandbox, **settings: Any) -> Inventory:
    inv = load_inventory(sandbox.inventory_path, ssh_config=sandbox.ssh_config)
    merged = inv.settings.model_copy(update={"probe_interval_s": 1, **settings})
    return inv.model_copy(update={"settings": merged})


def spec(sandbox: Sandbox, task: str, args: list[str], **extra: Any) -> TaskSpec:
    body: dict[str, Any] = {
        "sourceAppName": "it",
        "taskId": task,
        "executable": {"type": "DOCKER", "url": sandbox.image, "dockerPullTimeout": "60 seconds"},
        "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
        "args": args,
    }
    body.update(extra)
    return TaskSpec.model_validate(body)


def on_every_host(sandbox: Sandbox, *argv: str) -> list[str]:
    """Run argv on every sandbox host at once (plain ssh); each host's stdout."""
    with ThreadPoolExecutor(len(sandbox.hosts)) as pool:
        return list(pool.map(lambda host: sandbox.run_ssh(host, *argv).stdout, sandbox.hosts))


def remove_leftovers(sandbox: Sandbox, app: str) -> None:
    """Containers a failed earlier run left behind would hold cores (as they should), and
    so would their reservations for two minutes (the hosts share this machine's /tmp)."""
    script = (
        f"for c in $(docker ps -a --filter label=drove.app={app} --format '{{{{.Names}}}}');"
        ' do docker rm -f "$c" >/dev/null; rm -f /tmp/drove-tui-*.d/"$c"; done'
    )
    on_every_host(sandbox, "sh", "-c", script)


@pytest.fixture(autouse=True)
def _clean_hosts(sandbox: Sandbox) -> None:
    remove_leftovers(sandbox, "it")


def with_cores(task: TaskSpec, cores: int) -> TaskSpec:
    resources = [
        r.model_copy(update={"count": cores}) if r.type == "CPU" else r for r in task.resources
    ]
    return task.model_copy(update={"resources": resources})


def assert_legal_history(engine: Engine, record: TaskRecord) -> None:
    history = engine.store.history(record.app, record.task_id)
    for step in history[1:]:
        assert step.from_state is not None and can_move(step.from_state, step.to_state), step


async def wait_state(engine: Engine, app: str, task: str, state: TaskState) -> TaskRecord:
    async with asyncio.timeout(60):
        while True:
            record = engine.get(app, task)
            if record.state is state:
                return record
            assert record.state not in TERMINAL, record
            await asyncio.sleep(0.05)


async def test_drove_sample_spec_runs_to_stopped_with_env_config_volume_args_and_pinning(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    host_dir = f"/tmp/drove-it-{tmp_path.name}"
    assert sandbox.run_ssh("host1", "mkdir", "-p", host_dir).returncode == 0
    sandbox.run_ssh("host1", "sh", "-c", f"echo volume-bytes > {host_dir}/in.txt")
    config = b"key=value\n\x00binary\xff"
    sample = spec(
        sandbox,
        "sample",
        ["sh", "-c", "env; cat /data/in.txt; sleep 2; od -An -tx1 /etc/app/conf.bin"],
        env={"CORES": "1", "FROM_SPEC": "yes"},
        volumes=[{"pathInContainer": "/data", "pathOnHost": host_dir, "mode": "READ_ONLY"}],
        configs=[
            {
                "type": "INLINE",
                "localFilename": "/etc/app/conf.bin",
                "data": base64.b64encode(config).decode(),
            }
        ],
        tags={"purpose": "it"},
    )
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(sample, pin_host="host1")
        running = await wait_state(engine, "it", "sample", S.RUNNING)
        inspect = sandbox.run_ssh("host1", "docker", "inspect", f"drove-{running.instance_id}")
        host_config = json.loads(inspect.stdout)[0]["HostConfig"]
        assert host_config["CpusetCpus"] == ",".join(map(str, running.cores))
        assert host_config["Memory"] == 64 * 1024 * 1024
        assert host_config["RestartPolicy"]["Name"] == "no"
        assert not host_config.get("PortBindings")
        done = await engine.wait("it", "sample")
        assert done.state is S.STOPPED
        assert done.result is not None and done.result.status is TaskStatus.SUCCESSFUL
        text = "\n".join([line.text async for line in engine.logs("it", "sample")])
        assert_legal_history(engine, done)
    for expected in ("FROM_SPEC=yes", "DROVE_TASK_ID=sample", "DROVE_SOURCE_APP_NAME=it"):
        assert expected in text
    assert f"DROVE_INSTANCE_ID={done.instance_id}" in text
    assert "DROVE_EXECUTOR_HOST=host1" in text and "HOST=" in text
    assert "volume-bytes" in text
    assert " ".join(f"{b:02x}" for b in config) in " ".join(text.split())
    gone = sandbox.run_ssh("host1", "docker", "ps", "-aq", "--filter", "label=drove.task=sample")
    assert gone.stdout.strip() == ""  # deprovisioned


async def test_exit_3_is_failed_with_exit_code_3(sandbox: Sandbox, tmp_path: Path) -> None:
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(spec(sandbox, "exit3", ["sh", "-c", "exit 3"]))
        done = await engine.wait("it", "exit3")
        assert done.state is S.STOPPED
        assert done.result is not None
        assert (done.result.status, done.result.exit_code) == (TaskStatus.FAILED, 3)
        assert done.error == "Task instance exited with status: 3"
        assert_legal_history(engine, done)


async def test_missing_image_is_provisioning_failed_with_the_registry_text(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    missing = spec(sandbox, "noimage", ["true"])
    url = f"{sandbox.registry}/no-such-image:latest"
    missing = missing.model_copy(
        update={"executable": missing.executable.model_copy(update={"url": url})}
    )
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(missing)
        done = await engine.wait("it", "noimage")
        assert done.state is S.PROVISIONING_FAILED
        assert done.error is not None and "Error while pulling image" in done.error
        assert "not found" in done.error or "unknown" in done.error
        assert_legal_history(engine, done)


async def test_bad_volume_path_fails_at_starting_with_dockers_message(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    bad = spec(
        sandbox,
        "badvol",
        ["true"],
        volumes=[{"pathInContainer": "relative", "pathOnHost": "/tmp", "mode": "READ_WRITE"}],
    )
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(bad)
        done = await engine.wait("it", "badvol")
        history = [t.to_state for t in engine.store.history("it", "badvol")]
        assert S.STARTING in history and S.RUNNING not in history
        assert done.state is S.STOPPED
        assert done.result is not None and done.result.status is TaskStatus.FAILED
        assert done.error is not None and "relative" in done.error.lower()


async def test_kill_of_running_task_is_cancelled_and_deprovisions(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(spec(sandbox, "longrun", ["sleep", "300"]))
        await wait_state(engine, "it", "longrun", S.RUNNING)
        await engine.kill("it", "longrun")
        done = await engine.wait("it", "longrun")
        assert done.state is S.STOPPED
        assert done.result is not None
        assert (done.result.status, done.result.exit_code) == (TaskStatus.CANCELLED, -1)
        assert_legal_history(engine, done)


async def test_kill_whose_first_docker_kill_is_lost_is_sent_again_and_ends_the_task(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(spec(sandbox, "killretry", ["sleep", "3600"]), pin_host="host1")
        await wait_state(engine, "it", "killretry", S.RUNNING)
        host = engine.inventory.host("host1")
        assert host is not None
        transport = engine.cluster.transport(host)
        real_run = transport.run
        kills: list[str] = []

        async def run(cmd: Command, **kw: Any) -> RunResult:
            if cmd.argv()[1:2] == ["kill"]:
                kills.append(str(cmd))
                if len(kills) == 1:  # the first kill never reaches the host
                    raise Unreachable("host1", CONNECTION_LOST, "host1: connection lost (test)")
            return await real_run(cmd, **kw)

        transport.run = run  # type: ignore[method-assign]
        await engine.kill("it", "killretry")
        async with asyncio.timeout(60):  # without a second kill the sleep runs for an hour
            done = await engine.wait("it", "killretry")
        assert len(kills) == 2
        assert done.state is S.STOPPED
        assert done.result is not None
        assert (done.result.status, done.result.exit_code) == (TaskStatus.CANCELLED, -1)
        assert_legal_history(engine, done)


async def test_kill_of_pending_task_cancels_without_placing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Two tasks that each need both cores of host2: one runs, the other must wait.
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe()
        for i in range(2):
            await engine.submit(
                with_cores(spec(sandbox, f"hog{i}", ["sleep", "300"]), 2), pin_host="host2"
            )
        async with asyncio.timeout(30):
            while True:
                a, b = engine.get("it", "hog0"), engine.get("it", "hog1")
                if S.PENDING in (a.state, b.state) and S.RUNNING in (a.state, b.state):
                    waited = a if a.state is S.PENDING else b
                    break
                await asyncio.sleep(0.05)
        await engine.kill("it", waited.task_id)
        done = await engine.wait("it", waited.task_id)
        history = [t.to_state for t in engine.store.history("it", waited.task_id)]
        assert history == [S.PENDING, S.STOPPED]
        assert done.result is not None and done.result.status is TaskStatus.CANCELLED
        other = "hog0" if waited.task_id == "hog1" else "hog1"
        await engine.kill("it", other)
        await engine.wait("it", other)


@pytest.mark.parametrize("count", [10])
async def test_more_tasks_than_cores_wait_pending_and_all_finish_without_overcommit(
    sandbox: Sandbox, tmp_path: Path, count: int
) -> None:
    census: list[int] = []
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe()
        specs = [with_cores(spec(sandbox, f"cap{i}", ["sleep", "1"]), 2) for i in range(count)]
        for s in specs:
            await engine.submit(s)
        while not all(engine.get("it", s.task_id).terminal for s in specs):
            listing = await asyncio.to_thread(
                on_every_host,
                sandbox,
                "docker",
                "ps",
                "--filter",
                "label=drove.managed=1",
                "--format",
                '{{.Label "drove.cores"}}',
            )
            for out in listing:
                cores = [c for line in out.split() for c in line.split(",")]
                census.append(max((cores.count(c) for c in set(cores)), default=0))
            await asyncio.sleep(0.2)
        results = [engine.get("it", s.task_id) for s in specs]
        histories = [engine.store.history("it", s.task_id) for s in specs]
    # 4 hosts of 2 cores hold 4 such tasks at once: the others were placed only after a
    # first task had stopped and freed its cores.
    first_stop = min(t.at for h in histories for t in h if t.to_state is S.STOPPED)
    placed = [next(t.at for t in h if t.to_state is S.PROVISIONING) for h in histories]
    assert sum(1 for at in placed if at >= first_stop) >= count - len(sandbox.hosts)
    assert all(r.state is S.STOPPED for r in results)
    assert all(r.result is not None and r.result.status is TaskStatus.SUCCESSFUL for r in results)
    assert max(census) <= 1  # no core ever held by two live containers (multiplier 1)


class SilentRegistry:
    """A registry that accepts connections and never answers: a pull from it never ends, so
    a kill is certain to find the task PROVISIONING."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connected.set()
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        writer.close()


def pulls_running(sandbox: Sandbox, host: str, url: str) -> str:
    # "[p]ull" matches the pull but not the shell that runs this pgrep.
    return sandbox.run_ssh(host, "pgrep", "-af", f"[p]ull {url}").stdout.strip()


async def test_kill_of_provisioning_task_stops_the_pull_on_the_host(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    registry = SilentRegistry()
    server = await asyncio.start_server(registry.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    slow = spec(sandbox, "slowpull", ["true"])
    url = f"127.0.0.1:{port}/never:latest"
    slow = slow.model_copy(update={"executable": slow.executable.model_copy(update={"url": url})})
    try:
        async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
            await engine.submit(slow)
            async with asyncio.timeout(60):
                await registry.connected.wait()  # dockerd is pulling
            record = engine.get("it", "slowpull")
            assert record.state is S.PROVISIONING
            assert pulls_running(sandbox, record.host or "", url) != ""
            await engine.kill("it", "slowpull")
            done = await engine.wait("it", "slowpull")
            async with asyncio.timeout(30):  # the kill reaches the host soon after
                while True:
                    if not pulls_running(sandbox, record.host or "", url):
                        break
                    await asyncio.sleep(0.2)
            history = [t.to_state for t in engine.store.history("it", "slowpull")]
    finally:
        server.close()
    assert history[:3] == [S.PENDING, S.PROVISIONING, S.PROVISIONING_FAILED]
    assert done.state is S.STOPPED
    assert done.result is not None and done.result.status is TaskStatus.CANCELLED
