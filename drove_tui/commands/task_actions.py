"""The work behind `drove-tui tasks ...`; loaded only when such a command runs.

Kept apart from the parser (commands/tasks.py) so that `drove-tui --help` and the other
commands do not pay for the store, pydantic and the engine's models at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

from drove_tui.commands.output import format_duration, table_lines
from drove_tui.commands.tasks import STATE_NAMES
from drove_tui.engine.events import LogLine
from drove_tui.engine.logs import LogStore
from drove_tui.engine.store import Store, open_store, resolve_state_path
from drove_tui.errors import DroveError, ExitCode, InvalidInput, TaskNotFound
from drove_tui.models.durations import Duration
from drove_tui.models.states import TERMINAL, TaskState
from drove_tui.models.task import TaskRecord, Transition

T = TypeVar("T")

# The states engine.Engine.kill refuses: the container has exited or the task is over.
NOTHING_TO_KILL = TERMINAL | {TaskState.RUN_COMPLETED, TaskState.DEPROVISIONING}

LIST_COLUMNS = ("APP", "TASK", "STATE", "HOST", "CORES", "MEMORY", "CREATED", "DURATION", "RESULT")


# -- store-only commands -------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`tasks list`: a table, or a JSON array of TaskInfo."""
    states, state_file = _split_state_values(args)
    with _reading(state_file) as store:
        records = [] if store is None else store.list_tasks(app=args.app)
    if states:
        records = [r for r in records if r.state in states]
    stream = out or sys.stdout
    if args.json:
        _print_json([r.to_task_info() for r in records], stream)
    else:
        _print_table(LIST_COLUMNS, _list_rows(records), stream)
    return int(ExitCode.OK)


def cmd_show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`tasks show APP TASK`."""
    record = _get(args)
    stream = out or sys.stdout
    if args.json:
        _print_json(record.to_task_info(), stream)
    else:
        kept = _kept_logs(args).path(record.app, record.task_id)
        for label, value in _show_lines(record, kept if kept.exists() else None):
            stream.write(f"{label + ':':<11} {value}\n")
    return int(ExitCode.OK)


def cmd_history(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`tasks history APP TASK`: transitions, oldest first."""
    with _reading(_state_option(args)) as store:
        record = None if store is None else store.get_task(args.app, args.task)
        if store is None or record is None:
            raise _not_found(args)
        moves = store.history(args.app, args.task)
    stream = out or sys.stdout
    if args.json:
        _print_json([_transition_json(t) for t in moves], stream)
    else:
        rows = [(_clock(t.at), t.from_state or "-", t.to_state, t.reason) for t in moves]
        _print_table(("TIME", "FROM", "TO", "REASON"), rows, stream)
    return int(ExitCode.OK)


