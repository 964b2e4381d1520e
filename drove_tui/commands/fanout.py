"""Fan-out: one task per matching host, at most N in flight, stopping early on request.

The scheduler knows nothing of the engine: it calls `run_one(host)` and collects one
`SummaryRow` per host, so its rules (bounded parallelism, Drove's `failureStrategy: STOP`,
host order in the summary) are tested without a cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence

from drove_tui.commands.output import SummaryRow
from drove_tui.errors import DroveError, ExitCode

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
