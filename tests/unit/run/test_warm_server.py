"""WarmServer.handle, the protocol from the server's side, over a socketpair with the run
itself replaced: nothing runs without the client's GO, descriptors never leak, and a
refused request says why."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from drove_tui.commands import warm_server
from drove_tui.commands.warm import PROTOCOL
from drove_tui.models.inventory import Inventory


class Engine:
    def driving(self) -> int:
        return 0


def server(tmp_path: Path) -> warm_server.WarmServer:
    state = tmp_path / "state.db"
    state.write_text("")
    args = argparse.Namespace(
        key="k1", idle=60.0, socket=str(tmp_path / "s.sock"), state=str(state)
    )
    made = warm_server.WarmServer(Engine(), Inventory(hosts=[]), args, -1)  # type: ignore[arg-type]
    made.listen()
    return made


def request(**over: Any) -> bytes:
    body = {"v": PROTOCOL, "key": "k1", "options": {"run": "job.yaml"}, **over}
    return json.dumps(body).encode() + b"\n"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []

    async def fake_run(self: warm_server.WarmServer, req: Any, lines: Any, output: Any) -> int:
        seen.append(req)
        await output.finish()
        return 7

    monkeypatch.setattr(warm_server.WarmServer, "run", fake_run)
    return seen


async def exchange(srv: warm_server.WarmServer, message: bytes, *, go: bool) -> list[Any]:
    """Send `message` with a pipe as stdout and stderr; answer GO or hang up; return the
    server's lines, and check the pipe's reader sees its end (no descriptor kept)."""
    client, theirs = socket.socketpair()
    r, w = os.pipe()
    handled = asyncio.ensure_future(srv.handle(theirs))
    socket.send_fds(client, [message], [w, w])
    os.close(w)
    client.setblocking(False)
    loop = asyncio.get_running_loop()
    first = await asyncio.wait_for(loop.sock_recv(client, 4096), 10)
    if go:
        await loop.sock_sendall(client, b"GO\n")
    else:
        client.close()
    await asyncio.wait_for(handled, 10)
    rest = b"" if not go else await asyncio.wait_for(loop.sock_recv(client, 4096), 10)
    assert await asyncio.to_thread(os.read, r, 10) == b""  # EOF: the server closed its copies
    os.close(r)
    return [json.loads(line) for line in (first + rest).splitlines()]


async def test_a_run_starts_only_after_go_and_answers_its_exit_code(
    tmp_path: Path, runs: list[Any]
) -> None:
    srv = server(tmp_path)
    assert await exchange(srv, request(), go=True) == [{"accepted": True}, {"exit": 7}]
    assert len(runs) == 1


async def test_a_client_that_hangs_up_before_go_creates_nothing(
    tmp_path: Path, runs: list[Any]
) -> None:
    srv = server(tmp_path)
    assert await exchange(srv, request(), go=False) == [{"accepted": True}]
    assert runs == []


async def test_a_request_for_another_server_is_refused_and_keeps_no_descriptor(
    tmp_path: Path, runs: list[Any]
) -> None:
    srv = server(tmp_path)
    answer = await exchange(srv, request(key="other"), go=False)
    assert answer == [{"accepted": False, "why": "it belongs to another drove-tui"}]
    assert runs == []


def exists(path: str) -> bool:
    return os.path.exists(path)


def replace(path: str) -> None:
    os.unlink(path)
    with open(path, "w"):  # a new file at the same path
        pass


async def test_a_replaced_state_file_retires_the_server(tmp_path: Path, runs: list[Any]) -> None:
    srv = server(tmp_path)
    replace(srv.state_path)
    answer = await exchange(srv, request(), go=False)
    assert answer == [{"accepted": False, "retry": True, "why": "its state file was replaced"}]
    assert not exists(srv.socket_path)  # retired: a new server can start at once
    assert runs == []
    srv.close()
