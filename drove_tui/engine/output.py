"""A task's output for Engine.logs: the local copy once it finished, its channel while it runs
attached here, else `docker logs` while it runs (followed with -f), and the hand-over between
them when a task ends first."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor, lifecycle
from drove_tui.engine.events import LogLine
from drove_tui.engine.logs import merge_capture, parse_docker_line
from drove_tui.engine.signals import Signal
from drove_tui.models.states import TERMINAL, TaskState
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.engine.attached import LiveRun
    from drove_tui.engine.engine import Engine

S = TaskState
FOLLOW_AFTER_S = 0.25


async def task_output(
    engine: Engine, app: str, task_id: str, *, follow: bool, tail: int | None
) -> AsyncIterator[LogLine]:
    """The task's output: kept locally once it finished, streamed from docker while live."""
    record = engine.get(app, task_id)
    waiting = (S.PENDING, S.PROVISIONING, S.STARTING, S.UNKNOWN)
    while follow and record.state in waiting and engine.attached.get(record.key) is None:
        token = engine.signal(record.key).token()  # following waits for the start
        await Signal.wait(token, lifecycle.IDLE_RECHECK_S)
        record = engine.get(app, task_id)
    live = engine.attached.get(record.key) if follow else None
    if live is not None and live.first == 0:
        # Run attached here: its lines come straight from its channel.
        async for line in _follow_live(engine, live, record, tail):
            yield line
        return
    if follow and record.state is S.RUNNING:
        # Most short tasks end within moments: their output then comes from the copy kept
        # just before STOPPED, without a `docker logs -f` of their own (a docker call per
        # task, which a fan-out of short tasks pays on every host at once). A longer task's
        # stream starts FOLLOW_AFTER_S late, from its first line: nothing is lost.
        token = engine.signal(record.key).token()
        await Signal.wait(token, FOLLOW_AFTER_S)
        record = engine.get(app, task_id)
    if follow and record.state in (S.RUN_COMPLETED, S.DEPROVISIONING):
        # It ended before we looked: its output is kept just before STOPPED.
        record = await until_finished(engine, record)
    # An UNKNOWN task (just taken over after a restart) may well still run: a one-off look
    # asks its host first, and falls back to the local copy when the host cannot say.
    on_host = (S.RUNNING, S.STARTING) if follow else (S.RUNNING, S.STARTING, S.UNKNOWN)
    if record.state not in on_host or record.host is None:
        for line in engine.logs_store.read(app, task_id, tail=tail):
            yield line
        return
    host = engine.host_config(record)
    name = executor.container_name(record.instance_id)
    cmd = executor.follow_logs(host, name, tail=tail)
    if not follow:
        once = executor.capture_logs(host, name, tail=tail)
        try:
            done = await engine.cluster.transport(host).run(once, timeout=60)
        except TransportError:
            if record.state is not S.UNKNOWN:
                raise
            done = None
        if done is None or (record.state is S.UNKNOWN and not done.ok):
            for line in engine.logs_store.read(app, task_id, tail=tail):
                yield line
            return
        for line in merge_capture(app, task_id, done.stdout, done.stderr):
            yield line
        return
    shown = 0
    gone = False
    async for kind, raw in engine.cluster.transport(host).stream(cmd):
        line = parse_docker_line(app, task_id, kind, raw)
        if line.at == 0.0 and kind == "stderr" and line.text.startswith("Error"):
            gone = True  # docker's own complaint: the container went before we attached
            break
        shown += 1
        yield line
    if gone or shown == 0:
        # A short task can exit and be removed between our look and `docker logs`: what
        # it printed is in the local copy once it is STOPPED. Nothing is lost or repeated.
        await until_finished(engine, engine.get(app, task_id))
        kept = engine.logs_store.read(app, task_id, tail=None if shown else tail)
        for line in kept[shown:]:
            yield line


async def _follow_live(
    engine: Engine, live: LiveRun, record: TaskRecord, tail: int | None
) -> AsyncIterator[LogLine]:
    """The live run's lines from the start (or the last `tail`) until its channel ends; if
    that was not the whole output (the channel broke, the client on the host ended, or too
    much to hold), the rest comes from the copy kept once the task is STOPPED."""
    shown = live.first + max(0, len(live.lines) - tail) if tail is not None else 0
    while True:
        token = live.changed.token()
        if shown < live.first:
            skipped = live.first - shown
            text = f"[drove-tui: {skipped} lines skipped here, the reader fell behind]"
            yield LogLine(live.app, live.task_id, "stderr", text, time.time())
            shown = live.first
        while shown - live.first < len(live.lines):
            yield live.lines[shown - live.first]
            shown += 1
        if live.ended is not None:
            break
        await Signal.wait(token, lifecycle.IDLE_RECHECK_S)
    if live.whole:
        return
    if live.ended is not None and live.ended.kind in ("failed", "notstarted"):
        # Nothing ran (its lines were docker's); the task may try again (no room: other
        # cores), so follow whatever comes next.
        while engine.attached.get(record.key) is live:
            token = engine.signal(record.key).token()
            await Signal.wait(token, lifecycle.IDLE_RECHECK_S)
        async for line in task_output(engine, *record.key, follow=True, tail=None):
            yield line
        return
    await until_finished(engine, engine.get(*record.key))
    for line in engine.logs_store.read(live.app, live.task_id)[shown:]:
        yield line


async def until_finished(engine: Engine, record: TaskRecord) -> TaskRecord:
    """Wait until the task is in a terminal state (its output then kept locally)."""
    while record.state not in TERMINAL:
        token = engine.signal(record.key).token()
        await Signal.wait(token, lifecycle.IDLE_RECHECK_S)
        record = engine.get(record.app, record.task_id)
    return record
