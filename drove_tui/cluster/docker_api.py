"""Docker's HTTP API on the host's own unix socket, reached through the host's transport.

Over SSH, sshd connects the socket for us (direct-streamlocal forwarding, as the login user,
who may run `docker` anyway): no channel session, no shell and no docker client start on the
host, which costs several times the removal itself (bench/results/run.md). It is used only
where the docker command is plain `docker` and the host's `DOCKER_HOST` (as its sessions see
it, said by the probe) is unset or a unix socket; anything else, or any failure, is left to
the docker command line.

One request per connection (HTTP/1.1 with `Connection: close`), answers read to their end.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from urllib.parse import quote

from drove_tui.cluster.transport import Transport

DEFAULT_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class Answer:
    """Docker's HTTP status, for an error its message, and the headers (names in lower
    case) and body."""

    status: int
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    body: bytes = field(default=b"", compare=False)


def socket_path(docker: str, docker_host: str | None) -> str | None:
    """The socket the host's `docker` command talks to, or None when it cannot be known
    here: a docker prefix other than plain `docker` (sudo, podman, flags), a probe that did
    not say its DOCKER_HOST, or an endpoint that is not a unix socket."""
    if shlex.split(docker) != ["docker"] or docker_host is None:
        return None
    if docker_host == "":
        return DEFAULT_SOCKET
    path = docker_host.removeprefix("unix://")
    if path == docker_host or not path.startswith("/"):
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
        raise ValueError(f"the HTTP answer was cut short ({len(body)} of {length} bytes)")
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
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


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
