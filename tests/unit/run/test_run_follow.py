"""Following one task: streams, exit codes, --json, --detach, Ctrl-C (detach or kill)."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from run_fakes import FakeEngine, options

from drove_tui.commands.output import HumanOutput, JsonOutput, Output
from drove_tui.commands.run import RunOptions, TaskFollower
from drove_tui.models.states import TaskState

KEY = ("ci", "job1")


def human() -> tuple[HumanOutput, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return HumanOutput(out, err, interactive=False, colour=False), out, err


async def follow(
    engine: FakeEngine,
    out: Output,
    opts: RunOptions,
    script: Any,
    stop: asyncio.Event | None = None,
) -> Any:
    """Run the follower while `script(engine)` plays the task's life."""
    follower = TaskFollower(engine, out, opts)
    job = asyncio.create_task(follower.run(opts.spec, stop=stop or asyncio.Event()))
    await asyncio.wait_for(engine.submitted.wait(), 10)
    await script(engine)
    return await asyncio.wait_for(job, 10)


async def test_container_streams_are_reproduced_and_its_exit_code_returned(
    engine: FakeEngine,
) -> None:
    out, stdout, stderr = human()

    async def life(e: FakeEngine) -> None:
        await e.walk(
            KEY,
            "host3",
            7,
            [("stdout", "to stdout"), ("stderr", "to stderr"), ("stdout", "more out")],
        )

    followed = await follow(engine, out, options(), life)
    assert followed.exit_code == 7
    assert stdout.getvalue() == "to stdout\nmore out\n"
    assert "to stderr\n" in stderr.getvalue()
    assert "PROVISIONING on host3" in stderr.getvalue()


async def test_successful_task_exits_zero(engine: FakeEngine) -> None:
    out, _, _ = human()

    async def life(e: FakeEngine) -> None:
        await e.walk(KEY, "host1", 0)

    assert (await follow(engine, out, options(), life)).exit_code == 0


async def test_json_lines_all_parse_and_the_last_is_the_task_info(engine: FakeEngine) -> None:
    stdout = io.StringIO()

    async def life(e: FakeEngine) -> None:
        await e.walk(KEY, "host2", 7, [("stdout", "hi"), ("stderr", "oops")])

    followed = await follow(engine, JsonOutput(stdout), options(json=True), life)
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert followed.exit_code == 7
    assert lines[-1]["taskResult"] == {"status": "FAILED", "exitCode": 7}
    assert lines[-1]["sourceAppName"] == "ci" and lines[-1]["hostname"] == "host2"
    logs = [(x["stream"], x["text"], x["host"]) for x in lines if x.get("event") == "log"]
    assert logs == [("stdout", "hi", "host2"), ("stderr", "oops", "host2")]
    states = [x["state"] for x in lines if x.get("event") == "state"]
    assert states[0] == "PENDING" and states[-1] == "STOPPED"


async def test_provisioning_failure_exits_4_even_after_cleanup(engine: FakeEngine) -> None:
    out, _, err = human()

    async def life(e: FakeEngine) -> None:
        await e.move(KEY, TaskState.PROVISIONING, host="host1")
        await e.move(KEY, TaskState.PROVISIONING_FAILED, reason="Error while pulling image")
        await e.move(KEY, TaskState.DEPROVISIONING)
        await e.move(KEY, TaskState.STOPPED)

    followed = await follow(engine, out, options(), life)
    assert followed.exit_code == 4
    assert "Error while pulling image" in err.getvalue()


async def test_detach_returns_zero_at_running_and_prints_the_id(engine: FakeEngine) -> None:
    out, stdout, stderr = human()

    async def life(e: FakeEngine) -> None:
        await e.move(KEY, TaskState.PROVISIONING, host="h")
        await e.move(KEY, TaskState.STARTING)
        await e.move(KEY, TaskState.RUNNING)

    followed = await follow(engine, out, options(detach=True), life)
    assert (followed.exit_code, followed.detached) == (0, True)
    assert followed.record.state is TaskState.RUNNING
    assert stdout.getvalue() == "ci job1\n"
    assert "drove-tui tasks wait ci job1 -i inv.yaml" in stderr.getvalue()
    assert engine.kills == []


async def test_detach_of_a_task_that_never_started_reports_its_failure(
    engine: FakeEngine,
) -> None:
    out, _, _ = human()

    async def life(e: FakeEngine) -> None:
        await e.move(KEY, TaskState.PROVISIONING, host="h")
        await e.move(KEY, TaskState.PROVISIONING_FAILED)

    followed = await follow(engine, out, options(detach=True), life)
    assert (followed.exit_code, followed.detached) == (4, False)


async def test_interrupt_detaches_leaving_the_task_running(engine: FakeEngine) -> None:
    out, stdout, stderr = human()
    stop = asyncio.Event()

    async def life(e: FakeEngine) -> None:
        await e.move(KEY, TaskState.PROVISIONING, host="h")
        await e.move(KEY, TaskState.STARTING)
        await e.move(KEY, TaskState.RUNNING)
        stop.set()  # Ctrl-C

    followed = await follow(engine, out, options(), life, stop)
    assert followed.exit_code == 130
    assert engine.kills == []
    assert engine.records[KEY].state is TaskState.RUNNING
    text = stderr.getvalue()
    assert "detached" in text and "drove-tui tasks kill ci job1 -i inv.yaml" in text
    assert stdout.getvalue() == ""


async def test_interrupt_with_kill_on_interrupt_kills_and_exits_6(engine: FakeEngine) -> None:
    out, _, stderr = human()
    stop = asyncio.Event()

    async def life(e: FakeEngine) -> None:
        await e.move(KEY, TaskState.PROVISIONING, host="h")
        await e.move(KEY, TaskState.STARTING)
        await e.move(KEY, TaskState.RUNNING)
        stop.set()

    followed = await follow(engine, out, options(kill_on_interrupt=True), life, stop)
    assert engine.kills == [KEY]
    assert followed.exit_code == 6
    assert "killing" in stderr.getvalue()


async def test_logs_written_before_the_follower_looks_are_not_lost(engine: FakeEngine) -> None:
    out, stdout, _ = human()

    async def life(e: FakeEngine) -> None:
        await e.move(KEY, TaskState.PROVISIONING, host="h")
        await e.move(KEY, TaskState.STARTING)
        e.log(KEY, "stdout", "early line")
        await e.move(KEY, TaskState.RUNNING)
        await e.move(KEY, TaskState.RUN_COMPLETED, result=None)
        await e.move(KEY, TaskState.STOPPED)

    await follow(engine, out, options(), life)
    assert stdout.getvalue() == "early line\n"