def cmd_delete(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`tasks delete APP TASK`: only a finished task."""
    with _reading(_state_option(args)) as store:
        if store is None:
            raise _not_found(args)
        store.delete_task(args.app, args.task)
    # The kept output goes with the record: a new task under the same id starts clean.
    _kept_logs(args).delete(args.app, args.task)
    stream = out or sys.stdout
    if args.json:
        _print_json({"deleted": {"sourceAppName": args.app, "taskId": args.task}}, stream)
    else:
        stream.write(f"deleted {args.app} {args.task}\n")
    return int(ExitCode.OK)


def cmd_prune(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`tasks prune --older-than D`."""
    try:
        age = Duration(args.older_than).seconds
    except ValueError as err:
        raise InvalidInput(f"--older-than: {err}.") from None
    count = 0
    gone: set[tuple[str, str]] = set()
    with _reading(_state_option(args)) as store:
        if store is not None:
            before = {r.key for r in store.list_tasks() if r.terminal}
            count = store.prune(age)
            gone = before - {r.key for r in store.list_tasks()}
    logs = _kept_logs(args)
    for app, task in sorted(gone):
        logs.delete(app, task)
    stream = out or sys.stdout
    if args.json:
        _print_json({"pruned": count}, stream)
    else:
        stream.write(f"pruned {count} finished task{'' if count == 1 else 's'}\n")
    return int(ExitCode.OK)


# -- commands that need the engine ---------------------------------------------------------


def cmd_logs(args: argparse.Namespace) -> int:
    """`tasks logs APP TASK`: lines to stdout/stderr as the container wrote them."""
    since = None
    if args.since is not None:
        try:
            since = time.time() - Duration(args.since).seconds
        except ValueError as err:
            raise InvalidInput(f"--since: {err}.") from None
    if args.tail is not None and args.tail < 0:
        raise InvalidInput(f"--tail must be 0 or more, not {args.tail}.")

    def show(line: LogLine) -> None:
        if since is not None and line.at < since:
            return
        if args.json:
            row = {"stream": line.stream, "text": line.text, "at": line.at}
            _print_json(row, sys.stdout, compact=True)
        else:
            target = sys.stderr if line.stream == "stderr" else sys.stdout
            target.write(line.text + "\n")
            target.flush()

    record = _get(args)
    if record.terminal:
        # Nothing more will come: read the local copy, with no inventory and no host.
        # (LogStore.read gives every line for tail=0: its slice [-0:] is the whole list.)
        kept = [] if args.tail == 0 else _kept_logs(args).read(args.app, args.task, tail=args.tail)
        for line in kept:
            show(line)
        return int(ExitCode.OK)

    async def body(engine: Any) -> int:
        _engine_get(engine, args)
        async for line in engine.logs(args.app, args.task, follow=args.follow, tail=args.tail):
            show(line)
        return int(ExitCode.OK)

    return _with_engine(args, body)


def _kept_logs(args: argparse.Namespace) -> LogStore:
    # The engine keeps task output beside the store (engine.Engine: `<state file>.logs`).
    return LogStore.beside(resolve_state_path(_state_option(args)))


def cmd_kill(args: argparse.Namespace) -> int:
    """`tasks kill APP TASK [--wait]`: 0 once the kill is accepted (or, with --wait, done)."""
    # A task that has ended stays ended: refuse from the store, before any inventory or host.
    record = _get(args)
    if record.state in NOTHING_TO_KILL:
        raise DroveError(
            f"Task {record.app}/{record.task_id} has already ended (it is {record.state}, "
            f"result {_result(record)}); there is nothing to kill.",
            exit_code=ExitCode.FAILED,
        )

    async def body(engine: Any) -> int:
        _engine_get(engine, args)
        record: TaskRecord = await engine.kill(args.app, args.task)
        if args.wait:
            record = await engine.wait(args.app, args.task)
        _report(record, args.json)
        return int(ExitCode.OK)

    return _with_engine(args, body)


def cmd_wait(args: argparse.Namespace) -> int:
    """`tasks wait APP TASK`: exits with the task's code (docs/cli.md#exit-codes)."""
    from drove_tui.commands.run import exit_code_for

    # A finished task needs no engine (and so no host): answer from the store.
    record = _get(args)
    if record.state not in TERMINAL:

        async def body(engine: Any) -> TaskRecord:
            _engine_get(engine, args)
            done: TaskRecord = await engine.wait(args.app, args.task)
            return done

        record = _with_engine(args, body)
    seen = {t.to_state for t in _history_of(args)}
    _report(record, args.json)
    return exit_code_for(record, seen)


# -- helpers -------------------------------------------------------------------------------


@contextmanager
def _reading(state_file: str | None) -> Iterator[Store | None]:
    """The store at the state path, or None when no store was ever made there: these
    commands do not create one (a new empty store would only hide a mistyped path)."""
    path = resolve_state_path(state_file)
    if not os.path.lexists(path):
        yield None
        return
    store = open_store(path)
    try:
        yield store
    finally:
        store.close()


def _state_option(args: argparse.Namespace) -> str | None:
    value: str | None = getattr(args, "state", None)
    return value


def _split_state_values(args: argparse.Namespace) -> tuple[set[TaskState], str | None]:
    """`tasks list --state X` values: state names filter, anything else is the state file."""
    states: set[TaskState] = set()
    files: list[str] = []
    for value in getattr(args, "list_state", None) or []:
        name = value.strip().upper()
        if name in TaskState.__members__:
            states.add(TaskState(name))
        else:
            files.append(value)
    if len(files) > 1:
        raise InvalidInput(
            f"--state was given two state files ({files[0]}, {files[1]}); "
            f"give one (task states are {STATE_NAMES})."
        )
    if files and not os.path.lexists(files[0]) and not any(c in files[0] for c in "/."):
        # A bare word that is neither a state nor an existing file: a mistyped state name
        # (a path to a store not made yet still lists nothing, as for every command).
        raise InvalidInput(
            f"--state {files[0]!r} is neither a task state ({STATE_NAMES}) nor an existing "
            "state file"
        )
    state_file = files[0] if files else _state_option(args)
    return states, state_file


def _get(args: argparse.Namespace) -> TaskRecord:
    with _reading(_state_option(args)) as store:
        record = None if store is None else store.get_task(args.app, args.task)
    if record is None:
        raise _not_found(args)
    return record


def _history_of(args: argparse.Namespace) -> list[Transition]:
    with _reading(_state_option(args)) as store:
        return [] if store is None else store.history(args.app, args.task)


def _not_found(args: argparse.Namespace) -> TaskNotFound:
    where = resolve_state_path(_state_option(args))
    return TaskNotFound(
        f"No task found with app {args.app} and task id {args.task} in {where}; "
        "`drove-tui tasks list` shows the tasks there."
    )


def _engine_get(engine: Any, args: argparse.Namespace) -> None:
    if engine.get(args.app, args.task) is None:
        raise _not_found(args)


def _with_engine(args: argparse.Namespace, body: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``body(engine)`` inside an open engine (inventory from -i / DROVE_TUI_INVENTORY)."""
    return asyncio.run(_engine_session(args, body))


async def _engine_session(args: argparse.Namespace, body: Callable[[Any], Awaitable[T]]) -> T:
    async with open_engine(args) as engine:
        return await body(engine)


def open_engine(args: argparse.Namespace) -> AbstractAsyncContextManager[Any]:
    """The engine for the inventory and state file of ``args`` (replaced by tests)."""
    try:
        engine_module = importlib.import_module("drove_tui.engine.engine")
    except ModuleNotFoundError as err:
        if err.name != "drove_tui.engine.engine":
            raise
        raise DroveError(
            "`tasks logs`, `tasks kill` and `tasks wait` on a live task need the engine, "
            "which is not available in this build yet."
        ) from None
    from drove_tui.loaders.inventory_file import load_inventory

    inventory = load_inventory(getattr(args, "inventory", None))  # falls back to the env var
    opened: AbstractAsyncContextManager[Any] = engine_module.Engine.open(
        inventory, _state_option(args)
    )
    return opened


def _report(record: TaskRecord, as_json: bool) -> None:
    if as_json:
        _print_json(record.to_task_info(), sys.stdout)
    else:
        sys.stderr.write(f"{record.app} {record.task_id}: {record.state} {_result(record)}\n")


def _result(record: TaskRecord) -> str:
    if record.result is None:
        return "-"
    return f"{record.result.status}/{record.result.exit_code}"


def _clock(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _duration(record: TaskRecord, now: float) -> str:
    if record.started_at is None:
        return "-"
    end = record.finished_at if record.finished_at is not None else now
    return format_duration(max(0.0, end - record.started_at))


def _list_rows(records: Sequence[TaskRecord]) -> list[tuple[str, ...]]:
    now = time.time()
    rows: list[tuple[str, ...]] = []
    for r in records:
        cores = ",".join(str(c) for c in r.cores) or "-"
        memory = f"{r.memory_mb}M" if r.memory_mb else "-"
        rows.append(
            (
                r.app,
                r.task_id,
                r.state,
                r.host or "-",
                cores,
                memory,
                _clock(r.created_at),
                _duration(r, now),
                _result(r),
            )
        )
    return rows


def _show_lines(r: TaskRecord, kept: Path | None) -> list[tuple[str, str]]:
    placed = (
        "-" if r.numa_node is None else f"numa {r.numa_node}, cores {r.cores}, {r.memory_mb} MB"
    )
    return [
        ("App", r.app),
        ("Task", r.task_id),
        ("Instance", r.instance_id),
        ("State", f"{r.state} ({r.reason})" if r.reason else r.state),
        ("Result", _result(r)),
        ("Error", r.error or "-"),
        ("Host", r.host or "-"),
        ("Allocated", placed),
        ("Image", r.spec.executable.url),
        ("Container", r.container_id or "-"),
        ("Created", _clock(r.created_at)),
        ("Started", _clock(r.started_at)),
        ("Finished", _clock(r.finished_at)),
        ("Duration", _duration(r, time.time())),
        ("Owner", r.owner or "-"),
        ("Logs", r.log_path or (str(kept) if kept else "-")),
    ]


def _transition_json(t: Transition) -> dict[str, Any]:
    return {"at": t.at, "from": t.from_state, "to": t.to_state, "reason": t.reason}


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO) -> None:
    for line in table_lines(headers, rows):
        stream.write(line + "\n")


def _print_json(data: Any, stream: TextIO, *, compact: bool = False) -> None:
    if compact:
        stream.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        stream.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    stream.flush()
