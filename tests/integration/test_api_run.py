"""Tasks run attached through docker's API (engine/api_run.py) on the real sandbox: the
create script only reserves, the container is created, attached, started and waited for
on the host's docker socket, no docker client starts, the reservation lives exactly as long
as the container runs, and what the API cannot say the same way goes to `docker run`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from drove_tui.engine.engine import Engine
from drove_tui.models.states import TaskState, TaskStatus
from tests.conftest import Sandbox
from tests.integration.test_attached_run import record_commands, reservations
from tests.integration.test_docker_socket import containers, record_socket_calls
from tests.integration.test_engine_lifecycle import (
    assert_legal_history,
    inventory,
    spec,
    wait_state,
)

S = TaskState
HOST = "host3"
MODE = re.compile(r" (reserve|attach|detach|create) '?@drove-")


def record_stream_requests(engine: Engine) -> list[bytes]:
    """The first line of every request the engine writes on a socket connection of HOST."""
    host = engine.inventory.host(HOST)
    assert host is not None
    transport = engine.cluster.transport(host)
    real = transport.unix_stream
    seen: list[bytes] = []

    @contextlib.asynccontextmanager
    async def unix_stream(path: str, **kw: Any) -> AsyncIterator[Any]:
        async with real(path, **kw) as (reader, writer):
            write = writer.write

            def recorded(data: bytes) -> None:
                seen.append(data.split(b"\r\n")[0])
                write(data)

            writer.write = recorded  # type: ignore[method-assign]
            yield reader, writer

    transport.unix_stream = unix_stream  # type: ignore[method-assign]
    return seen


def modes(lines: list[str]) -> list[str]:
    """The create script's mode in each create command run."""
    return [m.group(1) for line in lines if (m := MODE.search(line))]


async def test_a_task_runs_through_dockers_api_with_its_two_streams_and_exit_code(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    script = "echo out; echo err >&2; sleep 2; echo late; exit 7"
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe(HOST)
        ran = record_commands(engine, HOST)
        asked = record_socket_calls(engine)
        streamed = record_stream_requests(engine)
        record = await engine.submit(spec(sandbox, "api1", ["sh", "-c", script]), pin_host=HOST)
        await wait_state(engine, "it", "api1", S.RUNNING)
        held = reservations(sandbox)  # while it runs
        done = await engine.wait("it", "api1")
        kept = [(line.stream, line.text) for line in engine.logs_store.read("it", "api1")]
        assert_legal_history(engine, done)
    name = f"drove-{record.instance_id}"
    assert modes(ran) == ["reserve"]  # and no `docker run`, nor `docker logs`
    assert not any("docker logs" in line or " logs " in line for line in ran), ran
    posts = [line.split(b" ")[1] for line in streamed if line.startswith(b"POST ")]
    assert sorted(posts) == sorted(
        [
            f"/containers/create?name={name}".encode(),
            f"/containers/{name}/wait?condition=next-exit".encode(),
            f"/containers/{name}/attach?stream=1&stdout=1&stderr=1".encode(),
            f"/containers/{name}/start".encode(),
        ]
    )
    # The one-shot requests: light probes (GET) and the removal (DELETE) alone.
    assert [r.split(b" ")[0] for _, r, _ in asked if not r.startswith(b"GET ")] == [b"DELETE"]
    assert done.result is not None
    assert (done.result.status, done.result.exit_code) == (TaskStatus.FAILED, 7)
    for stream, texts in (("stdout", ["out", "late"]), ("stderr", ["err"])):
        assert [text for kind, text in kept if kind == stream] == texts
    assert record.instance_id in held
    assert record.instance_id not in reservations(sandbox)
    assert name not in containers(sandbox)


async def test_a_command_docker_cannot_start_is_the_tasks_error_and_frees_its_reservation(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe(HOST)
        ran = record_commands(engine, HOST)
        record = await engine.submit(spec(sandbox, "api2", ["no-such-binary"]), pin_host=HOST)
        done = await engine.wait("it", "api2")
        assert_legal_history(engine, done)
    assert modes(ran) == ["reserve"]
    assert done.result is not None and done.result.status is TaskStatus.FAILED
    assert done.error is not None and "no-such-binary" in done.error
    assert engine.logs_store.read("it", "api2") == []
    assert record.instance_id not in reservations(sandbox)
    assert f"drove-{record.instance_id}" not in containers(sandbox)


async def test_a_bare_environment_name_runs_with_the_docker_client(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A bare name takes the value the host's docker client has: only `docker run` can say it.
    home = sandbox.run_ssh(HOST, "sh", "-c", 'printf %s "$HOME"').stdout
    task = spec(sandbox, "api3", ["sh", "-c", 'echo "$HOME"'], env={"HOME": ""})
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.probe(HOST)
        ran = record_commands(engine, HOST)
        await engine.submit(task, pin_host=HOST)
        done = await engine.wait("it", "api3")
        kept = [line.text for line in engine.logs_store.read("it", "api3")]
    assert modes(ran) == ["attach"]
    assert done.result is not None and done.result.exit_code == 0
    assert home and kept == [home]
