"""Rebinding keys through the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from drove_tui.errors import InvalidInput
from drove_tui.tui.keymap import ALL_KEYS, BINDING_IDS, load_keymap


def test_missing_file_means_no_overrides(tmp_path: Path) -> None:
    assert load_keymap(tmp_path / "keys.yaml") == {}


def test_file_maps_binding_ids_to_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("tasks.kill: ctrl+x\nlogs.search: f3\n")
    assert load_keymap(path) == {"tasks.kill": "ctrl+x", "logs.search": "f3"}


def test_unknown_binding_id_names_file_and_id(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("tasks.kill: x\ntasks.explode: x\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml:2: unknown binding id 'tasks.explode'"):
        load_keymap(path)


def test_broken_yaml_is_one_sentence_naming_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("tasks.kill: [\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml:2:1: YAML syntax error"):
        load_keymap(path)


def test_a_binding_id_given_twice_is_refused_naming_file_line_and_id(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("tasks.kill: ctrl+x\nlogs.search: f3\ntasks.kill: x\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml:3: tasks.kill: the key appears twice"):
        load_keymap(path)


def test_an_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, prev in zip("bcdef", "abcde", strict=True):
        rows.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    path = tmp_path / "keys.yaml"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml: the document expands to more than"):
        load_keymap(path)


def test_an_empty_file_means_no_overrides(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.touch()
    assert load_keymap(path) == {}


def test_a_value_that_is_not_a_key_string_names_the_line_and_id(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("logs.search: f3\ntasks.kill: 3\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml:2: 'tasks.kill' must be a key string"):
        load_keymap(path)


def test_binding_ids_are_unique() -> None:
    assert len(BINDING_IDS) == len(ALL_KEYS)


def test_every_binding_id_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "tui.md").read_text()
    missing = [k.id for k in ALL_KEYS if f"`{k.id}`" not in doc]
    assert missing == []


def test_a_key_config_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_bytes(b"tasks.kill: \xff\xfe\n")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_keymap(path)
