"""Fetching EXECUTOR_HTTP_FETCH configs on a host, through the local transport (a real shell)
with a PATH we control: curl gets its request on stdin, never on its command line; without
curl, wget serves a plain GET within the timeouts and anything else is refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from drove_tui.cluster.local import LocalTransport
from drove_tui.engine.configs import _fetch_on_host, config_tar, curl_config
from drove_tui.errors import DroveError
from drove_tui.models.configs import HttpCallSpec
from drove_tui.models.inventory import HostConfig
from drove_tui.models.spec import TaskSpec

HOST = HostConfig(name="h1", address="127.0.0.1", connection="local")
RECORDER = """#!/bin/sh
printf '%s\\n' "$@" > "{log}"
{rest}
"""


def tool(bindir: Path, name: str, rest: str) -> Path:
    """A fake NAME that records its arguments in bindir/NAME.args, then runs `rest`."""
    log = bindir / f"{name}.args"
    path = bindir / name
    path.write_text(RECORDER.format(log=log, rest=rest))
    path.chmod(0o755)
    return log


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with only sh (and what the test adds): no curl, no wget."""
    path = tmp_path / "bin"
    path.mkdir()
    for name in ("sh",):
        found = shutil.which(name)
        assert found is not None
        os.symlink(found, path / name)
    monkeypatch.setenv("PATH", str(path))
    return path


def call(**fields: object) -> HttpCallSpec:
    body: dict[str, object] = {"hostname": "cfg.example", "port": 8080, "path": "/c"}
    body.update(fields)
    return HttpCallSpec.model_validate(body)


async def test_curl_reads_credentials_from_stdin_and_its_command_line_has_none(
    bindir: Path,
) -> None:
    saved = bindir / "curl.stdin"
    # Only sh is on PATH: keep stdin with shell builtins.
    keep = f'while IFS= read -r line; do printf "%s\\n" "$line"; done > "{saved}"; echo body'
    args = tool(bindir, "curl", keep)
    http = call(username="u", password="s3cret", headers={"X-Token": "tok"}, verb="POST")
    got = await _fetch_on_host(http, LocalTransport("h1"), HOST, "configs[0]")
    assert got == b"body\n"
    assert args.read_text().split() == ["-K", "-"]
    stdin = saved.read_text()
    assert 'header = "X-Token: tok"' in stdin
    assert 'header = "Authorization: Basic dTpzM2NyZXQ="' in stdin
    assert 'request = "POST"' in stdin and 'url = "http://cfg.example:8080/c"' in stdin


async def test_without_curl_a_plain_get_uses_wget_within_the_timeouts(bindir: Path) -> None:
    wget = tool(bindir, "wget", "echo body")
    timeout = tool(bindir, "timeout", 'shift; exec "$@"')
    http = call(connectionTimeout="3 seconds", operationTimeout="7 seconds")
    got = await _fetch_on_host(http, LocalTransport("h1"), HOST, "configs[0]")
    assert got == b"body\n"
    assert timeout.read_text().split()[0] == "7"
    assert wget.read_text().split() == ["-q", "-T", "3", "-O", "-", "http://cfg.example:8080/c"]


@pytest.mark.parametrize(
    "fields",
    [{"headers": {"X-Token": "tok"}}, {"authHeader": "Bearer tok"}, {"verb": "PUT"}],
    ids=["header", "auth", "verb"],
)
async def test_without_curl_a_fetch_that_needs_more_than_a_get_is_refused_naming_curl(
    bindir: Path, fields: dict[str, object]
) -> None:
    wget = tool(bindir, "wget", "echo body")
    with pytest.raises(DroveError) as caught:
        await _fetch_on_host(call(**fields), LocalTransport("h1"), HOST, "configs[0]")
    message = str(caught.value)
    assert "h1 has no curl" in message and "install curl on h1" in message
    assert "tok" not in message
    assert not wget.exists()  # never run: it would have put the header on its command line


async def test_without_curl_or_wget_the_host_is_named_with_what_to_install(bindir: Path) -> None:
    with pytest.raises(DroveError, match=r"h1 has neither curl nor wget.*install curl on h1"):
        await _fetch_on_host(call(), LocalTransport("h1"), HOST, "configs[0]")


def test_curl_config_quotes_values_and_refuses_header_line_breaks() -> None:
    text = curl_config(call(payload='a "b" \\ c\nd'), "configs[0]").decode()
    assert 'data-raw = "a \\"b\\" \\\\ c\\nd"' in text
    with pytest.raises(DroveError) as caught:
        curl_config(call(headers={"X-Token": "tok\r\nX-Evil: 1"}), "configs[0]")
    assert "X-Token" in str(caught.value) and "Evil" not in str(caught.value)


@pytest.mark.parametrize(
    "http",
    [
        {"hostname": "cfg.example", "username": "u", "password": "p"},
        {"hostname": "cfg.example", "headers": {"X-Api-Token": "tok"}},
    ],
    ids=["credentials", "header values"],
)
async def test_masked_secrets_after_a_restart_are_refused_not_sent(
    bindir: Path, http: dict[str, object]
) -> None:
    curl = tool(bindir, "curl", "echo body")
    spec = TaskSpec.model_validate(
        {
            "sourceAppName": "app",
            "taskId": "t1",
            "executable": {"url": "img"},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
            "configs": [{"type": "EXECUTOR_HTTP_FETCH", "localFilename": "/etc/c", "http": http}],
        }
    ).masked()  # what the store gives back: the secrets are not kept
    with pytest.raises(DroveError, match="credentials are not kept after a restart"):
        await config_tar(spec, LocalTransport("h1"), HOST)
    assert not curl.exists()
