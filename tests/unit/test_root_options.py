"""Every option of the root parser, given before every command, through the real main().

Before a command an option either means what it means after the command (-i, --state, and
--json where the command has a --json) or is refused with one sentence and exit 2 (the --run
options), never silently dropped. A new root option must be given its row in EXPECT.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest

from drove_tui import cli
from drove_tui.cli import main
from tests.unit.run.test_run_cli_docs import commands

ROOT = cli.build_parser()
LEAVES = [path for path, parser in commands(ROOT) if parser.get_default("handler")]
OWN_PARSER = dict(commands(ROOT))

# Root option -> what it does before a command: "same" (the command sees the value),
# "same if own" (the same when the command has that option, else refused), "refused", or
# "version" (argparse prints the version and exits before any command runs).
EXPECT = {
    "--inventory": "same",
    "--state": "same",
    "--json": "same if own",
    "--run": "refused",
    "--fan-out": "refused",
    "--parallel": "refused",
    "--fail-fast": "refused",
    "--detach": "refused",
    "--timeout": "refused",
    "--kill-on-interrupt": "refused",
    "--no-warm": "refused",
    "--version": "version",
}
VALUES = {"--parallel": "2", "--run": "job.yaml"}


def root_options() -> dict[str, argparse.Action]:
    return {
        action.option_strings[-1]: action
        for action in ROOT._actions
        if action.option_strings and action.dest != "help"
    }


def required_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Placeholders for what the command cannot parse without (APP TASK, FILE, --older-than)."""
    argv: list[str] = []
    for action in parser._actions:
        if not action.option_strings and action.nargs not in ("?", "*"):
            argv.append("x")
        elif action.required:
            argv += [action.option_strings[-1], "1d"]
    return argv


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    """Every command's handler replaced by one that records the parsed arguments."""
    seen: list[argparse.Namespace] = []

    def record(args: argparse.Namespace) -> int:
        seen.append(args)
        return 0

    real: Callable[[], argparse.ArgumentParser] = cli.build_parser

    def build() -> argparse.ArgumentParser:
        parser = real()
        for _, sub in commands(parser):
            if sub.get_default("handler"):
                sub.set_defaults(handler=record)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    return seen


def test_every_root_option_has_a_row() -> None:
    assert sorted(root_options()) == sorted(EXPECT)


def test_every_command_is_covered() -> None:
    assert ("tasks", "list") in LEAVES and ("spec", "schema") in LEAVES and len(LEAVES) >= 14


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
@pytest.mark.parametrize("option", sorted(EXPECT))
def test_a_root_option_before_a_command_is_used_or_refused(
    option: str,
    command: tuple[str, ...],
    calls: list[argparse.Namespace],
    capsys: pytest.CaptureFixture[str],
) -> None:
    action = root_options()[option]
    parser = OWN_PARSER[command]
    given = [option] if action.nargs == 0 else [option, VALUES.get(option, "some.file")]
    argv = [*given, *command, *required_arguments(parser)]
    expect = EXPECT[option]
    own = any(option in a.option_strings for a in parser._actions)
    if expect == "same" or (expect == "same if own" and own):
        assert main(argv) == 0
        (args,) = calls
        wanted: Any = True if action.nargs == 0 else given[1]
        assert getattr(args, action.dest) == wanted
        return
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    assert calls == []
    if expect == "version":
        assert (done.value.code, out.split()[0]) == (0, "drove-tui")
        return
    assert done.value.code == 2
    message = err.splitlines()[-1]
    assert message.startswith("drove-tui: error: ")
    assert option in message and command[0] in message
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command", [p for p in LEAVES if "--json" in OWN_PARSER[p]._option_string_actions], ids=" ".join
)
def test_json_before_after_or_absent(
    command: tuple[str, ...], calls: list[argparse.Namespace]
) -> None:
    rest = required_arguments(OWN_PARSER[command])
    assert main(["--json", *command, *rest]) == 0
    assert main([*command, *rest, "--json"]) == 0
    assert main([*command, *rest]) == 0
    assert [args.json for args in calls] == [True, True, False]


def test_every_command_help_opens_with_what_it_does() -> None:
    lacking = [" ".join(path) for path, parser in commands(ROOT) if path and not parser.description]
    assert lacking == []
