"""Docker's API on the host's socket (cluster/docker_api.py): which socket, what is sent, what
an answer means."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drove_tui.cluster import docker_api
from drove_tui.cluster.local import LocalTransport
from drove_tui.cluster.transport import MAX_ANSWER, CommandTimeout, SocketRefused


@pytest.mark.parametrize(
    ("docker", "endpoint", "path"),
    [
        ("docker", "unix:///var/run/docker.sock", "/var/run/docker.sock"),
        ("docker", "unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock"),  # rootless
        (" docker ", "unix:///var/run/docker.sock", "/var/run/docker.sock"),
        ("docker", None, None),  # the probe could not say (or an older drove-tui's facts)
        ("docker", "", None),
        ("docker", "tcp://10.0.0.1:2375", None),  # not a socket of the host's
        ("docker", "ssh://me@elsewhere", None),
        ("docker", "unix://", None),
        ("docker", "unix://relative.sock", None),
        ("docker", "/var/run/docker.sock", None),  # docker wants the scheme: so do we
        ("sudo docker", "unix:///var/run/docker.sock", None),  # the login user may not open it
        ("docker --context other", "unix:///var/run/docker.sock", None),  # flags may name another
        ("podman", "unix:///var/run/docker.sock", None),
    ],
)
def test_the_socket_is_known_only_for_plain_docker_on_a_unix_endpoint(
    docker: str, endpoint: str | None, path: str | None
) -> None:
    assert docker_api.socket_path(docker, endpoint) == path


def test_a_request_asks_the_server_to_close_after_answering() -> None:
    sent = docker_api.request("DELETE", "/containers/x?force=1")
    assert sent == (
        b"DELETE /containers/x?force=1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
    )


def test_no_content_is_a_status_without_a_message() -> None:
    raw = b"HTTP/1.1 204 No Content\r\nApi-Version: 1.50\r\nServer: Docker\r\n\r\n"
    assert docker_api.parse_answer(raw) == docker_api.Answer(204, "")


def test_an_error_carries_dockers_message() -> None:
    body = b'{"message":"No such container: drove-x"}\n'
    raw = (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert docker_api.parse_answer(raw) == docker_api.Answer(404, "No such container: drove-x")


def test_a_chunked_body_is_put_together() -> None:
    raw = (
        b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'10\r\n{"message":"remo\r\n'
        b'11\r\nval in progress"}\r\n'
        b"0\r\n\r\n"
    )
    assert docker_api.parse_answer(raw) == docker_api.Answer(409, "removal in progress")


def test_a_body_that_is_not_json_is_the_message() -> None:
    raw = b"HTTP/1.0 500 Internal Server Error\r\n\r\nsomething broke\n"
    assert docker_api.parse_answer(raw) == docker_api.Answer(500, "something broke")


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # the socket closed at once
        b"HTTP/1.1 204 No Content\r\nServer: Docker\r\n",  # cut short in the headers
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",  # something else listens there
        b"HTTP/1.1 abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\n",  # no last chunk
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,",  # cut in a chunk
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1,2",  # cut in the body
    ],
)
def test_what_is_not_an_http_answer_is_an_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not an HTTP answer"):
        docker_api.parse_answer(raw)


class Recorder:
    """A transport whose socket answers what the test says, and which keeps what was sent."""

    host = "h1"

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sent: list[tuple[str, bytes]] = []

    async def unix_request(self, path: str, request: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
        self.sent.append((path, request))
        return self.answer


async def test_remove_container_is_one_delete_with_force_and_volumes() -> None:
    host = Recorder(b"HTTP/1.1 204 No Content\r\n\r\n")
    answer = await docker_api.remove_container(host, "/s.sock", "drove-a b/c", timeout=5)  # type: ignore[arg-type]
    assert answer.status == 204
    assert host.sent == [
        ("/s.sock", docker_api.request("DELETE", "/containers/drove-a%20b%2Fc?force=1&v=1"))
    ]


# --- the local transport's socket (the SSH one is proven on the sandbox) ----------------------


async def serve(path: Path, answer: bytes | None) -> tuple[asyncio.Server, list[bytes]]:
    """A unix socket that reads one request and answers `answer` (None: never answers)."""
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        if answer is None:
            await asyncio.sleep(3600)
        writer.write(answer or b"")
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(handle, path=str(path)), got


async def test_the_local_transport_sends_and_reads_until_the_socket_closes(
    tmp_path: Path,
) -> None:
    sock = tmp_path / "d.sock"
    server, got = await serve(sock, b"HTTP/1.1 204 No Content\r\n\r\n")
    async with server:
        raw = await LocalTransport().unix_request(str(sock), b"GET / HTTP/1.1\r\n\r\n", timeout=5)
    assert raw == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert got == [b"GET / HTTP/1.1\r\n\r\n"]


async def test_the_local_transport_keeps_at_most_max_answer(tmp_path: Path) -> None:
    sock = tmp_path / "d.sock"
    server, _ = await serve(sock, b"x" * (MAX_ANSWER + 10))
    async with server:
        raw = await LocalTransport().unix_request(str(sock), b"GET / HTTP/1.1\r\n\r\n", timeout=5)
    assert len(raw) == MAX_ANSWER


async def test_a_missing_socket_is_refused_and_a_silent_one_times_out(tmp_path: Path) -> None:
    with pytest.raises(SocketRefused, match=r"cannot connect to .*nothing\.sock"):
        await LocalTransport().unix_request(str(tmp_path / "nothing.sock"), b"x", timeout=5)
    sock = tmp_path / "d.sock"
    server, _ = await serve(sock, None)
    async with server:
        with pytest.raises(CommandTimeout, match=r"did not answer within 0\.2 s"):
            await LocalTransport().unix_request(str(sock), b"GET / HTTP/1.1\r\n\r\n", timeout=0.2)


async def test_the_local_unix_stream_carries_both_ways_and_half_closes(tmp_path: Path) -> None:
    sock = tmp_path / "echo.sock"

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"got " + await reader.read())  # to our EOF
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(echo, path=str(sock))
    async with server, LocalTransport().unix_stream(str(sock), timeout=5) as (reader, writer):
        writer.write(b"one ")
        writer.write(b"two")
        await writer.drain()
        writer.write_eof()
        got = [await reader.read(2), await reader.read(100), await reader.read(100)]
    assert got == [b"go", b"t one two", b""]
