"""`drove-tui tasks ...`: what the store knows about tasks, and the few commands that need the
engine (logs, kill, wait).

list / show / history / delete / prune read and write the store only: they work with every
host down and never contact one. logs / kill / wait open the engine (and so the inventory).

`--state` is the state file everywhere; on `tasks list` a value that is a task state name
(RUNNING, stopped, ...) filters the list instead, so `tasks list --state RUNNING` does what
the issue asks. A state file literally named like a state is given as `./RUNNING`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from drove_tui.commands import CommandGroup, add_json_option

# Literal so that building the parser does not import the models (pydantic); a unit test
# checks it against TaskState.
STATE_NAMES = (
    "PENDING, PROVISIONING, PROVISIONING_FAILED, STARTING, RUNNING, RUN_COMPLETED, "
    "DEPROVISIONING, STOPPED, LOST, UNKNOWN"
)


def _lazy(name: str) -> Callable[[argparse.Namespace], int]:
    """A handler that loads commands.task_actions only when the command runs."""

    def handler(args: argparse.Namespace) -> int:
        from drove_tui.commands import task_actions

        code: int = getattr(task_actions, name)(args)
        return code

    handler.__name__ = name
    return handler


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add `tasks` and its subcommands to the root parser."""
    group = CommandGroup(
        subparsers,
        common,
        "tasks",
        "list, show, follow, kill and forget tasks",
        "Tasks as the store remembers them, and the commands that act on one.",
    )
    add = group.add

    listing = add(
        "list",
        _lazy("cmd_list"),
        "list the tasks in the store, oldest first",
        _without_state(common),
    )
    listing.add_argument(
        "--state",
        action="append",
        dest="list_state",
        metavar="STATE|PATH",
        help=f"a task state ({STATE_NAMES}; any case; repeatable) lists only tasks in it; "
        "any other value is the state file, as for every command",
    )
    listing.add_argument("--app", metavar="APP", help="only tasks of this sourceAppName")
    add_json_option(listing, "a JSON array of Drove TaskInfo")

    show = add("show", _lazy("cmd_show"), "one task as Drove's TaskInfo")
    _task_args(show)
    add_json_option(show, "Drove's TaskInfo JSON")

    history = add(
        "history", _lazy("cmd_history"), "every state change of a task, with time and reason"
    )
    _task_args(history)
    add_json_option(history, "a JSON array of transitions")

    delete = add(
        "delete", _lazy("cmd_delete"), "forget a finished task so its id can be used again"
    )
    _task_args(delete)
    add_json_option(delete, "say what was deleted as JSON")

    prune = add("prune", _lazy("cmd_prune"), "forget finished tasks older than a duration")
    prune.add_argument(
        "--older-than",
        required=True,
        metavar="DURATION",
        help="e.g. 7d, 12h, 30m (m is minutes); tasks that finished longer ago are forgotten",
    )
    add_json_option(prune, '{"pruned": N}')

    logs = add("logs", _lazy("cmd_logs"), "a task's output (kept locally, so also after it ended)")
    _task_args(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--since", metavar="DURATION", help="only lines of the last DURATION")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    add_json_option(logs, "JSON lines")

    kill = add(
        "kill", _lazy("cmd_kill"), "kill a task in any live state (a PENDING one is cancelled)"
    )
    _task_args(kill)
    kill.add_argument("--wait", action="store_true", help="return once the task has ended")
    add_json_option(kill, "the task's TaskInfo as JSON")

    wait = add("wait", _lazy("cmd_wait"), "block until a task ends; exit with its exit code")
    _task_args(wait)
    add_json_option(wait, "the final TaskInfo as JSON")


def _without_state(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The common options minus --state, which `tasks list` redefines (filter or file).

    argparse's conflict_handler="resolve" would edit the shared --state action in place and so
    break it for every other command; a parent without it avoids that.
    """
    parent = argparse.ArgumentParser(add_help=False)
    for action in common._actions:
        if "--state" not in action.option_strings:
            parent._add_action(action)
    return parent


def _task_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", help="the task's sourceAppName")
    parser.add_argument("task", metavar="TASK", help="the task's taskId")
