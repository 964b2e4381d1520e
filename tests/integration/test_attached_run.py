"""Tasks run attached (engine/attached.py) on the real sandbox: output through the task's own
channel, no `docker logs` when it carried everything, reservations kept and dropped, docker's
refusal to start told as the task's error, and a channel given up while the container runs."""

from __future__ import annotations

import asyncio
import shlex
import time
from pathlib import Path
from typing import Any

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import RunResult
from drove_tui.engine import executor
from drove_tui.engine.engine import Engine
from drove_tui.engine.signals import Signal
from drove_tui.models.states import TaskState, TaskStatus
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import (
    assert_legal_history,
    inventory,
    remove_leftovers,
    spec,
    wait_state,
)

S = TaskState
HOST = "host3"


def record_commands(engine: Engine, host_name: str) -> list[str]:
    """Every command line the engine runs on `host_name` from now on."""
    host = engine.inventory.host(host_name)
    assert host is not None
    transport = engine.cluster.transport(host)
    real_run = transport.run
    seen: list[str] = []

    async def run(cmd: Command, **kw: Any) -> RunResult:
        seen.append(cmd.line())
        return await real_run(cmd, **kw)

    transport.run = run  # type: ignore[method-assign]
    return seen


def reservations(sandbox: Sandbox) -> str:
    """The names in every reservations folder of the host (they share this machine's /tmp)."""
    out = sandbox.run_ssh(HOST, "sh", "-c", "ls /tmp/drove-tui-*.d/ 2>/dev/null; true")
    return out.stdout


async def test_output_comes_through_the_channel_and_is_kept_without_docker_logs(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = "echo one; echo two >&2; sleep 1; printf 'no newline'; exit 3"
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe(HOST)
        ran = record_commands(engine, HOST)
        record = await engine.submit(spec(sandbox, "att1", ["sh", "-c", script]), pin_host=HOST)
        await wait_state(engine, "it", "att1", S.RUNNING)
        assert engine.attached.get(record.key) is not None  # run attached, not detached
        followed = [
            (line.stream, line.text) async for line in engine.logs("it", "att1", follow=True)
        ]
        done = await engine.wait("it", "att1")
        kept = [(line.stream, line.text) for line in engine.logs_store.read("it", "att1")]
        assert_legal_history(engine, done)
    # Each stream in its order (two streams have no order between them, as with docker).
    for stream, texts in (("stdout", ["one", "no newline"]), ("stderr", ["two"])):
        assert [text for kind, text in followed if kind == stream] == texts
    assert kept == followed
    assert done.result is not None
    assert (done.result.status, done.result.exit_code) == (TaskStatus.FAILED, 3)
    assert not any("docker logs" in line or " logs " in line for line in ran), ran
    assert record.instance_id not in reservations(sandbox)  # removed with the container


async def test_a_command_docker_cannot_start_fails_the_task_with_dockers_words(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        record = await engine.submit(spec(sandbox, "att2", ["no-such-binary"]), pin_host=HOST)
        done = await asyncio.wait_for(engine.wait("it", "att2"), 60)
        history = [t.to_state for t in engine.store.history("it", "att2")]
    assert S.STARTING in history and S.RUNNING not in history
    assert done.state is S.STOPPED
    assert done.result is not None and done.result.status is TaskStatus.FAILED
    assert done.error is not None and "no-such-binary" in done.error
    assert engine.logs_store.read("it", "att2") == []  # docker's words are not task output
    assert record.instance_id not in reservations(sandbox)


async def test_a_closed_engine_leaves_the_container_running_and_the_next_one_finishes_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    remove_leftovers(sandbox, "it")
    state = tmp_path / "state.db"
    script = "echo before; sleep 2; echo after; exit 5"
    async with Engine.open(inventory(sandbox), state) as first:
        record = await first.submit(spec(sandbox, "att3", ["sh", "-c", script]), pin_host=HOST)
        await wait_state(first, "it", "att3", S.RUNNING)
    # The channel was given up (its client on the host killed); the container goes on, and
    # its allocation stays reserved.
    assert record.instance_id in reservations(sandbox)
    async with Engine.open(inventory(sandbox), state) as second:
        done = await asyncio.wait_for(second.wait("it", "att3"), 90)
        kept = [line.text for line in second.logs_store.read("it", "att3")]
    assert done.result is not None
    assert (done.result.status, done.result.exit_code) == (TaskStatus.FAILED, 5)
    assert kept == ["before", "after"]  # captured from docker: the whole output
    assert record.instance_id not in reservations(sandbox)


async def test_a_kill_while_the_create_waits_for_the_host_lock_cancels_at_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Another process holds the host's create lock (until its ssh goes); the kill must not
    # wait for it.
    hold = "d=docker\n" + executor.HOST_PATHS + 'exec flock "$lock" cat >/dev/null'
    holder = await asyncio.create_subprocess_exec(
        *["ssh", "-F", str(sandbox.ssh_config), HOST, shlex.quote(hold).join(["sh -c ", ""])],
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
            await engine.probe(HOST)
            await asyncio.sleep(1)  # the holder has the lock by now
            await engine.submit(spec(sandbox, "att4", ["sleep", "60"]), pin_host=HOST)
            await wait_state(engine, "it", "att4", S.STARTING)
            await asyncio.sleep(0.5)
            started = time.monotonic()
            await engine.kill("it", "att4")
            done = await asyncio.wait_for(engine.wait("it", "att4"), 15)
            took = time.monotonic() - started
            assert_legal_history(engine, done)
    finally:
        holder.kill()
        await holder.wait()
    assert done.state is S.STOPPED
    assert done.result is not None
    assert (done.result.status, done.result.exit_code) == (TaskStatus.CANCELLED, -1)
    assert took < 15  # not once the lock is let go


async def test_a_task_lost_with_its_host_keeps_what_its_channel_saw(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = "echo first; echo second >&2; sleep 30"
    inv = inventory(sandbox, grace_period_s=3)
    async with Engine.open(inv, tmp_path / "state.db") as engine:
        await engine.submit(spec(sandbox, "att5", ["sh", "-c", script]), pin_host=HOST)
        await wait_state(engine, "it", "att5", S.RUNNING)
        live = engine.attached.get(("it", "att5"))
        assert live is not None
        async with asyncio.timeout(20):
            while len(live.lines) < 2:
                token = live.changed.token()
                if len(live.lines) < 2:
                    await Signal.wait(token)
        sandbox.cut(HOST)
        try:
            done = await asyncio.wait_for(engine.wait("it", "att5"), 90)
        finally:
            sandbox.heal(HOST)
        kept = sorted(line.text for line in engine.logs_store.read("it", "att5"))
    remove_leftovers(sandbox, "it")  # its container goes on after the heal
    assert done.state is S.LOST
    assert kept == ["first", "second"]
