"""Docker's HTTP API on the host's own unix socket, reached through the host's transport.

Over SSH, sshd connects the socket for us (direct-streamlocal forwarding, as the login user,
who may run `docker` anyway): no channel session, no shell and no docker client start on the
host, which costs several times the removal itself (bench/results/run.md). It is used only
where the docker command is plain `docker` and its endpoint (as the command itself says it
in the full probe: DOCKER_HOST, DOCKER_CONTEXT and the current context all count) is a unix
socket; anything else, or any failure, is left to the docker command line.

One request per connection (HTTP/1.1 with `Connection: close`), answers read to their end,
except for a task's run (engine/api_run.py): its create keeps the connection for the attach,
which upgrades it to docker's multiplexed stream of the container's output (`Attached.pump`
reads it until the container closes it), and its wait's answer is read head first, then
the body as far as its chunks say.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from drove_tui.cluster.transport import (
    MAX_ANSWER,
    READ_CHUNK,
    CommandTimeout,
    OnLine,
    SocketReader,
    StreamName,
    Transport,
    cut_lines,
)

OK = 200
CREATED = 201
NO_CONTENT = 204
NOT_MODIFIED = 304
NOT_FOUND = 404
CONFLICT = 409
SWITCHING_PROTOCOLS = 101
# The most of an attach's answer head kept while looking for its end.
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """Docker's HTTP status, for an error its message, and the headers (names in lower
    case) and body."""

    status: int
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    body: bytes = field(default=b"", compare=False)


def socket_path(docker: str, endpoint: str | None) -> str | None:
    """The socket the host's `docker` command talks to, or None when it cannot be known
    here: a docker prefix other than plain `docker` (sudo, podman, flags), a probe that could
    not say the endpoint, or an endpoint that is not a unix socket."""
    if shlex.split(docker) != ["docker"] or endpoint is None:
        return None
    path = endpoint.removeprefix("unix://")
    if path == endpoint or not path.startswith("/"):
        return None
    return path


class DockerError(ValueError):
    """Docker answered an attach or a wait with an error (its message is the text), or said
    one in the output's stream; `answer` is what it said."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"docker answered {answer.status}: {answer.message}")
        self.answer = answer


def request(
    method: str, target: str, body: dict[str, Any] | None = None, *, keep: bool = False
) -> bytes:
    """An HTTP/1.1 request that asks the server to close after answering (or, with `keep`,
    to keep the connection for the next request); a `body` goes as JSON."""
    connection = "keep-alive" if keep else "close"
    head = f"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: {connection}\r\n"
    if body is None:
        return f"{head}\r\n".encode()
    data = json.dumps(body, separators=(",", ":")).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return f"{head}\r\n".encode() + data


