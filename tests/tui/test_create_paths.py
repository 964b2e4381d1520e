"""Completing a spec path in the create and fan-out dialogs."""

from __future__ import annotations

from pathlib import Path

import pytest

from drove_tui.tui.screens._create import complete_path


def test_path_completion_offers_the_matching_file_and_folders_with_a_slash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "hello.yaml").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert complete_path("sp") == "specs/"
    assert complete_path("specs/he") == "specs/hello.yaml"
    assert complete_path(f"{tmp_path}/specs/h") == f"{tmp_path}/specs/hello.yaml"
    assert complete_path("nothing-like-this") is None
