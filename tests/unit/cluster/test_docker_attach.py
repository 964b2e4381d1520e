"""Docker's API for running a container (cluster/docker_api.py): create, start and wait
requests and answers, the attach's upgrade, and the multiplexed output cut into lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from drove_tui.cluster import docker_api
from drove_tui.cluster.docker_api import Answer, DockerError, Frames
from drove_tui.cluster.local import LocalTransport
from drove_tui.cluster.transport import MAX_LINE, CommandTimeout, SocketRefused, TransportError


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def cut(stream: bytes, *pieces: bytes) -> list[tuple[str, bytes]]:
    """The lines Frames makes of `stream` fed in `pieces` (all of it at once when none)."""
    got: list[tuple[str, bytes]] = []
    frames = Frames(lambda name, line: got.append((name, line)))
    for piece in pieces or (stream,):
        frames.feed(piece)
    frames.end()
    return got


# --- requests and answers ---------------------------------------------------------------------


def test_a_request_with_a_body_sends_it_as_json_with_its_length() -> None:
    sent = docker_api.request("POST", "/containers/create?name=x", {"Image": "é", "Cmd": ["a"]})
    head, _, body = sent.partition(b"\r\n\r\n")
    assert json.loads(body) == {"Image": "é", "Cmd": ["a"]}
    assert head.split(b"\r\n") == [
        b"POST /containers/create?name=x HTTP/1.1",
        b"Host: docker",
        b"Connection: close",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
    ]


class Recorder:
    """A transport whose socket answers what the test says, and which keeps what was sent."""

    host = "h1"

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sent: list[bytes] = []

    async def unix_request(self, path: str, request: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
        self.sent.append(request)
        return self.answer


async def test_create_start_and_wait_ask_for_the_named_container() -> None:
    host = Recorder(b"HTTP/1.1 204 No Content\r\n\r\n")
    await docker_api.create_container(host, "/s", "a b", {"Image": "i"}, timeout=5)  # type: ignore[arg-type]
    await docker_api.start_container(host, "/s", "a b", timeout=5)  # type: ignore[arg-type]
    await docker_api.wait_container(host, "/s", "a b", timeout=5)  # type: ignore[arg-type]
    assert host.sent == [
        docker_api.request("POST", "/containers/create?name=a%20b", {"Image": "i"}),
        docker_api.request("POST", "/containers/a%20b/start"),
        docker_api.request("POST", "/containers/a%20b/wait?condition=not-running"),
    ]


def answer(status: int, body: bytes) -> Answer:
    raw = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)
    return docker_api.parse_answer(raw)


def test_a_creates_answer_gives_its_warnings_and_a_conflict_its_message() -> None:
    made = answer(201, b'{"Id":"abc","Warnings":["memory limited"]}')
    assert (made.status, docker_api.warnings(made)) == (docker_api.CREATED, ["memory limited"])
    assert docker_api.warnings(answer(201, b'{"Id":"abc","Warnings":null}')) == []
    assert docker_api.warnings(answer(201, b"")) == []
    taken = answer(409, b'{"message":"Conflict. The container name \\"/x\\" is already in use"}')
    assert taken.status == docker_api.CONFLICT and "already in use" in taken.message


def test_a_waits_answer_gives_the_exit_code() -> None:
    assert docker_api.exit_code(answer(200, b'{"Error":null,"StatusCode":7}')) == 7
    assert docker_api.exit_code(answer(200, b'{"Error":{"Message":"x"},"StatusCode":0}')) == 0


@pytest.mark.parametrize(
    "said",
    [
        answer(200, b'{"Error":null}'),
        answer(200, b'{"StatusCode":"7"}'),
        answer(200, b'{"StatusCode":true}'),
        answer(200, b"[7]"),
        answer(200, b"not json"),
        answer(404, b'{"message":"No such container: x"}'),
    ],
)
def test_a_malformed_wait_answer_is_a_value_error(said: Answer) -> None:
    with pytest.raises(ValueError, match=r"StatusCode|JSON|404"):
        docker_api.exit_code(said)


# --- the multiplexed stream ---------------------------------------------------------------------


def test_frames_give_each_streams_lines_in_order() -> None:
    stream = frame(1, b"one\ntw") + frame(2, b"err\n") + frame(1, b"o\n") + frame(0, b"in\n")
    assert cut(stream) == [
        ("stdout", b"one"),
        ("stderr", b"err"),
        ("stdout", b"two"),
        ("stdout", b"in"),  # stdin's frames count as stdout
    ]


def test_frames_split_anywhere_across_reads_give_the_same_lines() -> None:
    stream = frame(1, b"hello\nwor") + frame(2, b"oops\n") + frame(1, b"ld\n")
    whole = cut(stream)
    assert whole == [("stdout", b"hello"), ("stderr", b"oops"), ("stdout", b"world")]
    assert cut(stream, *(stream[i : i + 1] for i in range(len(stream)))) == whole
    for at in range(1, len(stream)):
        assert cut(stream, stream[:at], stream[at:]) == whole, at


def test_each_stream_keeps_its_partial_line_apart() -> None:
    stream = frame(1, b"a") + frame(2, b"x") + frame(1, b"b\n") + frame(2, b"y\n")
    assert cut(stream) == [("stdout", b"ab"), ("stderr", b"xy")]


def test_the_last_partial_lines_come_at_the_end() -> None:
    assert cut(frame(1, b"a\nrest") + frame(2, b"tail")) == [
        ("stdout", b"a"),
        ("stdout", b"rest"),
        ("stderr", b"tail"),
    ]


def test_zero_length_frames_are_nothing() -> None:
    stream = frame(1, b"") + frame(1, b"a") + frame(2, b"") + frame(1, b"\n") + frame(1, b"")
    assert cut(stream) == [("stdout", b"a")]


def test_a_line_over_max_line_comes_in_pieces() -> None:
    big = b"x" * (MAX_LINE * 2 + 5)
    pieces = [frame(1, big[i : i + 32768]) for i in range(0, len(big), 32768)]
    got = cut(b"".join(pieces) + frame(1, b"\nend\n"))
    assert got == [
        ("stdout", b"x" * MAX_LINE),
        ("stdout", b"x" * MAX_LINE),
        ("stdout", b"x" * 5),
        ("stdout", b"end"),
    ]


def test_a_frame_cut_short_gives_what_of_it_arrived() -> None:
    assert cut(frame(1, b"a\n") + frame(2, b"half of it")[:12]) == [
        ("stdout", b"a"),
        ("stderr", b"half"),
    ]
    assert cut(frame(1, b"a\n") + frame(2, b"x")[:5]) == [("stdout", b"a")]  # a header cut


def test_what_is_not_a_multiplexed_stream_is_an_error() -> None:
    with pytest.raises(ValueError, match="not docker's multiplexed stream"):
        cut(b"hello from a tty\r\n")


def test_an_error_docker_says_in_the_stream_is_raised() -> None:
    with pytest.raises(DockerError, match="in the stream: no space left"):
        cut(frame(1, b"a\n") + frame(3, b"no space left"))
    with pytest.raises(DockerError, match="in the stream: no sp"):
        cut(frame(3, b"no space left")[:13])


# --- attach over a socket -----------------------------------------------------------------------

UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


async def serve(path: Path, *parts: bytes | None) -> tuple[asyncio.Server, list[bytes]]:
    """A socket that reads one request head, writes `parts` one by one (None: waits for
    ever), then closes."""
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        for part in parts:
            if part is None:
                await asyncio.sleep(3600)
            else:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.01)
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path)), got


async def test_attach_upgrades_and_pumps_the_output_until_it_closes(tmp_path: Path) -> None:
    sock = tmp_path / "d.sock"
    server, got = await serve(
        sock, UPGRADED + frame(1, b"first\n"), frame(2, b"err\n") + frame(1, b"la"), frame(1, b"st")
    )
    lines: list[tuple[str, bytes]] = []
    async with server, docker_api.attach(LocalTransport(), str(sock), "c 1", timeout=5) as out:
        await out.pump(lambda name, line: lines.append((name, line)))
    assert lines == [("stdout", b"first"), ("stderr", b"err"), ("stdout", b"last")]
    assert got == [
        b"POST /containers/c%201/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
        b"Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    ]


async def test_an_older_daemons_200_is_an_attach_too(tmp_path: Path) -> None:
    sock = tmp_path / "d.sock"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    server, _ = await serve(sock, head, frame(1, b"hi\n"))
    lines: list[tuple[str, bytes]] = []
    async with server, docker_api.attach(LocalTransport(), str(sock), "c", timeout=5) as out:
        await out.pump(lambda name, line: lines.append((name, line)))
    assert lines == [("stdout", b"hi")]


async def test_an_attach_docker_refuses_is_a_docker_error_with_its_message(
    tmp_path: Path,
) -> None:
    sock = tmp_path / "d.sock"
    body = b'{"message":"No such container: c"}\n'
    refusal = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body)
    # The body comes apart from the head, and the connection stays open after it.
    server, _ = await serve(sock, refusal, body, None)
    async with server:
        with pytest.raises(DockerError, match="404: No such container: c") as refused:
            async with docker_api.attach(LocalTransport(), str(sock), "c", timeout=5):
                pass
    assert refused.value.answer.status == docker_api.NOT_FOUND


async def test_an_attach_without_an_answer_times_out_and_garbage_is_a_value_error(
    tmp_path: Path,
) -> None:
    sock = tmp_path / "d.sock"
    server, _ = await serve(sock, b"HTTP/1.1 101 UPGR", None)
    async with server:
        with pytest.raises(CommandTimeout, match=r"did not answer the attach within 0\.2 s"):
            async with docker_api.attach(LocalTransport(), str(sock), "c", timeout=0.2):
                pass
    other = tmp_path / "o.sock"
    server, _ = await serve(other, b"SSH-2.0-OpenSSH_9.2\r\n")
    async with server:
        with pytest.raises(ValueError, match="not an HTTP answer"):
            async with docker_api.attach(LocalTransport(), str(other), "c", timeout=5):
                pass
    with pytest.raises(SocketRefused, match="cannot connect"):
        async with docker_api.attach(LocalTransport(), str(tmp_path / "none"), "c", timeout=5):
            pass


class BreakingReader:
    """A socket that gives `chunks`, then fails as a transport says it."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    async def read(self, n: int = 0) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        raise SocketRefused("h1", "h1: /d.sock closed the connection: ConnectionResetError()")


class Writer:
    def write(self, data: bytes) -> None:
        pass


class BreakingTransport:
    host = "h1"

    @asynccontextmanager
    async def unix_stream(
        self,
        path: str,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncIterator[tuple[BreakingReader, Writer]]:
        yield BreakingReader(UPGRADED + frame(1, b"a\nb")), Writer()


async def test_a_connection_breaking_under_the_pump_is_a_transport_error() -> None:
    lines: list[bytes] = []
    async with docker_api.attach(BreakingTransport(), "/d.sock", "c", timeout=5) as out:  # type: ignore[arg-type]
        with pytest.raises(TransportError, match="closed the connection"):
            await out.pump(lambda name, line: lines.append(line))
    assert lines == [b"a"]
