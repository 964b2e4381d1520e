"""Every malformed spec in corpus/ exits 2 with a message naming the place; none tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drove_tui.cli import main

CORPUS = Path(__file__).parent / "corpus"

# file -> a fragment the message must contain (the field path, or the file:line:column).
EXPECTED = {
    "alias-inside-itself.yaml": "alias-inside-itself.yaml: the document contains itself "
    "through a YAML alias",
    "billion-laughs.yaml": "billion-laughs.yaml: the document expands to more than 200000 values",
    "deep-nesting.json": "deep-nesting.json: the document is nested too deeply",
    "deep-nesting.yaml": "deep-nesting.yaml: the document is nested too deeply",
    "app-name-with-space.yaml": "app-name-with-space.yaml:1: sourceAppName: given 'my app'",
    "args-is-string.yaml": "args: given 'echo hi'",
    "args-too-long.json": "args: the arguments joined are 2105 characters; at most 2048",
    "binary-garbage.bin": "binary-garbage.bin: the task spec file is binary",
    "composite-bad-combiner.yaml": "placementPolicy.combiner: given 'XOR'",
    "composite-empty.yaml": "placementPolicy.policies: given []",
    "composite-nested-local.yaml": "placementPolicy.policies[1].policies[0]: Local service "
    "placement is not allowed for tasks",
    "composite-nested-match-tag-without-tag.yaml": "placementPolicy.policies[0].tag: is missing",
    "config-unknown-type.yaml": "configs[0]: type 'S3' is not known",
    "cpu-count-word.json": "resources[0].count: given 'two'",
    "cpu-count-zero.yaml": "resources[0].count: given 0",
    "create-bad-failure-strategy.json": "opSpec.failureStrategy: given 'RETRY'",
    "create-bad-parallelism.json": "opSpec.parallelism: given 1000",
    "create-bad-timeout.json": "opSpec.timeout: '5 moons' has an unknown time unit",
    "create-missing-spec.json": "spec: is missing",
    "create-spec-error.json": "spec.taskId: given 'a/b'",
    "device-bad-permissions.yaml": "devices[0].permissions: given 'EXECUTE'",
    "duplicate-key.yaml": "duplicate-key.yaml:3: taskId: the key appears twice",
    "duration-is-number.json": "executable.dockerPullTimeout: 100 is not a duration",
    "duration-no-number.yaml": "executable.dockerPullTimeout: 'soon' is not a duration",
    "duration-unknown-unit.yaml": "executable.dockerPullTimeout: '100 fortnights'",
    "empty-task-id.yaml": "taskId: given ''",
    "empty.yaml": "empty.yaml: the task spec file is empty",
    "env-is-list.yaml": "env: given ['A=1']",
    "env-nested-value.yaml": "env.A: given {'b': 1}",
    "executable-missing-url.yaml": "executable.url: is missing",
    "executable-unknown-field.json": "executable.pullPolicy: is not a known field; allowed here: "
    "type, url, dockerPullTimeout",
    "executable-wrong-type.yaml": "executable.type: given 'RKT'",
    "http-fetch-bad-port.json": "configs[0].http.port: given 70000",
    "http-fetch-bad-timeout.yaml": "configs[0].http.connectionTimeout: '1 eon'",
    "http-fetch-bad-verb.yaml": "configs[0].http.verb: given 'DELETE'",
    "http-fetch-missing-hostname.yaml": "configs[0].http.hostname: is missing",
    "inline-bad-base64.yaml": "configs[0].data: given 'not base64!'; is not valid base64",
    "inline-missing-filename.json": "configs[0].localFilename: is missing",
    "json-trailing-comma.json": "json-trailing-comma.json:4:1: JSON syntax error",
    "kill-operation.json": "KILL operation, not a task spec; use `drove-tui tasks kill",
    "latin1-text.yaml": "latin1-text.yaml: the task spec file is not UTF-8 text",
    "logging-bad-max-size.yaml": "logging.maxSize: given 'ten megs'",
    "logging-max-files-zero.yaml": "logging.maxFiles: given 0",
    "logging-unknown-type.yaml": "logging: type 'FILE' is not known",
    "max-n-per-host-zero.yaml": "placementPolicy.numContainers: given 0",
    "memory-misspelt.yaml": "resources[1].sizeInMb: is not a known field; allowed here: type, "
    "sizeInMB",
    "missing-executable.yaml": "executable: is missing",
    "missing-source-app-name.yaml": "sourceAppName: is missing",
    "null-document.yaml": "holds one object (sourceAppName, taskId, ...), not nothing",
    "placement-local.yaml": "placementPolicy: Local service placement is not allowed for tasks",
    "placement-unknown-type.yaml": "placementPolicy: type 'SOMEWHERE' is not known",
    "resource-unknown-type.yaml": "resources[0]: type 'GPU' is not known; allowed: 'CPU', 'MEMORY'",
    "resource-without-type.yaml": "resources[0]: has no 'type' field",
    "resources-empty.yaml": "resources: given []",
    "resources-missing.yaml": "resources: is missing",
    "rsyslog-missing-server.yaml": "logging.server: is missing",
    "rule-based-bad-cel.yaml": "placementPolicy.rule: 'cores >= ' is not a valid CEL expression",
    "rule-based-hope.yaml": "placementPolicy.ruleType: given 'HOPE'; HOPE rules are Drove's",
    "rule-based-unknown-name.yaml": "placementPolicy.policies[1].rule: 'core >= 4' uses unknown "
    "name 'core'",
    "scalar-document.yaml": "not a single value (str)",
    "tags-not-a-map.yaml": "tags: given 'prod'",
    "task-id-is-list.json": "taskId: given [1]",
    "top-level-list.json": "holds one object (sourceAppName, taskId, ...), not a list",
    "two-cpu-entries.yaml": "resources: give exactly one CPU entry",
    "two-documents.yaml": "two-documents.yaml:2:1: YAML syntax error: expected a single document",
    "unknown-operation-type.json": "type: given 'UPDATE'",
    "unknown-top-level-field.yaml": "imagePullPolicy: is not a known field",
    "user-spec-empty-user.yaml": "userSpec.user: given ''",
    "volume-bad-mode.yaml": "volumes[0].mode: given 'RW'; should be 'READ_WRITE' or 'READ_ONLY'",
    "volume-missing-host-path.yaml": "volumes[0].pathOnHost: is missing",
    "volumes-not-a-list.yaml": "volumes: given {'pathInContainer': '/d'}",
    "whitespace-only.json": "whitespace-only.json: the task spec file is empty",
    "yaml-bad-indent.yaml": "yaml-bad-indent.yaml:2:9: YAML syntax error",
    # The wording after this is PyYAML's (it differs with and without libyaml).
    "yaml-syntax-error.yaml": "yaml-syntax-error.yaml:5:10: YAML syntax error: while parsing a "
    "flow sequence",
}


def test_every_corpus_file_has_an_expectation_and_there_are_at_least_40() -> None:
    files = sorted(p.name for p in CORPUS.iterdir())
    assert files == sorted(EXPECTED)
    assert len(files) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_spec_exits_2_naming_the_place(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["spec", "validate", str(CORPUS / name)])
    out, err = capsys.readouterr()
    assert code == 2
    assert EXPECTED[name] in err
    assert "Traceback" not in out + err
    assert out == ""


def test_huge_spec_file_is_refused_by_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("sourceAppName: APP\n" + "# padding\n" * 120_000)
    assert main(["spec", "validate", str(huge)]) == 2
    assert "huge.yaml: the task spec file is larger than 1024 KiB" in capsys.readouterr().err


def test_missing_file_and_directory_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["spec", "validate", str(tmp_path / "nope.yaml"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml: no such task spec file" in err
    assert f"{tmp_path}: is a directory" in err


def test_whole_corpus_in_a_real_process_prints_no_traceback() -> None:
    files = [str(CORPUS / name) for name in sorted(EXPECTED)]
    done = subprocess.run(
        [sys.executable, "-m", "drove_tui", "spec", "validate", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.count("drove-tui: ") == len(files)
