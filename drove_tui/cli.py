"""The headless front door: `drove-tui --run SPEC`, the subcommands, and the launcher of the TUI.

Never imports Textual (import-linter contract + tests/unit/test_headless_imports.py). Heavy
modules are imported inside handlers so that `--help` and `spec validate` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from drove_tui.errors import DroveError, ExitCode

TYPE_CHECKING = False  # annotations only: `--run` never imports typing (see warm.py)
if TYPE_CHECKING:
    from typing import NoReturn

# Subcommand modules under drove_tui.commands; each has register(subparsers, common).
COMMAND_MODULES = ("spec", "inventory", "hosts", "tasks")

EPILOG = """examples:
  drove-tui --run examples/hello.yaml -i inventory.yaml      run one task, stream its logs
  drove-tui --run spec.yaml --fan-out 'tag:web' --parallel 4  one task per matching host
  drove-tui tasks list --state RUNNING                        what the store knows
  drove-tui -i inventory.yaml                                 open the terminal app
"""


# One example per command, shown at the end of its --help. A command module may set its own
# epilog; these fill in where it has none, so every --help ends with a runnable line.
EXAMPLES: dict[str, str] = {
    "spec": "drove-tui spec validate job.yaml",
    "spec validate": "drove-tui spec validate job.yaml other.json --json",
    "spec schema": "drove-tui spec schema > task-spec.schema.json",
    "inventory": "drove-tui inventory show -i inventory.yaml 'web,!host3'",
    "inventory show": "drove-tui inventory show -i inventory.yaml 'tag:gpu' --json",
    "hosts": "drove-tui hosts probe -i inventory.yaml web",
    "hosts list": "drove-tui hosts list -i inventory.yaml --json",
    "hosts probe": "drove-tui hosts probe -i inventory.yaml 'web,!host3'",
    "hosts trust": "drove-tui hosts trust -i inventory.yaml host3 --yes",
    "tasks": "drove-tui tasks list --state RUNNING",
    "tasks list": "drove-tui tasks list --state RUNNING --app ci --json",
    "tasks show": "drove-tui tasks show ci migrate --json | jq .taskResult",
    "tasks history": "drove-tui tasks history ci migrate",
    "tasks delete": "drove-tui tasks delete ci migrate",
    "tasks prune": "drove-tui tasks prune --older-than 7d",
    "tasks logs": "drove-tui tasks logs ci migrate -f --tail 100",
    "tasks kill": "drove-tui tasks kill ci migrate --wait",
    "tasks wait": 'drove-tui tasks wait ci migrate; echo "exit code $?"',
}


def add_examples(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Give every sub-command without an epilog its example from EXAMPLES."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            key = " ".join((*path, name))
            if not sub.epilog and key in EXAMPLES:
                sub.epilog = f"example:\n  {EXAMPLES[key]}"
                sub.formatter_class = argparse.RawDescriptionHelpFormatter
            add_examples(sub, (*path, name))


def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after any subcommand (SUPPRESS keeps a sub-parser from
    overwriting a value given at the top level with its default)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-i",
        "--inventory",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="inventory file (native YAML, Ansible YAML/INI); default: DROVE_TUI_INVENTORY, "
        "else the local host only",
    )
    common.add_argument(
        "--state",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="state file; default: DROVE_TUI_STATE, else $XDG_STATE_HOME/drove-tui/state.db",
    )
    return common


class _DoubtError(Exception):
    """The short parser of a `--run` line met something it does not know."""


class _RunParser(argparse.ArgumentParser):
    """The root parser without the commands: on any error the whole parser parses again and
    says it in its own words."""

    def error(self, message: str) -> NoReturn:
        raise _DoubtError(message)


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The root parser; without `commands`, only what `--run` needs (none of the command
    modules is imported: a warm run starts sooner)."""
    common = common_options()
    parser = (argparse.ArgumentParser if commands else _RunParser)(
        prog="drove-tui",
        description="Agentless cluster manager for short-lived container tasks (Drove's task "
        "model). With no command it opens the terminal app.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
        # The short parser takes no abbreviation (`--he` is --help): the whole one does.
        allow_abbrev=commands,
    )
    parser.add_argument("--version", action="version", version=_version())
    run = parser.add_argument_group("headless run (see docs/cli.md)")
    run.add_argument("--run", metavar="SPEC", help="run one task from a spec file ('-' = stdin)")
    run.add_argument("--fan-out", metavar="PATTERN", help="one task per host matching PATTERN")
    run.add_argument("--parallel", type=int, metavar="N", help="at most N fan-out hosts at once")
    run.add_argument("--fail-fast", action="store_true", help="stop scheduling after a failure")
    run.add_argument("--detach", action="store_true", help="return once the task is RUNNING")
    run.add_argument(
        "--json",
        action="store_true",
        help="JSON lines instead of human text (before a command: that command's --json)",
    )
    run.add_argument("--timeout", metavar="DURATION", help="operation timeout, e.g. '5 minutes'")
    run.add_argument(
        "--kill-on-interrupt", action="store_true", help="Ctrl-C kills the task (default: detach)"
    )
    run.add_argument(
        "--no-warm",
        action="store_true",
        help="run in this process, not on the warm server (also DROVE_TUI_WARM=0)",
    )
    if not commands:
        parser.set_defaults(command=None)
        return parser
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"drove_tui.commands.{name}")
        module.register(subparsers, common)
    add_examples(parser)
    return parser


def _version() -> str:
    from drove_tui import __version__

    return f"drove-tui {__version__}"


def parse(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parsed command line. A plain `--run` line (no command name, no help) is parsed
    without the commands; anything else, or anything that parser doubts, by the whole one."""
    if any(a == "--run" or a.startswith("--run=") for a in argv) and not any(
        a in COMMAND_MODULES or a in ("-h", "--help") for a in argv
    ):
        short = build_parser(commands=False)
        try:
            return short, short.parse_args(argv)
        except _DoubtError:
            pass
    parser = build_parser()
    return parser, parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    parser, args = parse(sys.argv[1:] if argv is None else list(argv))
    if args.run is not None and args.command:
        parser.error(
            f"--run SPEC runs a task; it cannot be combined with the {args.command!r} command"
        )
    run_only = (
        "fan_out",
        "parallel",
        "detach",
        "fail_fast",
        "timeout",
        "kill_on_interrupt",
        "no_warm",
    )
    if args.run is None and not args.command and any(getattr(args, f) for f in (*run_only, "json")):
        parser.error(
            "--fan-out, --parallel, --detach, --json, --fail-fast, --timeout, "
            "--kill-on-interrupt and --no-warm need --run SPEC"
        )
    if args.run is None and args.command:
        from drove_tui.commands import refuse_run_options_before

        refuse_run_options_before(parser, args, (*run_only, "json"))
    try:
        if args.run is not None:
            from drove_tui.commands import warm

            warm_code = warm.run(args)
            if warm_code is not None:
                return warm_code
            from drove_tui.commands import run

            return run.run(args)
        if getattr(args, "handler", None) is not None:
            code: int = args.handler(args)
            return code
        # The TUI is loaded by name so that the headless path never imports Textual.
        app = importlib.import_module("drove_tui.tui.app")
        tui_code: int = app.run_app(args)
        return tui_code
    except DroveError as err:
        print(f"drove-tui: {err}", file=sys.stderr)
        return int(err.exit_code)
    except KeyboardInterrupt:
        print("drove-tui: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    raise SystemExit(main())
