"""An attached task run through docker's Engine API (engine/api_run.py), once its reservation
is made: create, the exit asked for and the output attached before the start; and how each
way it can end is said (attached.Ended's kinds, and whether the reservation may go). Docker
is a fake on in-memory connections: what it is sent and what of its answers the run has read
are kept in one log, in order, so every ordering is checked without timing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import cast

import pytest

from drove_tui.cluster.transport import (
    SocketReader,
    SocketRefused,
    SocketWriter,
    Transport,
    TransportError,
    socket_request,
)
from drove_tui.engine import api_run, executor
from drove_tui.engine.api_run import Outcome

NAME = "drove-app-t1-1"
SOCKET = "/var/run/docker.sock"
BODY: dict[str, object] = {"Image": "img:1", "Cmd": ["run"], "AttachStdout": True}
SAFETY_S = 10.0  # a net under every wait: nothing here should come near it

CREATE = f"POST /containers/create?name={NAME}"
WAIT = f"POST /containers/{NAME}/wait?condition=next-exit"
ATTACH = f"POST /containers/{NAME}/attach?stream=1&stdout=1&stderr=1"
START = f"POST /containers/{NAME}/start"
DELETE = f"DELETE /containers/{NAME}?force=1&v=1"

UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)
WAIT_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


def answer(status: int, said: dict[str, object]) -> bytes:
    body = json.dumps(said).encode() + b"\n"
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


def chunked(said: dict[str, object]) -> bytes:
    body = json.dumps(said).encode() + b"\n"
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


CREATED = answer(201, {"Id": "abc123", "Warnings": []})
OUTPUT = (frame(1, b"out\n"), frame(2, b"err\n"))
EXITED_7 = chunked({"StatusCode": 7, "Error": None})
Item = bytes | BaseException


class Conn:
    """One connection to the fake docker: what the run writes is parsed into requests (each
    answered by `Dockerd.answer`), and what docker answers waits in `outbound` until read."""

    def __init__(self, docker: Dockerd) -> None:
        self.docker = docker
        self.inbound = bytearray()
        self.outbound: asyncio.Queue[tuple[str, Item]] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, item: Item, label: str = "") -> None:
        self.outbound.put_nowait((label, item))

    def later(self, work: Coroutine[object, object, None]) -> None:
        self.tasks.add(asyncio.create_task(work))

    async def read(self, n: int) -> bytes:
        label, item = await self.outbound.get()
        if item == b"":
            self.send(b"")  # the end stays the end
        if label:
            self.docker.log.append(f"read: {label}")
        if isinstance(item, BaseException):
            raise item
        return item

    def write(self, data: bytes) -> None:
        self.inbound += data
        while (end := self.inbound.find(b"\r\n\r\n")) >= 0:
            lines = self.inbound[:end].decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.inbound) < end + 4 + length:
                return
            body = bytes(self.inbound[end + 4 : end + 4 + length])
            del self.inbound[: end + 4 + length]
            method, target, _ = lines[0].split(" ")
            self.docker.log.append(f"{method} {target}")
            self.docker.answer(self, f"{method} {target}", body)

    def write_eof(self) -> None:
        pass

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()


class Dockerd:
    """A fake docker: `create` and `start` are its answers to those; the attach is upgraded
    at once and its `output` (frames, or an error the connection fails with) comes once the
    container is started; the wait's head comes at once and its body (`exit_body`, or never when
    None) once the output was sent. `refuse`: connections refused from the n-th (0: first)."""

    host = "h1"

    def __init__(
        self,
        *,
        create: bytes = CREATED,
        start: bytes = NO_CONTENT,
        output: Iterable[Item] = OUTPUT,
        exit_body: bytes | None = EXITED_7,
        refuse: int | None = None,
    ) -> None:
        self.create = create
        self.start = start
        self.output = list(output)
        self.exit_body = exit_body
        self.refuse = refuse
        self.opened = 0
        self.log: list[str] = []
        self.bodies: dict[str, object] = {}
        self.started = asyncio.Event()
        self.output_sent = asyncio.Event()

    @property
    def transport(self) -> Transport:
        return cast(Transport, self)

    @asynccontextmanager
    async def unix_stream(
        self,
        path: str,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncIterator[tuple[SocketReader, SocketWriter]]:
        assert path == SOCKET
        self.opened += 1
        if self.refuse is not None and self.opened > self.refuse:
            raise SocketRefused(self.host, f"{self.host}: cannot connect to {path}: refused")

        def failure(err: BaseException | None) -> TransportError | None:
            if err is None:
                return None
            return SocketRefused(self.host, f"{self.host}: {path} closed the connection: {err!r}")

        conn = Conn(self)
        try:
            yield SocketReader(conn, failure, (OSError,)), SocketWriter(conn, failure, (OSError,))
        finally:
            conn.close()

    async def unix_request(
        self,
        path: str,
        request: bytes,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> bytes:
        return await socket_request(self.transport, self.host, path, request, timeout=timeout)

    def answer(self, conn: Conn, request: str, body: bytes) -> None:
        if request == CREATE:
            self.bodies[request] = json.loads(body)
            conn.send(self.create, "create answered")
        elif request == WAIT:
            conn.send(WAIT_HEAD, "wait's head")
            conn.later(self._exit(conn))
        elif request == ATTACH:
            conn.send(UPGRADED, "attach upgraded")
            conn.later(self._output(conn))
        elif request == START:
            self.started.set()
            conn.send(self.start, "start answered")
            conn.send(b"")
        elif request == DELETE:
            conn.send(NO_CONTENT, "removed")
            conn.send(b"")
        else:
            conn.send(answer(404, {"message": f"page not found: {request}"}))
            conn.send(b"")

    async def _output(self, conn: Conn) -> None:
        await self.started.wait()
        for item in self.output:
            conn.send(item)
        if not self.output or not isinstance(self.output[-1], BaseException):
            conn.send(b"")
        self.output_sent.set()

    async def _exit(self, conn: Conn) -> None:
        await self.output_sent.wait()
        if self.exit_body is not None:
            conn.send(self.exit_body, "exit")
            conn.send(b"")

    def requests(self) -> list[str]:
        return [entry for entry in self.log if not entry.startswith("read: ")]


async def idle() -> None:
    """Let every task run until all wait (the fake's connections are in memory: no I/O)."""
    for _ in range(50):
        await asyncio.sleep(0)


class Run:
    """api_run.run against `docker`, its lines kept, and whether it was told the start."""

    def __init__(self, docker: Dockerd) -> None:
        self.docker = docker
        self.lines: list[tuple[str, bytes]] = []
        self.started = False

    def go(self) -> asyncio.Task[Outcome]:
        return asyncio.create_task(
            api_run.run(
                self.docker.transport,
                SOCKET,
                NAME,
                BODY,
                lambda stream, line: self.lines.append((stream, line)),
                self.start,
            )
        )

    def start(self) -> None:
        self.started = True

    async def reserved_run(self) -> Outcome:
        return await asyncio.wait_for(self.go(), SAFETY_S)


# --- the run as it should go --------------------------------------------------------------------


async def test_a_run_creates_waits_attaches_then_starts_and_ends_with_the_exit_code() -> None:
    docker = Dockerd()
    run = Run(docker)
    got = await run.reserved_run()
    assert got == Outcome("exited", 7, drop=True)
    assert run.lines == [("stdout", b"out"), ("stderr", b"err")]
    assert run.started
    assert docker.bodies == {CREATE: BODY}
    log = docker.log
    assert docker.requests() == [CREATE, WAIT, ATTACH, START]
    # The start only once docker listens for the exit and the output is attached.
    assert log.index(START) > log.index("read: wait's head")
    assert log.index(START) > log.index("read: attach upgraded")
    assert log[-3:] == [START, "read: start answered", "read: exit"]


# --- docker says no -----------------------------------------------------------------------------


async def test_a_name_taken_is_already_exists_and_keeps_the_reservation() -> None:
    taken = 'Conflict. The container name "/drove-app-t1-1" is already in use'
    docker = Dockerd(create=answer(409, {"message": taken}))
    got = await Run(docker).reserved_run()
    assert got == Outcome("failed", executor.ALREADY_EXISTS, taken, drop=False)
    # The container is an earlier attempt's, taken over: neither started nor removed.
    assert docker.requests() == [CREATE]


async def test_a_create_docker_refuses_fails_with_its_message_and_drops_the_reservation() -> None:
    said = "invalid CpusetCpus: 9"
    docker = Dockerd(create=answer(400, {"message": said}))
    got = await Run(docker).reserved_run()
    assert got == Outcome("failed", 1, said, drop=True)
    assert docker.requests() == [CREATE]


async def test_a_missing_image_is_left_to_the_docker_client_which_pulls_it() -> None:
    docker = Dockerd(create=answer(404, {"message": "No such image: img:1"}))
    with pytest.raises(api_run.NotUsable, match="No such image") as caught:
        await Run(docker).reserved_run()
    assert not caught.value.refused  # the socket itself is fine
    assert docker.requests() == [CREATE]


@pytest.mark.parametrize("status", [400, 500])
async def test_a_start_docker_refuses_is_notstarted_with_its_message(status: int) -> None:
    said = "failed to create task for container: exec: no such file or directory"
    docker = Dockerd(start=answer(status, {"message": said}))
    run = Run(docker)
    got = await run.reserved_run()
    assert got == Outcome("notstarted", 1, said, drop=True)
    assert docker.requests() == [CREATE, WAIT, ATTACH, START]
    assert not run.started


# --- the socket fails ---------------------------------------------------------------------------


async def test_a_socket_refused_at_the_first_connection_is_not_usable() -> None:
    docker = Dockerd(refuse=0)
    with pytest.raises(api_run.NotUsable, match="cannot connect"):
        await Run(docker).reserved_run()
    assert docker.log == []


async def test_a_socket_refused_once_the_create_was_sent_is_broken_not_unusable() -> None:
    docker = Dockerd(refuse=1)  # the first connection opens, the next ones are refused
    got = await Run(docker).reserved_run()
    assert got.kind == "broken" and not got.drop
    assert "cannot connect" in got.text
    assert docker.requests() == [CREATE]


async def test_an_output_connection_reset_mid_run_is_broken_and_keeps_the_reservation() -> None:
    docker = Dockerd(output=[frame(1, b"first\n"), ConnectionResetError(104, "reset")])
    run = Run(docker)
    got = await run.reserved_run()
    assert got.kind == "broken" and not got.drop
    assert "closed the connection" in got.text
    assert run.lines == [("stdout", b"first")]
    assert docker.requests() == [CREATE, WAIT, ATTACH, START]


async def test_an_exit_that_never_comes_after_the_output_ended_is_detached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api_run, "API_TIMEOUT_S", 0.2)
    docker = Dockerd(exit_body=None)
    run = Run(docker)
    got = await run.reserved_run()
    assert got == Outcome("detached")
    assert run.lines == [("stdout", b"out"), ("stderr", b"err")]
    assert "read: exit" not in docker.log
