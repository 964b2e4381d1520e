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

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import Transport
from drove_tui.errors import DroveError
from drove_tui.models.configs import (
    MASKED,
    ControllerHttpFetchConfig,
    ExecutorHttpFetchConfig,
    ExecutorLocalFileConfig,
    HttpCallSpec,
    HttpVerb,
    InlineConfig,
)
from drove_tui.models.inventory import HostConfig
from drove_tui.models.spec import TaskSpec

# curl reads the whole request from stdin as a curl config (`-K -`): headers, credentials and
# payload never reach a command line, where any user of the host could read them with `ps`.
# Without curl, wget serves a plain GET only (nothing secret to pass); anything more exits
# NO_CURL, since wget takes headers only as arguments. $1 url (not secret: it is shown in
# messages) $2 connect timeout $3 max time $4 plain GET (1/0) $5 insecure (1/0).
FETCH_SCRIPT = """url=$1; ct=$2; mt=$3; plain=$4; insecure=$5
if command -v curl >/dev/null 2>&1; then
  exec curl -K -
fi
command -v wget >/dev/null 2>&1 || exit 98
[ "$plain" = 1 ] || exit 97
exec </dev/null
set -- -q -T "$ct" -O -
[ "$insecure" = 1 ] && set -- "$@" --no-check-certificate
if command -v timeout >/dev/null 2>&1; then
  exec timeout "$mt" wget "$@" "$url"
fi
exec wget "$@" "$url"
"""
NO_CURL = 97  # FETCH_SCRIPT: no curl, and the request needs more than a plain GET
NO_FETCHER = 98  # FETCH_SCRIPT: neither curl nor wget


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
    http = config.http
    if MASKED in (http.username, http.password, http.auth_header, *http.headers.values()):
        raise DroveError(
            f"{where}: the HTTP credentials are not kept after a restart (secrets are never "
            "stored); submit the task again"
        )
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


def _curl_quoted(value: str) -> str:
    """A value in curl config syntax: double quotes, with curl's escapes."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def curl_config(http: HttpCallSpec, where: str) -> bytes:
    """The fetch as a curl config (fed to `curl -K -` on stdin; it carries the secrets)."""
    url = _url(http)
    if any(c in url for c in "\r\n"):
        raise DroveError(f"{where}: the URL may not contain a line break")
    lines = [
        f"url = {_curl_quoted(url)}",
        f"request = {_curl_quoted(http.verb.value)}",
        f"connect-timeout = {max(1, int(http.connection_timeout.seconds))}",
        f"max-time = {max(1, int(http.operation_timeout.seconds))}",
        "fail",
        "silent",
        "show-error",
        "location",
    ]
    for key, value in _headers(http).items():
        if any(c in key + value for c in "\r\n") or ":" in key or not key.strip():
            # Never echo the value: it may be a credential.
            raise DroveError(
                f"{where}: header {key.strip()[:40]!r} is not a valid HTTP header "
                "(a name without ':' and no line breaks)"
            )
        lines.append(f"header = {_curl_quoted(f'{key}: {value}')}")
    if http.insecure:
        lines.append("insecure")
    if http.payload:
        lines.append(f"data-raw = {_curl_quoted(http.payload)}")
    return ("\n".join(lines) + "\n").encode()


async def _fetch_on_host(
    http: HttpCallSpec, transport: Transport, host: HostConfig, where: str
) -> bytes:
    config = curl_config(http, where)
    plain = http.verb is HttpVerb.GET and not _headers(http) and not http.payload
    cmd = Command.script(
        FETCH_SCRIPT,
        _url(http),
        max(1, int(http.connection_timeout.seconds)),
        max(1, int(http.operation_timeout.seconds)),
        int(plain),
        int(http.insecure),
    )
    done = await transport.run(cmd, stdin=config, timeout=http.operation_timeout.seconds + 30)
    if done.exit_status == NO_CURL:
        raise DroveError(
            f"{where}: {host.name} has no curl, and fetching {_url(http)} with headers, "
            f"credentials, a payload or verb {http.verb.value} needs it (wget would show them "
            f"on the host's command line); install curl on {host.name}"
        )
    if done.exit_status == NO_FETCHER:
        raise DroveError(
            f"{where}: {host.name} has neither curl nor wget to fetch {_url(http)}; "
            f"install curl on {host.name}"
        )
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
