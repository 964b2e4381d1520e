"""The spec models accept Drove's own specs unchanged and keep Drove's rules."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import yaml

from drove_tui.errors import InvalidInput
from drove_tui.loaders.spec_file import load_spec, load_spec_text
from drove_tui.models.durations import Duration
from drove_tui.models.placement import CompositePlacement, RuleBasedPlacement
from drove_tui.models.spec import InlineConfig, LocalLogging, TaskSpec

EXAMPLES = Path(__file__).parents[3] / "examples"


def test_drove_documentation_sample_validates_unchanged_in_json_and_yaml() -> None:
    from_json = load_spec(EXAMPLES / "drove-sample.json").spec
    from_yaml = load_spec(EXAMPLES / "drove-sample.yaml").spec
    assert from_json == from_yaml
    assert (from_json.source_app_name, from_json.task_id) == ("TEST_APP", "T0012")
    assert from_json.executable.docker_pull_timeout.seconds == 100
    assert (from_json.cpu_count, from_json.memory_mb) == (1, 128)
    # Every field the user wrote comes back out exactly as written.
    original = json.loads((EXAMPLES / "drove-sample.json").read_text())
    dumped = from_json.to_drove_json()
    assert {k: dumped[k] for k in original} == original


def test_every_example_validates() -> None:
    for path in EXAMPLES.iterdir():
        if path.suffix in (".json", ".yaml"):
            load_spec(path)


def test_create_operation_gives_spec_and_op_spec() -> None:
    loaded = load_spec(EXAMPLES / "create-operation.json")
    assert loaded.op_spec is not None
    assert loaded.op_spec.timeout.seconds == 300
    assert loaded.spec.task_id == "hello-op-1"


def test_bare_spec_has_no_op_spec_and_drove_defaults() -> None:
    spec = load_spec(EXAMPLES / "hello.yaml").spec
    loaded = load_spec(EXAMPLES / "hello.yaml")
    assert loaded.op_spec is None
    assert spec.placement_policy.type == "ANY"
    assert spec.effective_logging == LocalLogging(type="LOCAL", max_size="10m", max_files=3)
    bare = TaskSpec.model_validate(
        {
            "sourceAppName": "A",
            "taskId": "B",
            "executable": {"url": "img"},
            "resources": [{"type": "CPU", "count": 2}, {"type": "MEMORY", "sizeInMB": 10}],
        }
    )
    assert bare.executable.type == "DOCKER"
    assert bare.executable.docker_pull_timeout.seconds == 15 * 60


def test_spec_read_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (EXAMPLES / "hello.yaml").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    loaded = load_spec("-")
    assert loaded.source == "<stdin>"
    assert loaded.spec.source_app_name == "HELLO"


def test_all_problems_of_a_file_are_reported_at_once_with_lines() -> None:
    text = "sourceAppName: A\ntaskId: T\nexecutable: {url: x}\nresources:\n  - {type: CPU}\n"
    text += "  - {type: MEMORY, sizeInMB: -1}\nvolumes: 5\n"
    with pytest.raises(InvalidInput) as caught:
        load_spec_text(text, "mine.yaml")
    assert caught.value.details == [
        "mine.yaml:5: resources[0].count: is missing; it is required",
        "mine.yaml:6: resources[1].sizeInMB: given -1; should be greater than or equal to 1",
        "mine.yaml:7: volumes: given 5; should be a valid list",
    ]


def test_yaml_numbers_in_env_are_taken_as_strings_as_drove_does() -> None:
    text = "sourceAppName: A\ntaskId: T\nexecutable: {url: x}\n"
    text += "resources: [{type: CPU, count: 1}, {type: MEMORY, sizeInMB: 1}]\nenv: {CORES: 8}\n"
    assert load_spec_text(text).spec.env == {"CORES": "8"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100 seconds", 100), ("15 minutes", 900), ("1h", 3600), ("2 days", 172800), ("500ms", 0.5)],
)
def test_duration_units_follow_dropwizard(text: str, seconds: float) -> None:
    assert Duration(text).seconds == seconds
    assert str(Duration(text)) == text


def test_args_of_exactly_2048_joined_characters_are_accepted() -> None:
    base = {
        "sourceAppName": "A",
        "taskId": "B",
        "executable": {"url": "img"},
        "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 1}],
    }
    TaskSpec.model_validate({**base, "args": ["a" * 1000, "b" * 1047]})
    with pytest.raises(ValueError, match="2049 characters"):
        TaskSpec.model_validate({**base, "args": ["a" * 1000, "b" * 1048]})


def test_masked_hides_inline_data_http_secrets_and_secret_looking_env() -> None:
    data = base64.b64encode(b"secret!").decode()
    spec = TaskSpec.model_validate(
        {
            "sourceAppName": "A",
            "taskId": "B",
            "executable": {"url": "img"},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 1}],
            "env": {"DB_PASSWORD": "hunter2", "api_token": "t", "HOME_DIR": "/h", "KEEP": ""},
            "configs": [
                {"type": "INLINE", "localFilename": "/f", "data": data},
                {
                    "type": "EXECUTOR_HTTP_FETCH",
                    "localFilename": "/g",
                    "http": {
                        "hostname": "h",
                        "password": "p",
                        "authHeader": "Bearer x",
                        "headers": {"X-Api-Token": "tok-123"},
                    },
                },
            ],
        }
    )
    masked = spec.masked()
    assert masked.env == {
        "DB_PASSWORD": "<masked>",
        "api_token": "<masked>",
        "HOME_DIR": "/h",
        "KEEP": "",
    }
    inline = masked.configs[0]
    assert isinstance(inline, InlineConfig)
    assert inline.data == "<masked: 7 bytes>"
    dumped = json.dumps(masked.to_drove_json())
    assert "hunter2" not in dumped and "Bearer x" not in dumped and data not in dumped
    assert "tok-123" not in dumped and '"X-Api-Token":"<masked>"' in dumped.replace(" ", "")
    # The original is untouched, and a masked spec still loads (the store reads it back).
    assert spec.env["DB_PASSWORD"] == "hunter2"
    assert TaskSpec.model_validate(masked.to_drove_json()) == masked


def test_rules_lists_every_rule_based_policy_with_its_path() -> None:
    spec = load_spec(EXAMPLES / "rule-based.yaml").spec
    assert isinstance(spec.placement_policy, CompositePlacement)
    paths = [path for path, _ in spec.rules]
    assert paths == ["placementPolicy.policies[0]", "placementPolicy.policies[1]"]
    assert all(isinstance(p, RuleBasedPlacement) for _, p in spec.rules)


def test_yaml_and_json_forms_of_a_spec_are_equal() -> None:
    spec = load_spec(EXAMPLES / "rule-based.yaml").spec
    as_yaml = yaml.safe_dump(spec.to_drove_json())
    as_json = json.dumps(spec.to_drove_json())
    assert load_spec_text(as_yaml).spec == load_spec_text(as_json).spec == spec


def test_yaml_syntax_error_says_where_the_unclosed_bracket_began() -> None:
    text = "sourceAppName: APP\ntaskId: T1\nexecutable:\n  url: [unclosed\nresources: []\n"
    with pytest.raises(InvalidInput, match=r"^s.yaml:5:10: YAML syntax error: .*began at line 4"):
        load_spec_text(text, "s.yaml")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    rule = '"[[[[" + "{{{{" + "it\'s" == host'
    deep = "[" * 150  # would be refused as too deep if it were counted
    text = (
        "sourceAppName: A\ntaskId: T\nexecutable: {url: x}\n"
        "resources: [{type: CPU, count: 1}, {type: MEMORY, sizeInMB: 1}]\n"
        f"tags: {{a: '{deep * 3}', b: \"{deep}\"}}\n"
        f"placementPolicy: {{type: RULE_BASED, rule: '{rule.replace(chr(39), chr(39) * 2)}'}}\n"
    )
    assert load_spec_text(text).spec.tags == {"a": deep * 3, "b": deep}


def test_yaml_numbers_and_booleans_where_text_is_needed_are_refused_with_a_hint() -> None:
    text = "sourceAppName: A\ntaskId: 0012\nexecutable: {url: x}\n"
    text += "resources: [{type: CPU, count: 1}, {type: MEMORY, sizeInMB: 1}]\ntags: {on: x}\n"
    with pytest.raises(InvalidInput) as caught:
        load_spec_text(text, "s.yaml")
    # YAML 1.1 reads 0012 as octal 10 and `on` as true: never rename a task silently.
    assert caught.value.details == [
        "s.yaml:2: taskId: given 10; should be a valid string (YAML read it as a number or "
        "boolean: put it in quotes)",
        "s.yaml:5: tags.True: given True; should be a valid string (YAML read it as a number "
        "or boolean: put it in quotes)",
    ]
