"""Fan-out: one task per matching host, at most N in flight, stopping early on request.

The scheduler knows nothing of the engine: it calls `run_one(host)` and collects one
`SummaryRow` per host, so its rules (bounded parallelism, Drove's `failureStrategy: STOP`,
host order in the summary) are tested without a cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from drove_tui.commands.output import SummaryRow, Terminal
from drove_tui.commands.run import EngineAPI, RunOptions, TaskFollower, spinning
from drove_tui.errors import DroveError, ExitCode, InvalidInput
from drove_tui.models.inventory import Inventory

NOT_STARTED = "NOT_STARTED"  # summary state of a host the fan-out never got to
ERROR = "ERROR"  # summary state of a host whose task could not be created or followed

# Drove's taskId alphabet; anything else in a host name (dots, mostly) becomes a dash.
_NOT_IN_TASK_ID = re.compile(r"[^A-Za-z0-9_-]")

RunOne = Callable[[str], Awaitable[SummaryRow]]


def fan_out_task_ids(task_id: str, hosts: Sequence[str]) -> dict[str, str]:
    """`TASKID-HOSTNAME` for each host, in host order, sanitised to Drove's `[a-zA-Z0-9_-]`.

    Two host names that sanitise alike (`a.b` and `a-b`) would give one task id to two tasks,
    and Drove refuses the second CREATE; each of those gets 6 hex of its real name appended.
    """
    plain = {host: f"{task_id}-{_NOT_IN_TASK_ID.sub('-', host)}" for host in hosts}
    counts: dict[str, int] = {}
    for candidate in plain.values():
        counts[candidate] = counts.get(candidate, 0) + 1
    ids: dict[str, str] = {}
    for host, candidate in plain.items():
        if counts[candidate] > 1:
            candidate += "-" + hashlib.sha256(host.encode()).hexdigest()[:6]
        ids[host] = candidate
    return ids


def overall_exit_code(rows: Sequence[SummaryRow]) -> int:
    """0 only when every host succeeded, else 1 (the summary says which hosts failed)."""
    return int(ExitCode.OK) if all(r.exit_code == 0 for r in rows) else int(ExitCode.FAILED)


async def fan_out(
    task_ids: Mapping[str, str],
    run_one: RunOne,
    *,
    parallel: int,
    fail_fast: bool,
    stop: asyncio.Event | None = None,
) -> list[SummaryRow]:
    """Run `run_one` for every host of `task_ids`, at most `parallel` at a time.

    With `fail_fast`, the first failed host stops the scheduling of new hosts (those already
    running finish), as Drove's `failureStrategy: STOP`. Setting `stop` (Ctrl-C) does the same.
    Returns one row per host in the order of `task_ids`; hosts never started are NOT_STARTED.
    """
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    hosts = list(task_ids)
    halt = stop or asyncio.Event()
    rows: dict[str, SummaryRow] = {}
    next_index = 0
    stopped_by_failure = False

    async def worker() -> None:
        nonlocal next_index, stopped_by_failure
        while next_index < len(hosts) and not halt.is_set():
            host = hosts[next_index]
            next_index += 1
            try:
                row = await run_one(host)
            except DroveError as err:
                row = SummaryRow(host, task_ids[host], ERROR, int(err.exit_code), None, str(err))
            rows[host] = row
            if fail_fast and row.exit_code != 0 and not halt.is_set():
                stopped_by_failure = True
                halt.set()

    workers = [asyncio.create_task(worker()) for _ in range(min(parallel, len(hosts)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    why = "an earlier host failed (--fail-fast)" if stopped_by_failure else "interrupted"
    return [
        rows.get(host) or SummaryRow(host, task_ids[host], NOT_STARTED, None, None, why)
        for host in hosts
    ]


def plan_fan_out(inventory: Inventory, pattern: str, task_id: str) -> dict[str, str]:
    """Host name -> task id for every host `pattern` selects, checked before any host is
    touched; InvalidInput naming the flag when the pattern is wrong or matches nothing."""
    from drove_tui.loaders.patterns import select_hosts

    try:
        hosts = [h.name for h in select_hosts(inventory, pattern)]
    except InvalidInput as err:
        raise InvalidInput(f"--fan-out {pattern!r}: {err}") from None
    if not hosts:
        where = inventory.source or "the built-in local inventory"
        raise InvalidInput(
            f"--fan-out {pattern!r} matches no host of {where}; "
            "list the hosts with `drove-tui hosts list`."
        )
    return fan_out_task_ids(task_id, hosts)


async def run_fan_out(
    engine: EngineAPI,
    task_ids: Mapping[str, str],
    opts: RunOptions,
    stop: asyncio.Event,
    term: Terminal,
) -> int:
    """One task per host of `task_ids`, each pinned to its host; exit 0 only if all
    succeeded. Output lines are prefixed with the host, and a summary closes the run."""
    hosts = list(task_ids)
    parallel = opts.parallel or opts.parallel_default or len(hosts)
    out = term.output(json=opts.json, hosts=hosts)

    async def run_one(host: str) -> SummaryRow:
        spec = opts.spec.model_copy(update={"task_id": task_ids[host]})
        began = time.monotonic()
        followed = await TaskFollower(engine, out, opts, label=host).run(
            spec, pin_host=host, stop=stop
        )
        record = followed.record
        state = "DETACHED" if followed.detached else str(record.state)
        return SummaryRow(
            host,
            task_ids[host],
            state,
            followed.exit_code,
            time.monotonic() - began,
            record.error or "",
        )

    async with spinning(out):
        rows = await fan_out(
            task_ids, run_one, parallel=parallel, fail_fast=opts.fail_fast, stop=stop
        )
        code = overall_exit_code(rows)
        if stop.is_set():
            code = int(ExitCode.INTERRUPTED)
        out.summary(rows, code)
    return code
