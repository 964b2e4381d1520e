"""Inputs a pre-landing review found to crash or to be silently misread: each is now refused
with one sentence and exit 2, before any host or store is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drove_tui.cli import main

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "hello.yaml")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--run", EXAMPLE, "spec", "validate", EXAMPLE], "cannot be combined with the 'spec'"),
        (["--timeout", "5s"], "need --run SPEC"),
        (["--parallel", "2"], "need --run SPEC"),
        (["--kill-on-interrupt"], "need --run SPEC"),
    ],
)
def test_run_flags_without_run_or_with_a_command_are_refused(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("children.yaml", "all:\n  children: [web]\n", "children is a mapping of groups"),
        ("top.yaml", "all: [1]\n", "a group is a mapping"),
        ("vars.yaml", "all:\n  vars: 5\n", "vars is a mapping"),
        ("tags.ini", "[web]\nh1 drove_tags={a\n", "drove_tags"),
        ("huge.ini", "[web]\nh[0:9999999]\n", "at most 10000 hosts"),
        ("backwards.ini", "[web]\nh[5:1]\n", "FIRST <= LAST"),
    ],
)
def test_malformed_ansible_inventories_are_refused_with_the_place(
    tmp_path: Path, name: str, text: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert main(["-i", str(path), "inventory", "show"]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert name in err


def test_a_pattern_of_only_commas_selects_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("hosts:\n  - {name: a, address: 127.0.0.1}\n")
    assert main(["-i", str(path), "inventory", "show", ","]) == 2
    assert "names no host" in capsys.readouterr().err


def test_a_rule_nested_too_deeply_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = yaml.safe_load(Path(EXAMPLE).read_text())
    spec["placementPolicy"] = {"type": "RULE_BASED", "rule": "(" * 400 + "true" + ")" * 400}
    path = tmp_path / "deep.yaml"
    path.write_text(yaml.safe_dump(spec))
    code = main(["spec", "validate", str(path)])
    out = capsys.readouterr()
    assert code == 2, out
    assert "nested too deeply" in out.err + out.out
    assert "Traceback" not in out.err + out.out


def test_tasks_list_with_a_mistyped_state_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "--state", "RUNNIN"]) == 2
    assert "neither a task state" in capsys.readouterr().err
