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
    path.write_text("tasks.explode: x\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml: unknown binding id 'tasks.explode'"):
        load_keymap(path)


def test_broken_yaml_is_one_sentence_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("tasks.kill: [\n")
    with pytest.raises(InvalidInput, match=r"keys.yaml: not valid YAML"):
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
