"""`drove-tui --run SPEC`: create one task (or one per host with --fan-out), follow it, exit
with its code.

cli.py imports this module only when --run is given. The engine (and with it asyncssh) and
the loaders are imported inside functions, so `tasks wait` can borrow `exit_code_for` cheaply.
The pieces: `exit_code_for` (the exit-code table), `load_options` (flags and spec, exit 2 on
any problem), `TaskFollower` (one task: submit, progress, logs, detach, Ctrl-C) and
`run_on` (a single run or a fan-out via fanout.py, on an open engine, shown on a Terminal)
and `run_async` (this process's own engine and SIGINT around run_on). The warm server
(warm_server.py) calls load_options, plan and run_on with its long-lived engine and the
client's streams.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from drove_tui.commands.output import HumanOutput, Output, Terminal
from drove_tui.errors import DroveError, ExitCode, InvalidInput
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import Duration, TaskSpec
from drove_tui.models.states import TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.engine.events import Event, LogLine
    from drove_tui.models.inventory import Inventory

# How long the container's last lines may lag behind its terminal state before we stop
# waiting for them (the engine keeps a local copy; `tasks logs` shows everything).
LOG_DRAIN_S = 10.0
# States in which the container has been started, whatever the record's started_at says.
_RAN = frozenset({TaskState.RUNNING, TaskState.RUN_COMPLETED})
# Steps a fan-out's human output leaves out (JSON keeps them): placement, RUNNING and the end
# say enough per host when eight hosts talk at once.
_QUIET_IN_FAN_OUT = frozenset(
    {TaskState.STARTING, TaskState.RUN_COMPLETED, TaskState.DEPROVISIONING}
)


def exit_code_for(record: TaskRecord, seen: Collection[TaskState] = ()) -> int:
    """The process exit code for a finished task (docs/cli.md#exit-codes).

    SUCCESSFUL 0; FAILED with exit code N: N (1 when N is outside 1..255, e.g. a container
    that never started); not placed within the operation timeout 3; PROVISIONING_FAILED 4
    (also when the record has since moved on to DEPROVISIONING/STOPPED, hence `seen`);
    LOST 5; killed (CANCELLED) 6.
    """
    result = record.result
    if TaskState.PROVISIONING_FAILED in seen or record.state is TaskState.PROVISIONING_FAILED:
        return int(ExitCode.PROVISIONING_FAILED)
    if record.state is TaskState.LOST or (result and result.status is TaskStatus.LOST):
        return int(ExitCode.LOST)
    if result is None:
        return int(ExitCode.FAILED)
    if result.status is TaskStatus.SUCCESSFUL:
        return int(ExitCode.OK)
    if result.status is TaskStatus.CANCELLED:
        return int(ExitCode.KILLED)
    if result.status is TaskStatus.TIMED_OUT:
        return int(ExitCode.NOT_PLACED)
    return result.exit_code if 1 <= result.exit_code <= 255 else int(ExitCode.FAILED)


@dataclass(frozen=True)
class RunOptions:
    """The flags of one --run, checked, with the operation spec's timeout already applied."""

    spec: TaskSpec
    op_spec: ClusterOpSpec | None
    parallel_default: int | None  # the operation spec's parallelism, when the file gave one
    inventory: str | None
    state: str | None
    fan_out: str | None
    parallel: int | None
    fail_fast: bool
    detach: bool
    json: bool
    kill_on_interrupt: bool


def with_timeout(op_spec: ClusterOpSpec | None, timeout: str | None) -> ClusterOpSpec | None:
    """The operation spec with --timeout applied (a new default spec when none was given)."""
    if timeout is None:
        return op_spec
    try:
        duration = Duration(timeout)
    except ValueError as err:
        raise InvalidInput(f"--timeout: {err}.") from None
    if duration.seconds <= 0:
        raise InvalidInput("--timeout: give a duration above zero, like '5 minutes'.")
    base = op_spec or ClusterOpSpec()
    return base.model_copy(update={"timeout": duration})


def check_flags(args: argparse.Namespace) -> None:
    """Refuse flag combinations that cannot mean anything, before touching any host."""
    if args.parallel is not None and args.fan_out is None:
        raise InvalidInput("--parallel only applies with --fan-out PATTERN; add one or drop it.")
    if args.fail_fast and args.fan_out is None:
        raise InvalidInput("--fail-fast only applies with --fan-out PATTERN; add one or drop it.")
    if args.parallel is not None and args.parallel < 1:
        raise InvalidInput(f"--parallel must be at least 1, not {args.parallel}.")
    if args.detach and args.kill_on_interrupt:
        raise InvalidInput("--detach and --kill-on-interrupt contradict each other; pick one.")


def load_options(args: argparse.Namespace, spec: tuple[bytes, str] | None = None) -> RunOptions:
    """Validate the flags and load the spec (from `args.run`, or the bytes and name a warm
    client read); every problem is an InvalidInput (exit 2)."""
    check_flags(args)
    from drove_tui.loaders.spec_file import load_spec, load_spec_bytes

    loaded = load_spec(args.run) if spec is None else load_spec_bytes(*spec)
    return RunOptions(
        spec=loaded.spec,
        op_spec=with_timeout(loaded.op_spec, args.timeout),
        parallel_default=loaded.op_spec.parallelism if loaded.op_spec else None,
        inventory=getattr(args, "inventory", None) or os.environ.get("DROVE_TUI_INVENTORY"),
        state=getattr(args, "state", None),
        fan_out=args.fan_out,
        parallel=args.parallel,
        fail_fast=args.fail_fast,
        detach=args.detach,
        json=args.json,
        kill_on_interrupt=args.kill_on_interrupt,
    )


def follow_hint(app: str, task_id: str, opts: RunOptions) -> str:
    """The commands that follow, wait for or kill a task this process leaves behind."""
    where = ""
    if opts.inventory:
        where += f" -i {_quote(opts.inventory)}"
    if opts.state:
        where += f" --state {_quote(opts.state)}"
    ident = f"{_quote(app)} {_quote(task_id)}"
    return (
        f"  follow: drove-tui tasks logs {ident} -f{where}\n"
        f"  wait:   drove-tui tasks wait {ident}{where}\n"
        f"  kill:   drove-tui tasks kill {ident}{where}"
    )


def _quote(text: str) -> str:
    return shlex.quote(text)


async def cancel(*jobs: asyncio.Task[Any]) -> None:
    """Cancel `jobs` and wait until they are really gone (a generator they iterate can then
    be closed)."""
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)


