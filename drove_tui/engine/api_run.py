"""An attached task run through docker's API on the host's socket, not the `docker run` client.

The create script still takes the host lock, re-checks the allocation and writes the task's
reservation (mode `reserve`, see executor.CREATE_SCRIPT); it then says `reserved`, lets the
lock go and waits on its stdin. Meanwhile the engine creates the container (a created
container runs nothing: it is started only once the reservation is made), then attaches to
its output and asks for its next exit on two more connections to the socket (sshd's
streamlocal forwarding: no process on the host), opened while docker creates, and starts it.
The output streams until the container ends, and its exit code is the answer that was
waiting. The script is told `ended` once the container has exited, or never ran, so that it
drops the reservation; a script never told (the engine went away, the run broke) keeps it,
and it ages out (two minutes) as any other.

What it saves per task is the docker client's start on the host, which under a fan-out's
load takes most of the time from the script's start to docker's create, and the round trips
of each call (bench/results/run.md). How the run ends is said as the client's markers say it
(attached.Ended), so that the rest of the engine cannot tell the two ways apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from drove_tui.cluster import docker_api
from drove_tui.cluster.docker_api import Answer, DockerError
from drove_tui.cluster.transport import (
    OnLine,
    RunResult,
    SocketReader,
    SocketRefused,
    SocketWriter,
    Transport,
    TransportError,
)
from drove_tui.engine.executor import ALREADY_EXISTS

log = logging.getLogger(__name__)
API_TIMEOUT_S = 60.0  # one connection's opening, or one answer; the run itself has no bound
ENDED = b"ended\n"  # what the reserve script waits for to drop the reservation
Kind = Literal["exited", "failed", "notstarted", "detached", "broken", "unreserved"]


@dataclass(frozen=True)
class Outcome:
    """How the run ended, as attached.Ended says it (`unreserved`: the script ended before
    it reserved, and its markers say why), and whether the reservation may go: the
    container exited, or was never made."""

    kind: Kind
    status: int = 0
    text: str = ""
    drop: bool = False


class NotUsable(Exception):  # noqa: N818 (a signal, not an error)
    """The socket could not be used before anything was created: run with the client."""


async def run(
    transport: Transport,
    path: str,
    name: str,
    body: dict[str, object],
    on_line: OnLine,
    *,
    reserved: asyncio.Event,
    script: asyncio.Task[RunResult],
) -> Outcome:
    """Create the container `name`, and once `script` says `reserved`, attach, start and
    wait for it, its output going to `on_line`. NotUsable when the socket refused before
    anything was created."""
    try:
        async with contextlib.AsyncExitStack() as stack:
            try:
                first = await stack.enter_async_context(
                    transport.unix_stream(path, timeout=API_TIMEOUT_S)
                )
            except SocketRefused as err:
                raise NotUsable(str(err)) from None
            return await _run(transport, path, name, body, on_line, first, reserved, script)
    except (TimeoutError, TransportError, ValueError) as err:
        # Whatever docker made of it meanwhile, the events and probes (or, before it ran,
        # the reconciliation of an unknown task) will tell.
        return Outcome("broken", text=f"docker's API: {err or 'no answer in time'}")


async def _run(
    transport: Transport,
    path: str,
    name: str,
    body: dict[str, object],
    on_line: OnLine,
    first: tuple[SocketReader, SocketWriter],
    reserved: asyncio.Event,
    script: asyncio.Task[RunResult],
) -> Outcome:
    reader, writer = first
    target = f"/containers/{quote(name, safe='')}"
    create = f"/containers/create?name={quote(name, safe='')}"
    writer.write(docker_api.request("POST", create, body, keep=True))
    # The two other connections open while docker creates.
    async with (
        transport.unix_stream(path, timeout=API_TIMEOUT_S) as (exit_reader, exit_writer),
        transport.unix_stream(path, timeout=API_TIMEOUT_S) as (start_reader, start_writer),
    ):
        made = await _answer(reader)
        if made.status == docker_api.CONFLICT:  # an earlier attempt's: it is taken over
            return Outcome("failed", ALREADY_EXISTS, made.message)
        if made.status != docker_api.CREATED:
            return Outcome("failed", 1, made.message or f"docker answered {made.status}", True)
        for warning in docker_api.warnings(made):
            log.info("docker on %s: %s", transport.host, warning)
        said = asyncio.ensure_future(reserved.wait())
        try:
            await asyncio.wait({script, said}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            said.cancel()
        if not reserved.is_set():
            await _remove(transport, path, name)  # made, never started
            return Outcome("unreserved")
        # The exit asked for first (docker answers the head once it listens), then the
        # output, then the start: nothing of the run can be missed.
        exit_writer.write(docker_api.request("POST", f"{target}/wait?condition=next-exit"))
        writer.write(docker_api.request("POST", f"{target}/attach?stream=1&stdout=1&stderr=1"))
        waiting = await docker_api.read_head(exit_reader)
        if waiting.status != docker_api.OK:
            raise DockerError(await docker_api.read_rest(exit_reader, waiting))
        stream = docker_api.Attached(reader, await docker_api.upgraded(reader))
        start_writer.write(docker_api.request("POST", f"{target}/start"))
        started = await _answer(start_reader)
        if started.status not in (docker_api.NO_CONTENT, docker_api.NOT_MODIFIED):
            text = started.message or f"docker answered {started.status}"
            return Outcome("notstarted", 1, text, True)
        await stream.pump(on_line)
        # The output ends with the container's streams; its exit comes with it, or, when it
        # closed them and runs on, the events and probes tell.
        try:
            async with asyncio.timeout(API_TIMEOUT_S):
                code = docker_api.exit_code(await docker_api.read_rest(exit_reader, waiting))
        except TimeoutError:
            return Outcome("detached")
    return Outcome("exited", code, drop=True)


async def _answer(reader: SocketReader) -> Answer:
    async with asyncio.timeout(API_TIMEOUT_S):
        return await docker_api.read_rest(reader, await docker_api.read_head(reader))


async def _remove(transport: Transport, path: str, name: str) -> None:
    """Remove a container that was made but will not run (best effort: one left behind is
    found by the probes as a container of a task given up on, and removed then)."""
    try:
        await docker_api.remove_container(transport, path, name, timeout=API_TIMEOUT_S)
    except (TransportError, ValueError) as err:
        log.info("cannot remove %s on %s: %s", name, transport.host, err)
