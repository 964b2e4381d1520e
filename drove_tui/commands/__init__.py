"""Headless subcommands.

Each module exposes register(subparsers, common) and never imports Textual.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # annotations only: a warm `--run` never imports typing (see warm.py)
if TYPE_CHECKING:
    from typing import Any

Handler = Callable[[argparse.Namespace], int]


class CommandGroup:
    """One command group (`tasks`, `hosts`, ...) and the way every command joins it: with the
    common options, its one-line help as the description of its own --help, and a handler."""

    def __init__(
        self,
        subparsers: Any,
        common: argparse.ArgumentParser,
        name: str,
        text: str,
        description: str | None = None,
    ) -> None:
        self.common = common
        group = subparsers.add_parser(
            name, help=text, description=description or text, parents=[common]
        )
        self.commands = group.add_subparsers(
            dest=f"{name}_command", metavar="COMMAND", required=True
        )

    def add(
        self,
        name: str,
        handler: Handler,
        text: str,
        parent: argparse.ArgumentParser | None = None,
    ) -> argparse.ArgumentParser:
        """The command `name`, running `handler`; `parent` replaces the common options."""
        parser: argparse.ArgumentParser = self.commands.add_parser(
            name, help=text, description=text, parents=[parent or self.common]
        )
        parser.set_defaults(handler=handler)
        return parser


def add_json_option(parser: argparse.ArgumentParser, text: str) -> None:
    """A command's `--json`. It shares its destination with the root's `--json`, so that
    `drove-tui --json tasks list` works as `drove-tui tasks list --json` does; a default here
    would overwrite the root's value (argparse copies a sub-parser's defaults over it)."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=text)


def chosen_command(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[str, argparse.ArgumentParser]:
    """The command `args` ran ("tasks list") and its own parser."""
    path: list[str] = []
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if name is None:
            return " ".join(path), parser
        path.append(name)
        parser = subs[0].choices[name]


def refuse_run_options_before(
    parser: argparse.ArgumentParser, args: argparse.Namespace, dests: Sequence[str]
) -> None:
    """A --run option given before a command is refused, never silently ignored; `--json`
    is not one when the command has a --json of its own (the two share the destination)."""
    name, command = chosen_command(parser, args)
    own = {option for action in command._actions for option in action.option_strings}
    given = [
        flag
        for dest in dests
        if getattr(args, dest) != parser.get_default(dest)
        and (flag := "--" + dest.replace("_", "-")) not in own
    ]
    if given:
        one = len(given) == 1
        parser.error(
            f"{', '.join(given)} {'is not an option' if one else 'are not options'} of the "
            f"{name!r} command (see `drove-tui {name} --help`); leave {'it' if one else 'them'} out"
        )
