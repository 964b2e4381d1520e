"""EXECUTOR_HTTP_FETCH configs on real hosts: the host fetches the file with the spec's
credentials and headers, and no command line on the host ever shows them (`ps` would)."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drove_tui.engine.engine import Engine
from drove_tui.models.states import TaskState, TaskStatus
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import inventory, spec

S = TaskState
PASSWORD = "pw-3c1d9e0b77"
TOKEN = "tok-5a8f2e41c9"
BODY = b"fetched-config-contents\n"


def command_lines() -> list[str]:
    """Every process's command line on this machine (the sandbox hosts' processes too)."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:
            continue  # the process ended while we looked
    return lines


class ConfigServer(http.server.ThreadingHTTPServer):
    """Answers BODY only with the right credentials and header; while a request waits for its
    answer (the fetcher is alive on the host) it records every command line there is."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []


class Handler(http.server.BaseHTTPRequestHandler):
    server: ConfigServer

    def do_GET(self) -> None:
        basic = base64.b64encode(f"drove:{PASSWORD}".encode()).decode()
        ok = (
            self.headers.get("Authorization") == f"Basic {basic}"
            and self.headers.get("X-Api-Token") == TOKEN
        )
        self.server.requests.append({"ok": ok, "seen": command_lines()})
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(BODY) if ok else 0))
        self.end_headers()
        if ok:
            self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ConfigServer]:
    srv = ConfigServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


async def test_http_fetch_config_works_with_credentials_that_no_host_command_line_shows(
    sandbox: Sandbox, tmp_path: Path, server: ConfigServer
) -> None:
    port = server.server_address[1]
    task = spec(
        sandbox,
        "fetched",
        ["cat", "/etc/app/fetched.txt"],
        configs=[
            {
                "type": "EXECUTOR_HTTP_FETCH",
                "localFilename": "/etc/app/fetched.txt",
                "http": {
                    "protocol": "HTTP",
                    "hostname": "127.0.0.1",
                    "port": port,
                    "path": "/conf",
                    "username": "drove",
                    "password": PASSWORD,
                    "headers": {"X-Api-Token": TOKEN},
                    "operationTimeout": "20 seconds",
                },
            }
        ],
    )
    async with Engine.open(inventory(sandbox), tmp_path / "state.db") as engine:
        await engine.submit(task, pin_host="host1")
        done = await engine.wait("it", "fetched")
        text = "\n".join([line.text async for line in engine.logs("it", "fetched")])
    assert done.state is S.STOPPED, done.reason
    assert done.result is not None and done.result.status is TaskStatus.SUCCESSFUL, done.reason
    assert text.strip() == BODY.decode().strip()
    assert [r["ok"] for r in server.requests] == [True]
    seen = server.requests[0]["seen"]
    # The scan ran while the fetcher on the host waited for this answer: it must see it.
    assert any("curl" in line for line in seen), "the fetching process was not found"
    basic = base64.b64encode(f"drove:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, TOKEN, basic):
        assert not [line for line in seen if secret in line]
