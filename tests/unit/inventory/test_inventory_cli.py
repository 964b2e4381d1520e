"""`drove-tui inventory show`: the table, JSON, and -i before or after the subcommand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drove_tui.cli import main

NATIVE = Path(__file__).parent / "equivalent" / "native.yaml"


@pytest.mark.parametrize(
    "argv",
    [
        ["-i", str(NATIVE), "inventory", "show", "--json", "web"],
        ["inventory", "-i", str(NATIVE), "show", "--json", "web"],
        ["inventory", "show", "--json", "web", "-i", str(NATIVE)],
    ],
)
def test_inventory_flag_works_before_and_after_the_subcommand(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["source"] == str(NATIVE)
    assert [h["name"] for h in document["hosts"]] == ["host1", "host2"]
    assert document["settings"]["probe_interval_s"] == 5


def test_show_prints_a_table_of_resolved_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "show", "-i", str(NATIVE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESS", "PORT", "USER", "CONN", "GROUPS", "TAGS"]
    assert lines[2].split() == [
        "host2",
        "127.0.0.12",
        "2222",
        "drove",
        "ssh",
        "gpu,web",
        "zone=a,gpu",
    ]
    assert lines[-1] == f"3 host(s) from {NATIVE}"


def test_show_without_inventory_is_the_local_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "show"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:5] == ["localhost", "127.0.0.1", "22", "-", "local"]


def test_bad_pattern_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "show", "-i", str(NATIVE), "nosuch"]) == 2
    assert "'nosuch' matches no host" in capsys.readouterr().err


def test_directory_given_as_inventory_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inventory", "show", "-i", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a directory, not an inventory file" in capsys.readouterr().err


def test_show_table_is_pinned_byte_for_byte(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "show", "-i", str(NATIVE)]) == 0
    assert capsys.readouterr().out == (
        "NAME   ADDRESS     PORT  USER   CONN   GROUPS   TAGS\n"
        "host1  127.0.0.11  2222  drove  ssh    web      zone=a\n"
        "host2  127.0.0.12  2222  drove  ssh    gpu,web  zone=a,gpu\n"
        "host3  127.0.0.13  2222  drove  local  -        -\n"
        f"\n3 host(s) from {NATIVE}\n"
    )