class EngineAPI(Protocol):
    """The part of engine.Engine that --run uses (contracts.md, "engine.Engine")."""

    async def submit(
        self, spec: TaskSpec, op_spec: ClusterOpSpec | None = None, pin_host: str | None = None
    ) -> TaskRecord: ...

    async def kill(self, app: str, task: str) -> TaskRecord: ...

    def get(self, app: str, task: str) -> TaskRecord | None: ...

    def subscribe(self) -> AsyncIterator[Event]: ...

    def logs(
        self, app: str, task: str, *, follow: bool = False, tail: int | None = None
    ) -> AsyncIterator[LogLine]: ...

    async def wait(self, app: str, task: str) -> TaskRecord: ...


@dataclass
class Followed:
    """How following one task ended: the exit code and the last record seen."""

    exit_code: int
    record: TaskRecord
    detached: bool = False


class TaskFollower:
    """Creates one task, shows its progress and output, and waits for its end (or detaches)."""

    def __init__(
        self, engine: EngineAPI, out: Output, opts: RunOptions, *, label: str | None = None
    ) -> None:
        self.engine = engine
        self.out = out
        self.opts = opts
        self.label = label  # the host prefix during a fan-out, None for a single run
        self.seen: set[TaskState] = set()
        self.started = asyncio.Event()  # the container has run (RUNNING or later)
        self.key: tuple[str, str] | None = None
        self.host: str | None = None  # where the task runs, once placed
        # A fan-out's human output shows each host's milestones only, not every step.
        self._terse = label is not None and isinstance(out, HumanOutput)
        self._last_progress: str | None = None

    async def run(
        self, spec: TaskSpec, *, pin_host: str | None = None, stop: asyncio.Event
    ) -> Followed:
        """Submit `spec`, follow it, and return how it ended; `stop` is Ctrl-C."""
        events = self.engine.subscribe()  # before submit, so no transition is missed
        watcher: asyncio.Task[None] | None = None
        try:
            record = await self.engine.submit(spec, self.opts.op_spec, pin_host)
            self.key = record.key
            self._note(record, None)
            watcher = asyncio.create_task(self._watch(events))
            return await self._follow(record, stop)
        finally:
            if watcher is not None:
                await cancel(watcher)
            # engine.Subscription has close(); an async generator has aclose().
            closer = getattr(events, "close", None) or getattr(events, "aclose", None)
            if closer is not None:
                done = closer()
                if asyncio.iscoroutine(done):
                    await done

    async def _follow(self, record: TaskRecord, stop: asyncio.Event) -> Followed:
        app, task = record.key
        finished = asyncio.create_task(self.engine.wait(app, task))
        logs = asyncio.create_task(self._stream_logs(app, task, finished))
        interrupted = asyncio.create_task(stop.wait())
        started = asyncio.create_task(self.started.wait())
        pending: set[asyncio.Task[Any]] = {finished, interrupted}
        if self.opts.detach:
            pending.add(started)
        try:
            while True:
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if finished.done():
                    break
                current = self.engine.get(app, task) or record
                if self.opts.detach and started.done():
                    return self._detached(current, by_interrupt=False)
                if interrupted.done():
                    if not self.opts.kill_on_interrupt:
                        return self._detached(current, by_interrupt=True)
                    self.out.notice(f"{self._who(app, task)}: interrupted; killing the task")
                    pending.discard(interrupted)
                    try:
                        await self.engine.kill(app, task)
                    except DroveError as err:
                        # It ended on its own meanwhile ("not running"): its result stands.
                        self.out.notice(f"{self._who(app, task)}: {err}")
            final = finished.result()
            # The container's last lines may still be in flight when the state turns terminal.
            await asyncio.wait_for(asyncio.shield(logs), LOG_DRAIN_S)
        except TimeoutError:
            final = finished.result()
        finally:
            await cancel(finished, logs, interrupted, started)
        self._note(final, None)
        self.out.task_done(final.to_task_info())
        return Followed(exit_code_for(final, self.seen), final)

    def _detached(self, record: TaskRecord, *, by_interrupt: bool) -> Followed:
        app, task = record.key
        if isinstance(self.out, HumanOutput):
            self.out.stop_spinner()
        if by_interrupt:
            self.out.notice(
                f"{self._who(app, task)}: detached; the task goes on ({record.state}).\n"
                + follow_hint(app, task, self.opts),
                event="detached",
                app=app,
                taskId=task,
                host=record.host,
            )
            code = int(ExitCode.INTERRUPTED)
        else:
            # stdout carries the id so scripts can `read app task`; the hint goes to stderr.
            self.out.notice(
                follow_hint(app, task, self.opts),
                event="detached",
                app=app,
                taskId=task,
                host=record.host,
            )
            code = int(ExitCode.OK)
        if not by_interrupt:
            self.out.task_ident(app, task)
        self.out.task_done(record.to_task_info())
        return Followed(code, record, detached=True)

    def _who(self, app: str, task: str) -> str:
        return f"{app}/{task}" + (f" on {self.label}" if self.label else "")

    async def _watch(self, events: AsyncIterator[Event]) -> None:
        from drove_tui.engine.events import TaskChanged, TaskProgress

        async for event in events:
            if isinstance(event, TaskChanged) and event.record.key == self.key:
                self._note(event.record, event.transition.reason)
            elif isinstance(event, TaskProgress) and (event.app, event.task_id) == self.key:
                if self._terse and event.message == self._last_progress:
                    continue  # a fan-out of N hosts would print the same wait N times over
                self._last_progress = event.message
                self.out.progress(
                    event.message,
                    host=self.label or self.host,
                    event="progress",
                    app=event.app,
                    taskId=event.task_id,
                )

    def _note(self, record: TaskRecord, reason: str | None) -> None:
        """Show a state once, and remember it (exit_code_for needs PROVISIONING_FAILED)."""
        self.host = record.host or self.host
        if record.started_at is not None or record.state in _RAN:
            self.started.set()
        if record.state in self.seen:
            return
        self.seen.add(record.state)
        if record.state is TaskState.RUNNING and isinstance(self.out, HumanOutput):
            self.out.stop_spinner()  # from here on, the container's own output speaks
        if self._terse and record.state in _QUIET_IN_FAN_OUT:
            return
        where = f" on {record.host}" if record.host and self.label is None else ""
        why = reason if reason is not None else record.reason
        text = f"{record.state}{where}" + (f": {why}" if why else "")
        if record.terminal and record.result is not None:
            text += f" [{record.result.status}/{record.result.exit_code}]"
        self.out.progress(
            text,
            host=self.label or record.host,
            event="state",
            app=record.app,
            taskId=record.task_id,
            state=str(record.state),
        )

    async def _stream_logs(self, app: str, task: str, finished: asyncio.Task[Any]) -> None:
        # Logs exist only once the container has been started; a task that ends without ever
        # starting (not placed, pull failed) has none.
        started = asyncio.create_task(self.started.wait())
        await asyncio.wait({started, finished}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if not self.started.is_set():
            return
        try:
            async for line in self.engine.logs(app, task, follow=True):
                self.out.log_line(line.stream, line.text, host=self.label or self.host)
                await self.out.drain()
        except DroveError as err:
            # The task goes on; only its output is out of reach (e.g. the host went away).
            self.out.notice(f"{self._who(app, task)}: cannot stream the logs: {err}")


def run(args: argparse.Namespace) -> int:
    """Entry point for `drove-tui --run` (called by cli.main); returns the exit code."""
    opts = load_options(args)
    return asyncio.run(run_async(opts))


async def run_async(opts: RunOptions) -> int:
    """Open the engine, run the task (or the fan-out), and map how it ended to an exit code."""
    from drove_tui.engine.engine import Engine
    from drove_tui.loaders.inventory_file import load_inventory

    inventory = load_inventory(opts.inventory)
    # Checked before the store is opened: a wrong pattern leaves no trace.
    task_ids = plan(inventory, opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, _interrupted, loop, stop)
    try:
        async with Engine.open(inventory, opts.state) as engine:
            return await run_on(engine, task_ids, opts, Terminal.here(), stop)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def plan(inventory: Inventory, opts: RunOptions) -> dict[str, str]:
    """Host -> task id of a fan-out (InvalidInput when its pattern is wrong); {} for one run."""
    if opts.fan_out is None:
        return {}
    from drove_tui.commands.fanout import plan_fan_out

    return plan_fan_out(inventory, opts.fan_out, opts.spec.task_id)


async def run_on(
    engine: EngineAPI,
    task_ids: dict[str, str],
    opts: RunOptions,
    term: Terminal,
    stop: asyncio.Event,
) -> int:
    """Run the task (or the fan-out of `task_ids`) on an open engine, showing it on `term`;
    `stop` is Ctrl-C. Shared by this process's own run and the warm server."""
    if task_ids:
        from drove_tui.commands.fanout import run_fan_out

        return await run_fan_out(engine, task_ids, opts, stop, term)
    if stop.is_set():  # interrupted before anything was created: nothing to detach from
        return int(ExitCode.INTERRUPTED)
    out = term.output(json=opts.json)
    async with spinning(out):
        followed = await TaskFollower(engine, out, opts).run(opts.spec, stop=stop)
    return followed.exit_code


def _interrupted(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # The first Ctrl-C detaches (or kills) cleanly; a second one is Python's usual
    # KeyboardInterrupt, so an impatient user is never stuck.
    stop.set()
    loop.remove_signal_handler(signal.SIGINT)


@contextlib.asynccontextmanager
async def spinning(out: Output) -> AsyncIterator[None]:
    """Animate the spinner while the body runs (only a terminal gets one); then clean up."""
    ticker: asyncio.Task[None] | None = None
    if isinstance(out, HumanOutput) and out.interactive:
        ticker = asyncio.create_task(_tick(out))
    try:
        yield
    finally:
        if ticker is not None:
            ticker.cancel()
        out.close()


async def _tick(out: HumanOutput) -> None:
    while True:
        await asyncio.sleep(0.1)
        out.tick()
