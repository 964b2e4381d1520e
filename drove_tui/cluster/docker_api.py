"""Docker's HTTP API on the host's own unix socket, reached through the host's transport.

Over SSH, sshd connects the socket for us (direct-streamlocal forwarding, as the login user,
who may run `docker` anyway): no channel session, no shell and no docker client start on the
host, which costs several times the removal itself (bench/results/run.md). It is used only
where the docker command is plain `docker` and its endpoint (as the command itself says it
in the full probe: DOCKER_HOST, DOCKER_CONTEXT and the current context all count) is a unix
socket; anything else, or any failure, is left to the docker command line.

One request per connection (HTTP/1.1 with `Connection: close`), answers read to their end.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from urllib.parse import quote

from drove_tui.cluster.transport import Transport

OK = 200
NO_CONTENT = 204


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


def request(method: str, target: str) -> bytes:
    """An HTTP/1.1 request without a body that asks the server to close after answering."""
    return f"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode()


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
