"""The fan-out scheduler: task ids, bounded parallelism, fail-fast, interruption."""

from __future__ import annotations

import asyncio

import pytest

from drove_tui.commands.fanout import (
    ERROR,
    NOT_STARTED,
    fan_out,
    fan_out_task_ids,
    overall_exit_code,
)
from drove_tui.commands.output import SummaryRow
from drove_tui.errors import HostError

HOSTS = [f"host{i}" for i in range(1, 7)]


def ok_row(host: str, code: int = 0) -> SummaryRow:
    return SummaryRow(host, f"t-{host}", "STOPPED", code, 0.1)


def test_task_ids_append_the_host_name_in_host_order() -> None:
    ids = fan_out_task_ids("backup", ["host2", "host1"])
    assert list(ids.items()) == [("host2", "backup-host2"), ("host1", "backup-host1")]


def test_task_ids_replace_characters_drove_refuses() -> None:
    ids = fan_out_task_ids("job", ["db1.example.com"])
    assert ids == {"db1.example.com": "job-db1-example-com"}


def test_task_ids_stay_distinct_when_host_names_sanitise_alike() -> None:
    ids = fan_out_task_ids("job", ["a.b", "a-b", "c"])
    assert len(set(ids.values())) == 3
    assert ids["c"] == "job-c"
    assert all(v.startswith("job-a-b-") for k, v in ids.items() if k != "c")


def test_overall_exit_code_is_zero_only_when_every_host_succeeded() -> None:
    assert overall_exit_code([ok_row("a"), ok_row("b")]) == 0
    assert overall_exit_code([ok_row("a"), ok_row("b", 7)]) == 1
    assert overall_exit_code([ok_row("a"), SummaryRow("b", "t", NOT_STARTED, None, None)]) == 1


async def test_never_more_than_parallel_hosts_in_flight() -> None:
    in_flight = 0
    peak = 0
    release = asyncio.Event()
    two_started = asyncio.Event()

    async def run_one(host: str) -> SummaryRow:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 2:
            two_started.set()
        await release.wait()
        in_flight -= 1
        return ok_row(host)

    job = asyncio.create_task(
        fan_out(fan_out_task_ids("t", HOSTS), run_one, parallel=2, fail_fast=False)
    )
    await asyncio.wait_for(two_started.wait(), 10)
    # Give every other worker ample chances to (wrongly) start a third host.
    for _ in range(20):
        await asyncio.sleep(0)
    assert in_flight == 2
    release.set()
    rows = await asyncio.wait_for(job, 10)
    assert peak == 2
    assert [r.host for r in rows] == HOSTS
    assert all(r.exit_code == 0 for r in rows)


async def test_fail_fast_stops_scheduling_after_the_first_failure() -> None:
    started: list[str] = []

    async def run_one(host: str) -> SummaryRow:
        started.append(host)
        return ok_row(host, 3 if host == "host2" else 0)

    rows = await fan_out(fan_out_task_ids("t", HOSTS), run_one, parallel=1, fail_fast=True)
    assert started == ["host1", "host2"]
    assert [r.state for r in rows[2:]] == [NOT_STARTED] * 4
    assert "fail-fast" in rows[2].note
    assert overall_exit_code(rows) == 1


async def test_without_fail_fast_every_host_runs_despite_failures() -> None:
    async def run_one(host: str) -> SummaryRow:
        return ok_row(host, 1 if host == "host1" else 0)

    rows = await fan_out(fan_out_task_ids("t", HOSTS), run_one, parallel=1, fail_fast=False)
    assert [r.state for r in rows] == ["STOPPED"] * 6
    assert [r.exit_code for r in rows] == [1, 0, 0, 0, 0, 0]


async def test_fail_fast_lets_hosts_already_running_finish() -> None:
    failing_done = asyncio.Event()

    async def run_one(host: str) -> SummaryRow:
        if host == "host1":
            await failing_done.wait()  # still running when host2 fails
            return ok_row(host)
        failing_done.set()
        return ok_row(host, 9)

    rows = await fan_out(fan_out_task_ids("t", HOSTS), run_one, parallel=2, fail_fast=True)
    assert [(r.host, r.exit_code) for r in rows[:2]] == [("host1", 0), ("host2", 9)]
    assert {r.state for r in rows[2:]} == {NOT_STARTED}


async def test_a_host_error_becomes_that_hosts_row_and_the_rest_go_on() -> None:
    async def run_one(host: str) -> SummaryRow:
        if host == "host3":
            raise HostError("host3 (127.0.0.13:2222) is unreachable: connection refused.")
        return ok_row(host)

    rows = await fan_out(fan_out_task_ids("t", HOSTS), run_one, parallel=3, fail_fast=False)
    bad = rows[2]
    assert (bad.state, bad.exit_code) == (ERROR, 7)
    assert "unreachable" in bad.note
    assert all(r.exit_code == 0 for r in rows if r.host != "host3")


async def test_stop_event_leaves_unscheduled_hosts_not_started() -> None:
    stop = asyncio.Event()

    async def run_one(host: str) -> SummaryRow:
        if host == "host2":
            stop.set()  # Ctrl-C arrives while host2 runs
        return ok_row(host)

    rows = await fan_out(
        fan_out_task_ids("t", HOSTS), run_one, parallel=1, fail_fast=False, stop=stop
    )
    assert [r.state for r in rows] == ["STOPPED", "STOPPED"] + [NOT_STARTED] * 4
    assert rows[2].note == "interrupted"


async def test_parallel_below_one_is_refused() -> None:
    async def run_one(host: str) -> SummaryRow:
        return ok_row(host)

    with pytest.raises(ValueError, match="at least 1"):
        await fan_out({"a": "t-a"}, run_one, parallel=0, fail_fast=False)
