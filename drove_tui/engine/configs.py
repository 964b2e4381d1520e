"""The spec's config files as one tar stream, copied into the created container before start.

INLINE is decoded here; EXECUTOR_LOCAL_FILE is read on the host and EXECUTOR_HTTP_FETCH is
fetched on the host (both come back over the channel); CONTROLLER_HTTP_FETCH is fetched by
this process. Every file then goes in as one tar through `docker cp -` on stdin.
"""

from __future__ import annotations

import asyncio
import base64
import io
import tarfile
import urllib.request

from drove_tui.cluster.command import Command, Part
from drove_tui.cluster.transport import Transport
from drove_tui.errors import DroveError
from drove_tui.models.configs import (
    ControllerHttpFetchConfig,
    ExecutorHttpFetchConfig,
    ExecutorLocalFileConfig,
    HttpCallSpec,
    InlineConfig,
)
from drove_tui.models.inventory import HostConfig
from drove_tui.models.spec import TaskSpec

# $1 url $2 verb $3 connect timeout $4 max time, then headers as "-H" "k: v" pairs.
FETCH_SCRIPT = """url=$1; verb=$2; ct=$3; mt=$4; shift 4
if command -v curl >/dev/null 2>&1; then
  exec curl -fsSL -X "$verb" --connect-timeout "$ct" --max-time "$mt" "$@" "$url"
fi
exec wget -q -O - "$url"
"""


async def config_tar(spec: TaskSpec, transport: Transport, host: HostConfig) -> bytes | None:
    """A tar of every config file of the spec, or None when it has none."""
    if not spec.configs:
        return None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for index, config in enumerate(spec.configs):
            where = f"configs[{index}] ({config.local_filename})"
            data = await _content(config, transport, host, where)
            info = tarfile.TarInfo(config.local_filename.lstrip("/"))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def _content(
    config: InlineConfig
    | ExecutorLocalFileConfig
    | ExecutorHttpFetchConfig
    | ControllerHttpFetchConfig,
    transport: Transport,
    host: HostConfig,
    where: str,
) -> bytes:
    if isinstance(config, InlineConfig):
        try:
            return config.content
        except ValueError:
            raise DroveError(
                f"{where}: the inline data is not kept after a restart (secrets are never "
                "stored); submit the task again"
            ) from None
    if isinstance(config, ExecutorLocalFileConfig):
        done = await transport.run(Command("cat", "--", config.file_path_on_host), timeout=60)
        if not done.ok:
            text = done.stderr.decode("utf-8", "replace").strip()
            raise DroveError(
                f"{where}: cannot read {config.file_path_on_host} on {host.name}: {text}"
            )
        return done.stdout
    if isinstance(config, ExecutorHttpFetchConfig):
        return await _fetch_on_host(config.http, transport, host, where)
    return await asyncio.to_thread(_fetch_here, config.http, where)


def _url(http: HttpCallSpec) -> str:
    return f"{http.protocol.value.lower()}://{http.hostname}:{http.effective_port}{http.path}"


def _headers(http: HttpCallSpec) -> dict[str, str]:
    headers = dict(http.headers)
    if http.auth_header:
        headers["Authorization"] = http.auth_header
    elif http.username is not None:
        token = base64.b64encode(f"{http.username}:{http.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return headers


async def _fetch_on_host(
    http: HttpCallSpec, transport: Transport, host: HostConfig, where: str
) -> bytes:
    header_args: list[Part] = []
    for key, value in _headers(http).items():
        header_args += ["-H", Command.secret(f"{key}: {value}")]
    if http.insecure:
        header_args.append("-k")
    cmd = Command.script(
        FETCH_SCRIPT,
        _url(http),
        http.verb.value,
        max(1, int(http.connection_timeout.seconds)),
        max(1, int(http.operation_timeout.seconds)),
        *header_args,
    )
    done = await transport.run(cmd, timeout=http.operation_timeout.seconds + 30)
    if not done.ok:
        text = done.stderr.decode("utf-8", "replace").strip()
        raise DroveError(f"{where}: fetching {_url(http)} on {host.name} failed: {text}")
    return done.stdout


def _fetch_here(http: HttpCallSpec, where: str) -> bytes:
    request = urllib.request.Request(  # noqa: S310 (the spec names the URL; http/https only)
        _url(http),
        data=http.payload.encode() if http.payload else None,
        headers=_headers(http),
        method=http.verb.value,
    )
    try:
        with urllib.request.urlopen(request, timeout=http.operation_timeout.seconds) as reply:  # noqa: S310
            if reply.status not in http.success_codes:
                raise DroveError(f"{where}: {_url(http)} answered {reply.status}")
            body: bytes = reply.read()
            return body
    except OSError as err:
        raise DroveError(f"{where}: fetching {_url(http)} failed: {err}") from None
