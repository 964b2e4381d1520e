"""Taking over a container a create found already there (recovery.adopt, through the STARTING
step): a created container gets its configs again before it starts, docker's refusal to start
fails the task, and a host that stops answering leaves the task UNKNOWN (not LOST)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_hosts import ScriptedHost
from test_engine_kill_requests import created, engine

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import RunResult, TransportError, Unreachable
from drove_tui.engine import executor, lifecycle
from drove_tui.engine.engine import Engine
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState, TaskStatus

S = TaskState
Reply = RunResult | TransportError


class VerbHost(ScriptedHost):
    """A transport that answers each docker verb from a table and records what it ran."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        self.replies = replies
        self.ran: list[str] = []
        self.stdin: dict[str, bytes | None] = {}

    async def reply(self, cmd: Command, stdin: bytes | None) -> RunResult:
        argv = cmd.argv()
        verb = "create" if argv[0] == "sh" and "flock" in argv[2] else argv[1]
        self.ran.append(verb)
        self.stdin[verb] = stdin
        reply = self.replies[verb]
        if isinstance(reply, TransportError):
            raise reply
        return reply


def ok(out: bytes = b"") -> RunResult:
    return RunResult(0, out, b"")


EXISTS = RunResult(executor.ALREADY_EXISTS, b"", b"")


def starting_task(eng: Engine, fake: VerbHost, **spec_fields: Any) -> tuple[str, str]:
    record = created(eng, "t1", state=S.STARTING, host="h1", numa_node=0, cores=[0])
    if spec_fields:  # the unmasked spec, as given to submit() in this process
        body = record.spec.to_drove_json() | spec_fields
        eng._specs[record.key] = TaskSpec.model_validate(body)
    transport: Callable[[object], VerbHost] = lambda _host: fake  # noqa: E731
    eng.cluster.transport = transport  # type: ignore[method-assign,assignment]
    return record.key


INLINE = [{"type": "INLINE", "localFilename": "/etc/c", "data": base64.b64encode(b"x").decode()}]


async def test_a_created_container_gets_its_configs_copied_in_before_it_is_started(
    tmp_path: Path,
) -> None:
    eng = engine(tmp_path / "state.db")
    fake = VerbHost({"create": EXISTS, "inspect": ok(b"created 0\n"), "cp": ok(), "start": ok()})
    try:
        key = starting_task(eng, fake, configs=INLINE)
        await lifecycle.starting(eng, eng.get(*key))
        assert fake.ran == ["create", "inspect", "cp", "start"]
        assert fake.stdin["cp"]  # the configs' tar
        assert eng.get(*key).state is S.RUNNING
    finally:
        await eng._close()


async def test_docker_refusing_to_start_the_existing_container_fails_the_task(
    tmp_path: Path,
) -> None:
    eng = engine(tmp_path / "state.db")
    refused = RunResult(1, b"", b"Error response from daemon: no such file: /nope")
    fake = VerbHost({"create": EXISTS, "inspect": ok(b"created 0\n"), "start": refused})
    try:
        key = starting_task(eng, fake)
        await lifecycle.starting(eng, eng.get(*key))
        done = eng.get(*key)
        assert done.state is S.RUN_COMPLETED
        assert done.result is not None and done.result.status is TaskStatus.FAILED
        assert done.error is not None and "no such file: /nope" in done.error
    finally:
        await eng._close()


@pytest.mark.parametrize("failing", ["inspect", "start"])
async def test_losing_the_host_while_taking_over_leaves_the_task_unknown(
    tmp_path: Path, failing: str
) -> None:
    eng = engine(tmp_path / "state.db")
    replies: dict[str, Reply] = {"create": EXISTS, "inspect": ok(b"created 0\n"), "start": ok()}
    replies[failing] = Unreachable("h1", "connection lost", "h1: connection lost")
    fake = VerbHost(replies)
    try:
        key = starting_task(eng, fake)
        await lifecycle.starting(eng, eng.get(*key))
        done = eng.get(*key)
        assert done.state is S.UNKNOWN, done.reason
        assert "connection lost" in done.reason
    finally:
        await eng._close()
