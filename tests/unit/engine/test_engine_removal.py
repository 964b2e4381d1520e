"""Removing a container whose exit the engine saw (engine/removal.py): docker's API where the
host allows it, the remove script for everything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_hosts import FakeHost
from test_engine_foreign import online

from drove_tui.cluster.transport import CommandTimeout, RunResult, SocketRefused
from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.models.inventory import HostConfig, Inventory

NAME = "drove-app-t1-0"
REMOVED = b"HTTP/1.1 204 No Content\r\n\r\n"
MISSING = b'HTTP/1.1 404 Not Found\r\n\r\n{"message":"No such container: drove-app-t1-0"}'


class Host(FakeHost):
    """A host whose docker socket answers from `sockets` in turn (bytes, or an error)."""

    def __init__(self, *sockets: bytes | Exception) -> None:
        super().__init__(lambda line: RunResult(0, b"", b""))
        self.sockets = list(sockets)
        self.socket_calls: list[tuple[str, bytes]] = []

    async def unix_request(self, path: str, request: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
        self.socket_calls.append((path, request))
        answer = self.sockets.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def scripts(self) -> list[str]:
        return [line for line in self.asked if "rm -f -v" in line]


def engine_with(tmp_path: Path, host: Host, *, docker: str = "docker") -> Engine:
    inv = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1", docker=docker)])
    eng = Engine(inv, SqliteStore.open(tmp_path / "state.db"))
    eng.cluster._transports["h1"] = host
    return eng


def probed(eng: Engine, endpoint: str | None) -> None:
    status = online([])
    assert status.facts is not None
    status.facts.docker_endpoint = endpoint
    eng.watch._status["h1"] = status


async def remove(eng: Engine) -> tuple[bool, str]:
    return await eng.removals.remove(eng.inventory.hosts[0], NAME, timeout=5)


async def test_a_plain_docker_host_removes_through_its_socket_alone(tmp_path: Path) -> None:
    host = Host(REMOVED)
    eng = engine_with(tmp_path, host)
    probed(eng, "unix:///run/d.sock")
    assert await remove(eng) == (True, "")
    assert [path for path, _ in host.socket_calls] == ["/run/d.sock"]
    assert host.socket_calls[0][1].startswith(b"DELETE /containers/drove-app-t1-0?force=1&v=1 ")
    assert host.asked == []  # no command at all
    eng.store.close()


@pytest.mark.parametrize(
    "answer",
    [
        MISSING,  # gone already, or the socket is another daemon's than docker's own
        b'HTTP/1.1 409 Conflict\r\n\r\n{"message":"removal in progress"}',
        b"garbage",
        CommandTimeout("h1", "no answer"),
        SocketRefused("h1", "administratively prohibited"),
    ],
)
async def test_any_doubt_about_the_socket_is_settled_by_the_remove_script(
    tmp_path: Path, answer: bytes | Exception
) -> None:
    host = Host(answer, REMOVED)
    eng = engine_with(tmp_path, host)
    probed(eng, "unix:///var/run/docker.sock")
    assert await remove(eng) == (True, "")
    assert len(host.scripts()) == 1
    assert await remove(eng) == (True, "")  # the socket is still tried next time
    assert len(host.socket_calls) == 2 and len(host.scripts()) == 1
    eng.store.close()


@pytest.mark.parametrize(
    ("docker", "endpoint"),
    [
        ("docker", None),
        ("sudo docker", "unix:///var/run/docker.sock"),
        ("docker", "tcp://10.1.1.1:2375"),
    ],
)
async def test_without_a_known_socket_the_script_removes(
    tmp_path: Path, docker: str, endpoint: str | None
) -> None:
    host = Host()
    eng = engine_with(tmp_path, host, docker=docker)
    probed(eng, endpoint)
    assert await remove(eng) == (True, "")
    assert host.socket_calls == [] and len(host.scripts()) == 1
    eng.store.close()


async def test_the_scripts_failure_is_dockers_words_and_no_such_container_is_removed(
    tmp_path: Path,
) -> None:
    said = {"text": "Error response from daemon: removal of container is already in progress"}
    host = Host()
    host.answer = lambda line: RunResult(1, b"", said["text"].encode())
    eng = engine_with(tmp_path, host)
    assert await remove(eng) == (False, said["text"])
    said["text"] = "Error response from daemon: No such container: drove-app-t1-0"
    assert await remove(eng) == (True, said["text"])
    eng.store.close()
