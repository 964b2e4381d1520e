"""An attached task run through docker's API on the host's socket, not the `docker run` client.

The create script still takes the host lock, re-checks the allocation and writes the task's
reservation (mode `reserve`, see executor.CREATE_SCRIPT); it then says `reserved`, lets the
lock go and waits on its stdin (engine/attached.py drives it). Only then does the engine
create the container, ask for its next exit, attach to its output and start it, each one
request to the socket (sshd's streamlocal forwarding: no process on the host) on connections
opened while docker creates. The output streams until the container ends, and its exit code
is the answer that was waiting. The script is told `ended` once the container has exited, or
never ran, so that it drops the reservation; a script never told (the engine went away, the
run broke) keeps it, and it ages out (two minutes) as any other.

What it saves per task is the docker client's start on the host, which under a fan-out's
load takes most of the time from the script's start to docker's create (bench/results/run.md).
How the run ends is said as the client's markers say it (attached.Ended), so that the rest of
the engine cannot tell the two ways apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from drove_tui.cluster import docker_api
from drove_tui.cluster.docker_api import Answer, DockerError
from drove_tui.cluster.transport import (
    OnLine,
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
Kind = Literal["exited", "failed", "notstarted", "detached", "broken"]


@dataclass(frozen=True)
class Outcome:
    """How the run ended, as attached.Ended says it, and whether the reservation may go:
    the container exited, was never made, or will never start."""

    kind: Kind
    status: int = 0
    text: str = ""
    drop: bool = False


class NotUsable(Exception):  # noqa: N818 (a signal, not an error)
    """Nothing was created, and the docker client may do better: run with it. `refused`:
    the host would not connect its socket (its transport remembers that a while, and the
    next tasks go to the client straight away)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


async def run(
    transport: Transport,
    path: str,
    name: str,
    body: dict[str, object],
    on_line: OnLine,
    on_start: Callable[[], None],
) -> Outcome:
    """Create, attach, start and wait for the container `name` (its reservation is made),
    its output going to `on_line`; `on_start` once docker said it started. NotUsable when
    nothing was made and the client may do better: the socket refused us, or the image is
    not there (`docker run` pulls it)."""
    try:
        async with contextlib.AsyncExitStack() as stack:
            try:
                first = await stack.enter_async_context(
                    transport.unix_stream(path, timeout=API_TIMEOUT_S)
                )
            except SocketRefused as err:
                raise NotUsable(str(err), refused=True) from None
            return await _run(transport, path, name, body, on_line, on_start, first)
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
    on_start: Callable[[], None],
    first: tuple[SocketReader, SocketWriter],
) -> Outcome:
    reader, writer = first
    writer.write(docker_api.create_request(name, body, keep=True))  # then the attach
    # The other two connections open while docker creates; the start's closes once answered.
    async with transport.unix_stream(path, timeout=API_TIMEOUT_S) as (exit_reader, exit_writer):
        async with transport.unix_stream(path, timeout=API_TIMEOUT_S) as (start_reader, start):
            made = await _answer(reader)
            if made.status == docker_api.CONFLICT:  # an earlier attempt's: it is taken over
                return Outcome("failed", ALREADY_EXISTS, made.message)
            if made.status == docker_api.NOT_FOUND:
                raise NotUsable(f"{made.message}: docker run pulls it", refused=False)
            if made.status != docker_api.CREATED:
                text = made.message or f"docker answered {made.status}"
                return Outcome("failed", 1, text, drop=True)
            for warning in docker_api.warnings(made):
                log.info("docker on %s: %s", transport.host, warning)
            # The exit asked for first (docker answers the head once it listens), then the
            # output, then the start: nothing of the run can be missed.
            exit_writer.write(docker_api.wait_request(name))
            writer.write(docker_api.attach_request(name))
            waiting = await _head(exit_reader)
            if waiting.status != docker_api.OK:
                raise DockerError(await docker_api.read_rest(exit_reader, waiting))
            async with asyncio.timeout(API_TIMEOUT_S):
                stream = docker_api.Attached(reader, await docker_api.upgraded(reader))
            start.write(docker_api.start_request(name))
            started = await _answer(start_reader)
        if started.status not in (docker_api.NO_CONTENT, docker_api.NOT_MODIFIED):
            text = started.message or f"docker answered {started.status}"
            return Outcome("notstarted", 1, text, drop=True)
        on_start()
        await stream.pump(on_line)
        # The output ends with the container's streams; its exit comes with it, or, when it
        # closed them and runs on, the events and probes tell.
        try:
            async with asyncio.timeout(API_TIMEOUT_S):
                code = docker_api.exit_code(await docker_api.read_rest(exit_reader, waiting))
        except TimeoutError:
            return Outcome("detached")
    return Outcome("exited", code, drop=True)


async def _head(reader: SocketReader) -> docker_api.Head:
    async with asyncio.timeout(API_TIMEOUT_S):
        return await docker_api.read_head(reader)


async def _answer(reader: SocketReader) -> Answer:
    async with asyncio.timeout(API_TIMEOUT_S):
        return await docker_api.read_rest(reader, await docker_api.read_head(reader))
