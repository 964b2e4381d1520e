"""docs/cli.md is checked against the parser: every command and every option is documented
in that command's own section, and every exit code of errors.ExitCode is in the table."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from drove_tui.cli import build_parser, common_options
from drove_tui.errors import ExitCode

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (command path, parser) pair, the root first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        opt
        for action in parser._actions
        for opt in action.option_strings
        if opt not in ("-h", "--help")
    ]


def section(doc: str, path: tuple[str, ...]) -> str:
    """The text under the heading that names `drove-tui <path>` in backticks."""
    title = " ".join(("drove-tui", *path))
    heading = re.compile(rf"^(#+) `{re.escape(title)}( [^`]*)?`\s*$", re.MULTILINE)
    match = heading.search(doc)
    assert match, f"docs/cli.md has no heading for `{title}`"
    level = len(match.group(1))
    rest = doc[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_every_command_and_option_of_the_parser_is_in_docs_cli_md() -> None:
    doc = DOC.read_text()
    common = set(options(common_options()))
    missing = [
        f"{' '.join(('drove-tui', *path))} {opt}"
        for path, parser in commands(build_parser())
        for opt in options(parser)
        if opt not in common and not mentions(section(doc, path), opt)
    ]
    assert missing == []


def test_options_every_command_accepts_are_documented_once_up_front() -> None:
    doc = DOC.read_text()
    preamble = doc[: doc.index("## `drove-tui`")]
    assert "## Options every command accepts" in preamble
    for opt in options(common_options()):
        assert mentions(preamble, opt), opt


def test_every_exit_code_is_in_the_table() -> None:
    doc = DOC.read_text()
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", doc, re.MULTILINE), code.name


def test_section_finder_rejects_an_undocumented_command() -> None:
    with pytest.raises(AssertionError, match="nosuch"):
        section("# `drove-tui`\n", ("nosuch",))


def test_every_command_help_ends_with_an_example() -> None:
    lacking = [
        " ".join(("drove-tui", *path))
        for path, parser in commands(build_parser())
        if "example" not in parser.format_help()
    ]
    assert lacking == []
