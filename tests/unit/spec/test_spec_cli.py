"""`spec validate`, `spec schema`: what a person and a script see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drove_tui.cli import main
from drove_tui.commands.spec import schema_text

ROOT = Path(__file__).parents[3]
SCHEMA = ROOT / "schemas" / "task-spec.schema.json"


def test_committed_schema_matches_the_models() -> None:
    # If this fails: drove-tui spec schema > schemas/task-spec.schema.json
    assert SCHEMA.read_text() == schema_text()


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(SCHEMA.read_text())
    assert {"$ref": "#/$defs/TaskSpec"} in schema["anyOf"]
    task = schema["$defs"]["TaskSpec"]
    assert task["additionalProperties"] is False
    assert {"sourceAppName", "taskId", "executable", "resources"} <= set(task["required"])


def test_validate_prints_ok_per_file(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(ROOT / "examples" / n) for n in ("hello.yaml", "create-operation.json")]
    assert main(["spec", "validate", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{files[0]}: OK (task spec HELLO/hello-1)",
        f"{files[1]}: OK (CREATE operation HELLO/hello-op-1)",
    ]


def test_validate_json_reports_each_file_and_exits_2_if_any_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sourceAppName: A\ntaskId: B\n")
    good = str(ROOT / "examples" / "hello.yaml")
    assert main(["spec", "validate", "--json", good, str(bad)]) == 2
    report = json.loads(capsys.readouterr().out)["files"]
    assert report[0] == {"file": good, "ok": True, "sourceAppName": "HELLO", "taskId": "hello-1"}
    assert report[1]["ok"] is False
    assert report[1]["errors"] == [
        f"{bad}:1: executable: is missing; it is required",
        f"{bad}:1: resources: is missing; it is required",
    ]


def _modules_after_validate(path: Path) -> set[str]:
    probe = (
        "import sys\nfrom drove_tui.cli import main\n"
        f"code = main(['spec', 'validate', {str(path)!r}])\n"
        "print(sorted(sys.modules), code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split("'")[1::2])


def test_validating_a_spec_without_rules_does_not_load_the_cel_parser() -> None:
    # Deterministic: asserts on sys.modules, not on time.
    assert "celpy" not in _modules_after_validate(ROOT / "examples" / "hello.yaml")
    assert "celpy" in _modules_after_validate(ROOT / "examples" / "rule-based.yaml")