def parse_answer(raw: bytes) -> Answer:
    """One HTTP answer: its status, headers and body, and an error's message; ValueError
    when it is not one (cut short, or something else listens on the socket)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer: {raw[:60]!r}")
    status = int(parts[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        try:
            body = _unchunk(body)
        except ValueError:
            raise ValueError(f"not an HTTP answer: a bad chunk in {body[:60]!r}") from None
    length = headers.get("content-length", "")
    if length.isdigit() and len(body) < int(length):
        raise ValueError(f"not an HTTP answer: cut short ({len(body)} of {length} bytes)")
    if status < 400:
        return Answer(status, "", headers, body)
    text = body.decode("utf-8", "replace").strip()
    try:
        said = json.loads(text) if text else {}
    except ValueError:
        said = {}
    message = said.get("message") if isinstance(said, dict) else None
    return Answer(status, str(message) if message is not None else text[:300], headers, body)


def _unchunk(body: bytes) -> bytes:
    """A chunked body put together; ValueError when it is cut short (no last chunk)."""
    out = bytearray()
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if not sep or size < 0:
            raise ValueError("cut short")
        if size == 0:
            return bytes(out)
        if len(rest) < size + 2 or rest[size : size + 2] != b"\r\n":
            raise ValueError("cut short")
        out += rest[:size]
        body = rest[size + 2 :]


async def get(
    transport: Transport,
    path: str,
    target: str,
    *,
    timeout: float,  # noqa: ASYNC109
) -> Answer:
    """`GET target` on the socket."""
    raw = await transport.unix_request(path, request("GET", target), timeout=timeout)
    return parse_answer(raw)


async def remove_container(
    transport: Transport,
    path: str,
    name: str,
    *,
    timeout: float,  # noqa: ASYNC109
) -> Answer:
    """`docker rm -f -v NAME` as one API call: 204 removed, 404 no such container."""
    target = f"/containers/{quote(name, safe='')}?force=1&v=1"
    raw = await transport.unix_request(path, request("DELETE", target), timeout=timeout)
    return parse_answer(raw)


def create_request(name: str, body: dict[str, Any], *, keep: bool = False) -> bytes:
    """`docker create --name NAME` with the API's JSON `body` (`keep`: the connection serves
    the next request too): 201 created (Id, Warnings), 409 the name is taken, 404 no such
    image."""
    return request("POST", f"/containers/create?name={quote(name, safe='')}", body, keep=keep)


def start_request(name: str) -> bytes:
    """`docker start NAME`: 204 started, 304 already started, 404 no such container."""
    return request("POST", f"/containers/{quote(name, safe='')}/start")


def wait_request(name: str, condition: str = "next-exit") -> bytes:
    """Wait for the container's exit: docker answers the head (200) at once, once it
    listens, and the body (see exit_code) at the exit; 404 no such container."""
    return request("POST", f"/containers/{quote(name, safe='')}/wait?condition={condition}")


def attach_request(name: str) -> bytes:
    """Attach to the container's stdout and stderr: 101, then docker's multiplexed stream."""
    target = f"/containers/{quote(name, safe='')}/attach?stream=1&stdout=1&stderr=1"
    head = f"POST {target} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
    return f"{head}Upgrade: tcp\r\n\r\n".encode()


async def create_container(
    transport: Transport,
    path: str,
    name: str,
    body: dict[str, Any],
    *,
    timeout: float,  # noqa: ASYNC109
) -> Answer:
    """create_request as one call on its own connection."""
    return parse_answer(
        await transport.unix_request(path, create_request(name, body), timeout=timeout)
    )


async def start_container(
    transport: Transport,
    path: str,
    name: str,
    *,
    timeout: float,  # noqa: ASYNC109
) -> Answer:
    """start_request as one call."""
    return parse_answer(await transport.unix_request(path, start_request(name), timeout=timeout))


async def wait_container(
    transport: Transport,
    path: str,
    name: str,
    *,
    timeout: float,  # noqa: ASYNC109
) -> Answer:
    """Wait until the container `name` is not running (at once for one never started): 200
    with its exit (see exit_code), 404 no such container."""
    raw = await transport.unix_request(path, wait_request(name, "not-running"), timeout=timeout)
    return parse_answer(raw)


def _json(answer: Answer) -> dict[str, Any]:
    try:
        said = json.loads(answer.body)
    except ValueError:
        said = None
    if not isinstance(said, dict):
        raise ValueError(f"docker's answer is not a JSON object: {answer.body[:60]!r}")
    return said


def exit_code(answer: Answer) -> int:
    """The StatusCode of a wait's answer; ValueError when the answer is not a wait's 200."""
    if answer.status != OK:
        raise ValueError(f"docker answered {answer.status}: {answer.message}")
    code = _json(answer).get("StatusCode")
    if not isinstance(code, int) or isinstance(code, bool):
        raise ValueError(f"no StatusCode in docker's answer: {answer.body[:60]!r}")
    return code


def warnings(answer: Answer) -> list[str]:
    """The Warnings of a create's answer (none when it has none, or is not JSON)."""
    try:
        said = _json(answer).get("Warnings")
    except ValueError:
        return []
    return [str(w) for w in said if w] if isinstance(said, list) else []


# --- attach: the container's output as docker's multiplexed stream ---------------------------


