"""`drove-tui hosts ...` wiring, on the built-in localhost inventory (local transport)."""

from __future__ import annotations

import json

import pytest

from drove_tui.cli import build_parser, main
from drove_tui.commands import hosts


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
