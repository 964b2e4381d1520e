"""Containers another store placed are foreign: the engine and `hosts list` tell them apart
from this store's own (issue #6)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from drove_tui.commands import hosts
from drove_tui.engine.engine import Engine
from drove_tui.engine.store import SqliteStore
from drove_tui.models.host import HostFacts, HostState, HostStatus, ManagedContainer, NumaNode
from drove_tui.models.inventory import HostConfig, Inventory


def container(task: str, owner: str | None) -> ManagedContainer:
    return ManagedContainer(
        name=f"drove-app-{task}-0",
        container_id=task,
        app="app",
        task_id=task,
        instance_id=f"app-{task}-0",
        running=True,
        cores=[0],
        memory_mb=64,
        owner=owner,
    )


def online(owners: list[str | None]) -> HostStatus:
    facts = HostFacts(
        cores=2,
        numa=[NumaNode(id=0, cores=[0, 1], memory_mb=1024)],
        memory_total_mb=1024,
        memory_available_mb=1024,
        arch="x86_64",
        kernel="6",
        docker_version="26",
        containers=[container(f"t{i}", owner) for i, owner in enumerate(owners)],
    )
    return HostStatus(name="h1", state=HostState.ONLINE, facts=facts, last_ok=1.0)


async def test_engine_lists_only_other_stores_containers_as_foreign(tmp_path: Path) -> None:
    inv = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1")])
    eng = Engine(inv, SqliteStore.open(tmp_path / "state.db"))
    try:
        assert eng.foreign("h1") == []  # never probed: nothing known
        mine = eng.store.store_id
        eng.watch._status["h1"] = online([mine, "other-store", None, mine])
        assert [c.task_id for c in eng.foreign("h1")] == ["t1", "t2"]
    finally:
        await eng._close()


def test_split_counts_own_and_foreign_containers() -> None:
    assert hosts.split_by_owner(online(["me", "you", "me", None]), "me") == (2, 2)
    # With no store at the state path nothing is ours.
    assert hosts.split_by_owner(online(["me", "you"]), None) == (0, 2)
    down = HostStatus(name="h1", state=HostState.UNREACHABLE, reason="refused: no")
    assert hosts.split_by_owner(down, "me") is None


def test_hosts_list_shows_own_and_foreign_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.db"
    store = SqliteStore.open(state)
    mine = store.store_id
    store.close()

    async def probed(*_: object) -> list[HostStatus]:
        return [online([mine, "other-store", "other-store"])]

    monkeypatch.setattr(hosts, "_probe_all", probed)
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  - {name: h1, address: 127.0.0.1}\n")
    args = argparse.Namespace(inventory=str(inv), state=str(state), pattern=None, json=True)
    assert hosts.list_hosts(args) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["store_id"], row["containers_ours"], row["containers_foreign"]) == (mine, 1, 2)

    args.json = False
    assert hosts.list_hosts(args) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[-4:] == ["TASKS", "FOREIGN", "DOCKER", "AGE"]
    assert line.split()[-4:-2] == ["1", "2"]


def test_hosts_list_does_not_create_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def probed(*_: object) -> list[HostStatus]:
        return [online(["someone"])]

    monkeypatch.setattr(hosts, "_probe_all", probed)
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  - {name: h1, address: 127.0.0.1}\n")
    state = tmp_path / "none.db"
    args = argparse.Namespace(inventory=str(inv), state=str(state), pattern=None, json=True)
    assert hosts.list_hosts(args) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["containers_ours"], row["containers_foreign"]) == (0, 1)
    assert not state.exists()
