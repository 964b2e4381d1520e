"""`drove-tui hosts ...` wiring, on the built-in localhost inventory (local transport)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drove_tui.cli import build_parser, main
from drove_tui.commands import hosts
from drove_tui.models.host import HostFacts, HostState, HostStatus, NumaNode


def test_the_hosts_subcommands_are_registered_with_their_handlers() -> None:
    parser = build_parser()
    assert parser.parse_args(["hosts", "list", "--json"]).handler is hosts.list_hosts
    assert parser.parse_args(["hosts", "probe", "web"]).handler is hosts.probe_hosts
    trust = parser.parse_args(["hosts", "trust", "host1", "--yes", "-i", "inv.yaml"])
    assert (trust.handler, trust.yes, trust.inventory) == (hosts.trust_hosts, True, "inv.yaml")


def test_hosts_list_json_reports_this_machine_probed_locally(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DROVE_TUI_INVENTORY", raising=False)
    assert main(["hosts", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["name"] == "localhost"
    assert row["state"] in ("ONLINE", "DOCKER_DOWN")  # docker may or may not run here
    assert row["facts"]["cores"] >= 1
    assert row["capacity"][0]["cores_total"] == len(row["facts"]["numa"][0]["cores"])


def test_an_unknown_pattern_is_invalid_input_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DROVE_TUI_INVENTORY", raising=False)
    assert main(["hosts", "probe", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_hosts_list_table_is_pinned_byte_for_byte(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "hosts:\n  - {name: alpha, address: 127.0.0.1}\n  - {name: b, address: 127.0.0.2}\n"
    )
    facts = HostFacts(
        cores=4,
        numa=[
            NumaNode(id=0, cores=[0, 1], memory_mb=2048),
            NumaNode(id=1, cores=[2, 3], memory_mb=2048),
        ],
        memory_total_mb=4096,
        memory_available_mb=4000,
        arch="x86_64",
        kernel="6.1",
        docker_version="24.0.7",
    )
    statuses = [
        HostStatus(name="alpha", state=HostState.ONLINE, facts=facts),
        HostStatus(name="b", state=HostState.UNREACHABLE, reason="connection refused"),
    ]

    async def probed(*_: object) -> list[HostStatus]:
        return statuses

    monkeypatch.setattr(hosts, "_probe_all", probed)
    monkeypatch.setenv("DROVE_TUI_STATE", str(tmp_path / "none.db"))
    assert main(["hosts", "list", "-i", str(inventory)]) == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "NAME   STATE        CORES FREE/TOTAL  MEMORY FREE/TOTAL  TASKS  FOREIGN  DOCKER  AGE\n"
        "alpha  ONLINE       n0:2/2 n1:2/2     4096/4096 MB       0      0        24.0.7  -\n"
        "b      UNREACHABLE  -                 -                  -      -        -       -\n"
    )
    assert captured.err == "b: connection refused\n"