class Frames:
    """Docker's multiplexed stream cut into lines: each frame is an 8-byte header (the stream:
    1 stdout, 2 stderr, 0 stdin taken as stdout, 3 docker's own error; three zero bytes; the
    payload's size as a big-endian uint32) and its payload. Each stream keeps its own partial
    line; a line longer than MAX_LINE comes in pieces (as every transport's output does).
    ValueError for what is not that stream (a container with a tty), DockerError for an
    error docker says in it."""

    def __init__(self, on_line: OnLine) -> None:
        self._on_line = on_line
        self._head = bytearray()
        self._left = 0  # payload bytes of the current frame still to come
        self._kind = 1
        self._error = bytearray()
        self._pending: dict[StreamName, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the stream; complete lines go to `on_line`."""
        pos = 0
        while pos < len(data):
            if self._left == 0:  # a header, or the rest of one
                take = data[pos : pos + 8 - len(self._head)]
                self._head += take
                pos += len(take)
                if len(self._head) == 8:
                    self._start()
                continue
            payload = data[pos : pos + self._left]
            pos += len(payload)
            self._left -= len(payload)
            self._payload(payload)

    def _start(self) -> None:
        head = bytes(self._head)
        self._head.clear()
        if head[0] > 3 or head[1:4] != b"\0\0\0":
            raise ValueError(f"not docker's multiplexed stream: {head!r}")
        self._kind = head[0]
        self._left = int.from_bytes(head[4:8], "big")
        if self._kind == 3 and self._left == 0:
            self._fail()

    def _payload(self, payload: bytes) -> None:
        if self._kind == 3:
            self._error += payload[: max(0, MAX_ANSWER - len(self._error))]
            if self._left == 0:
                self._fail()
            return
        name: StreamName = "stderr" if self._kind == 2 else "stdout"
        for line in cut_lines(self._pending[name], payload):
            self._on_line(name, line)

    def _fail(self) -> None:
        message = self._error.decode("utf-8", "replace").strip()
        self._error.clear()
        raise DockerError(Answer(500, f"error from docker in the stream: {message}"))

    def end(self) -> None:
        """The stream ended: the last partial lines go to `on_line` (a frame cut short gives
        what of it arrived)."""
        for name, pending in self._pending.items():
            if pending:
                self._on_line(name, bytes(pending))
                pending.clear()
        if self._kind == 3 and (self._error or self._left):
            self._fail()


class Attached:
    """An attached container's output (what `attach` yields)."""

    def __init__(self, reader: SocketReader, early: bytes) -> None:
        self._reader = reader
        self._early = early  # what came with the answer's head

    async def pump(self, on_line: OnLine) -> None:
        """Hand each line of the output (without the newline) to on_line(stream, line)
        until docker closes it (the container's streams ended), as `Frames` says.
        TransportError when the connection breaks."""
        frames = Frames(on_line)
        early, self._early = self._early, b""
        frames.feed(early)
        while chunk := await self._reader.read(READ_CHUNK):
            frames.feed(chunk)
        frames.end()


@asynccontextmanager
async def attach(
    transport: Transport,
    path: str,
    name: str,
    *,
    timeout: float,  # noqa: ASYNC109
) -> AsyncIterator[Attached]:
    """`docker attach` to the stdout and stderr of the container `name` (made without a tty;
    attach before starting it, so nothing is missed): yields the output to `pump`. `timeout`
    covers the connection and docker's answer, not the pump. DockerError when docker
    answers an error (404 no such container), ValueError for what is not an answer, and
    the transport's errors (SocketRefused, CommandTimeout, Unreachable) as they come."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with transport.unix_stream(path, timeout=timeout) as (reader, writer):
        try:
            async with asyncio.timeout_at(deadline):
                writer.write(attach_request(name))
                early = await upgraded(reader)
        except TimeoutError:
            raise CommandTimeout(
                transport.host,
                f"{transport.host}: {path} did not answer the attach within {timeout:g} s",
            ) from None
        yield Attached(reader, early)


async def upgraded(reader: SocketReader, early: bytes = b"") -> bytes:
    """Read the answer to an attach up to its stream (101 Switching Protocols, or 200 from
    older daemons); returns what of the stream came with it. DockerError for any other
    status, ValueError for what is not an HTTP answer."""
    head = await read_head(reader, early)
    if head.status in (SWITCHING_PROTOCOLS, OK):
        return head.rest
    raise DockerError(await read_rest(reader, head))


@dataclass(frozen=True)
class Head:
    """An answer's status line and headers as they came (`raw`), and what followed them."""

    status: int
    raw: bytes
    rest: bytes


async def read_head(reader: SocketReader, early: bytes = b"") -> Head:
    """Read an answer's head on a connection (after `early`, bytes read before);
    ValueError for what is not one."""
    raw = bytearray(early)
    while (end := raw.find(b"\r\n\r\n")) < 0:
        if len(raw) > MAX_HEAD or not (chunk := await reader.read(READ_CHUNK)):
            raise ValueError(f"not an HTTP answer: {bytes(raw[:60])!r}")
        raw += chunk
    parts = raw[: raw.find(b"\r\n")].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer: {bytes(raw[:60])!r}")
    return Head(int(parts[1]), bytes(raw[: end + 4]), bytes(raw[end + 4 :]))


async def read_rest(reader: SocketReader, head: Head) -> Answer:
    """The whole answer whose head was read: its body read as far as its length or last
    chunk says (so that a connection kept open does not hang it), or to the end."""
    raw = bytearray(head.raw + head.rest)
    while True:
        try:
            return parse_answer(bytes(raw))
        except ValueError:
            if len(raw) > MAX_ANSWER or not (chunk := await reader.read(READ_CHUNK)):
                raise
            raw += chunk
