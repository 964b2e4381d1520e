"""The exit-code table and the checks made on --run's flags before any host is touched."""

from __future__ import annotations

import argparse
import time
from typing import Any

import pytest
from run_fakes import make_spec, options

from drove_tui.cli import build_parser
from drove_tui.commands.run import check_flags, exit_code_for, follow_hint, with_timeout
from drove_tui.errors import InvalidInput
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.states import TaskResult, TaskState, TaskStatus
from drove_tui.models.task import TaskRecord


def record(state: TaskState, result: TaskResult | None = None, **kw: Any) -> TaskRecord:
    now = time.time()
    return TaskRecord(
        app="a",
        task_id="t",
        instance_id="a-t-0",
        state=state,
        spec=make_spec(),
        result=result,
        created_at=now,
        updated_at=now,
        **kw,
    )


def result(status: TaskStatus, code: int) -> TaskResult:
    return TaskResult(status=status, exit_code=code)


@pytest.mark.parametrize(
    ("state", "res", "expected"),
    [
        (TaskState.STOPPED, result(TaskStatus.SUCCESSFUL, 0), 0),
        (TaskState.STOPPED, result(TaskStatus.FAILED, 7), 7),
        (TaskState.STOPPED, result(TaskStatus.FAILED, 255), 255),
        (TaskState.STOPPED, result(TaskStatus.FAILED, -1), 1),  # never started
        (TaskState.STOPPED, result(TaskStatus.FAILED, 300), 1),
        (TaskState.STOPPED, result(TaskStatus.TIMED_OUT, -1), 3),
        (TaskState.PROVISIONING_FAILED, result(TaskStatus.FAILED, -1), 4),
        (TaskState.LOST, None, 5),
        (TaskState.STOPPED, result(TaskStatus.LOST, -1), 5),
        (TaskState.STOPPED, result(TaskStatus.CANCELLED, -1), 6),
        (TaskState.STOPPED, None, 1),
    ],
)
def test_exit_code_table(state: TaskState, res: TaskResult | None, expected: int) -> None:
    assert exit_code_for(record(state, res)) == expected


def test_a_provisioning_failure_seen_earlier_still_exits_4() -> None:
    done = record(TaskState.STOPPED, result(TaskStatus.FAILED, -1))
    assert exit_code_for(done, {TaskState.PROVISIONING_FAILED, TaskState.STOPPED}) == 4


def args(**kw: Any) -> argparse.Namespace:
    """`drove-tui --run s.yaml` as the real parser reads it, with some flags changed."""
    parsed = build_parser().parse_args(["--run", "s.yaml"])
    return argparse.Namespace(**{**vars(parsed), **kw})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"parallel": 2}, "--parallel only applies with --fan-out"),
        ({"fail_fast": True}, "--fail-fast only applies with --fan-out"),
        ({"fan_out": "all", "parallel": 0}, "--parallel must be at least 1"),
        ({"detach": True, "kill_on_interrupt": True}, "contradict"),
    ],
)
def test_meaningless_flag_combinations_are_refused(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_flags(args(**flags))


def test_sensible_flags_pass() -> None:
    check_flags(args(fan_out="web", parallel=2, fail_fast=True, json=True))


def test_timeout_overrides_the_operation_spec_and_keeps_the_rest() -> None:
    op = ClusterOpSpec.model_validate({"timeout": "5 minutes", "parallelism": 3})
    changed = with_timeout(op, "90 seconds")
    assert changed is not None
    assert (changed.timeout.seconds, changed.parallelism) == (90, 3)


def test_timeout_without_an_operation_spec_makes_a_default_one() -> None:
    changed = with_timeout(None, "2m")
    assert changed is not None and changed.timeout.seconds == 120
    assert with_timeout(None, None) is None


@pytest.mark.parametrize("bad", ["soon", "5 fortnights", "0 seconds"])
def test_bad_timeout_is_invalid_input_naming_the_flag(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--timeout: "):
        with_timeout(None, bad)


def test_follow_hint_quotes_paths_so_it_can_be_pasted() -> None:
    hint = follow_hint("a", "t", options(inventory="my inv.yaml", state="/tmp/s.db"))
    assert "drove-tui tasks kill a t -i 'my inv.yaml' --state /tmp/s.db" in hint
