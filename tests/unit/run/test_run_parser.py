"""A `--run` line is parsed without the command modules (a warm run starts sooner), to the
same result as the whole parser, which still speaks for every line it doubts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from drove_tui import cli

LINES = [
    ["--run", "s.yaml"],
    ["--run=s.yaml", "--json"],
    ["-i", "inv.yaml", "--run", "s.yaml", "--state", "st.db"],
    ["--run", "s.yaml", "--fan-out", "web", "--parallel", "2", "--fail-fast", "-i", "inv.yaml"],
    ["--run", "-", "--detach", "--timeout", "5 minutes", "--kill-on-interrupt", "--no-warm"],
    ["--run", "s.yaml", "--fan", "web", "--inv", "inv.yaml"],  # abbreviations: the whole parser
]


@pytest.mark.parametrize("argv", LINES, ids=" ".join)
def test_a_run_line_parses_alike_without_the_commands(argv: list[str]) -> None:
    parser, args = cli.parse(argv)
    assert isinstance(parser, cli._RunParser) == ("--fan" not in argv)
    assert vars(args) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--run", "s.yaml", "extra"],  # a stray word
        ["--run", "s.yaml", "--parallel", "two"],  # not a number
        ["--run"],  # no spec
        ["--run", "s.yaml", "--bogus"],
    ],
    ids=" ".join,
)
def test_a_doubtful_run_line_gets_the_whole_parsers_words(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as short:
        cli.parse(argv)
    said = capsys.readouterr().err
    with pytest.raises(SystemExit) as whole:
        cli.build_parser().parse_args(argv)
    assert short.value.code == whole.value.code == 2
    assert said == capsys.readouterr().err
    assert said.startswith("usage: drove-tui [-h]") and "COMMAND" in said


@pytest.mark.parametrize("flag", ["--help", "--he", "-h"])
def test_help_on_a_run_line_is_the_whole_help(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.parse(["--run", "s.yaml", flag])
    assert done.value.code == 0
    assert "tasks" in capsys.readouterr().out  # the commands are listed


def test_a_run_line_with_a_command_takes_the_whole_parser() -> None:
    parser, args = cli.parse(["--run", "s.yaml", "tasks", "list"])
    assert not isinstance(parser, cli._RunParser)
    assert (args.run, args.command) == ("s.yaml", "tasks")  # main() then refuses the mix


def test_a_run_line_imports_no_command_module_and_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        "from drove_tui import cli\n"
        "cli.parse(['--run', 's.yaml', '-i', 'inv.yaml'])\n"
        "import drove_tui.commands.warm\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    commands = [m for m in loaded if m.startswith("drove_tui.commands.")]
    assert commands == ["drove_tui.commands.warm"]
    # Each of these costs a warm run 5 to 20 ms of start (python -X importtime).
    assert [m for m in ("typing", "dataclasses", "inspect", "subprocess") if m in loaded] == []
