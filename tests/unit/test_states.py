"""The task state machine, results, and Drove's TaskInfo view of a record."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import pytest

from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import (
    LIVE,
    TERMINAL,
    TRANSITIONS,
    TaskResult,
    TaskState,
    TaskStatus,
    can_move,
)
from drove_tui.models.task import TaskRecord, make_instance_id

S = TaskState

# Drove reference section 4, row by row.
DROVE_MOVES = [
    (S.PENDING, S.PROVISIONING),
    (S.PENDING, S.STOPPED),
    (S.PROVISIONING, S.STARTING),
    (S.PROVISIONING, S.PROVISIONING_FAILED),
    (S.STARTING, S.RUNNING),
    (S.STARTING, S.RUN_COMPLETED),
    (S.RUNNING, S.RUN_COMPLETED),
    (S.RUN_COMPLETED, S.DEPROVISIONING),
    (S.PROVISIONING_FAILED, S.DEPROVISIONING),
    (S.DEPROVISIONING, S.STOPPED),
    (S.UNKNOWN, S.RUNNING),
    (S.UNKNOWN, S.RUN_COMPLETED),
    (S.UNKNOWN, S.LOST),
]


def test_there_are_ten_states_and_three_terminal_ones() -> None:
    assert len(TaskState) == 10
    assert {S.PROVISIONING_FAILED, S.STOPPED, S.LOST} == TERMINAL
    assert set(TRANSITIONS) == set(TaskState)
    assert LIVE.isdisjoint(TERMINAL) and S.UNKNOWN not in LIVE


@pytest.mark.parametrize(("old", "new"), DROVE_MOVES)
def test_every_move_of_droves_table_is_allowed(old: TaskState, new: TaskState) -> None:
    assert can_move(old, new)


@pytest.mark.parametrize("state", sorted(set(TaskState) - TERMINAL))
def test_every_non_terminal_state_can_be_lost(state: TaskState) -> None:
    assert can_move(state, S.LOST)


@pytest.mark.parametrize("state", sorted(LIVE))
def test_every_live_state_can_become_unknown_when_its_host_goes_silent(state: TaskState) -> None:
    assert can_move(state, S.UNKNOWN)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.STOPPED, S.PENDING),
        (S.LOST, S.RUNNING),
        (S.LOST, S.UNKNOWN),
        (S.RUNNING, S.PENDING),
        (S.RUNNING, S.STOPPED),
        (S.RUN_COMPLETED, S.RUNNING),
        (S.PROVISIONING_FAILED, S.LOST),
        (S.UNKNOWN, S.PROVISIONING_FAILED),
        (S.UNKNOWN, S.UNKNOWN),
        (S.PENDING, S.RUNNING),
    ],
)
def test_moves_outside_the_table_are_refused(old: TaskState, new: TaskState) -> None:
    assert not can_move(old, new)


def test_stopped_and_lost_are_dead_ends() -> None:
    assert TRANSITIONS[S.STOPPED] == frozenset()
    assert TRANSITIONS[S.LOST] == frozenset()


def test_every_state_is_reachable_and_every_state_can_finish() -> None:
    reached = {S.PENDING}
    queue = deque([S.PENDING])
    while queue:
        for nxt in TRANSITIONS[queue.popleft()]:
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    assert reached == set(TaskState)
    for state in TaskState:
        seen, stack = {state}, [state]
        while stack:
            for nxt in TRANSITIONS[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        assert seen & {S.STOPPED, S.LOST}, state


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, TaskStatus.SUCCESSFUL), (3, TaskStatus.FAILED), (-1, TaskStatus.FAILED)],
)
def test_exit_code_gives_droves_result(code: int, status: TaskStatus) -> None:
    assert TaskResult.from_exit_code(code) == TaskResult(status=status, exit_code=code)


def test_result_json_uses_droves_names() -> None:
    assert TaskResult.cancelled().model_dump(mode="json", by_alias=True) == {
        "status": "CANCELLED",
        "exitCode": -1,
    }
    assert TaskResult.model_validate({"status": "LOST", "exitCode": -1}) == TaskResult.lost()


def _record(**fields: object) -> TaskRecord:
    spec = TaskSpec.model_validate(
        {
            "sourceAppName": "app",
            "taskId": "t1",
            "executable": {"type": "DOCKER", "url": "busybox", "dockerPullTimeout": "1 minute"},
            "resources": [{"type": "CPU", "count": 2}, {"type": "MEMORY", "sizeInMB": 64}],
            "volumes": [{"pathInContainer": "/d", "pathOnHost": "/mnt", "mode": "READ_ONLY"}],
            "env": {"A": "1"},
        }
    )
    values: dict[str, object] = {
        "app": "app",
        "task_id": "t1",
        "instance_id": "app-t1-0123abcd",
        "state": S.RUNNING,
        "spec": spec,
        "created_at": 1700000000.25,
        "updated_at": 1700000001.5,
    }
    values.update(fields)
    return TaskRecord.model_validate(values)


def test_task_info_has_droves_shape_and_allocation() -> None:
    record = _record(
        host="host1",
        numa_node=1,
        cores=[2, 3],
        memory_mb=64,
        result=TaskResult.from_exit_code(3),
        error="Task instance exited with status: 3",
    )
    info = record.to_task_info()
    assert info["sourceAppName"] == "app"
    assert info["taskId"] == "t1"
    assert info["instanceId"] == "app-t1-0123abcd"
    assert info["executorId"] == info["hostname"] == "host1"
    assert info["executable"]["url"] == "busybox"
    assert info["resources"] == [
        {"type": "CPU", "cores": {"1": [2, 3]}},
        {"type": "MEMORY", "memoryInMB": {"1": 64}},
    ]
    assert info["volumes"] == [{"pathInContainer": "/d", "pathOnHost": "/mnt", "mode": "READ_ONLY"}]
    assert info["env"] == {"A": "1"}
    assert info["logging"] == {"type": "LOCAL", "maxSize": "10m", "maxFiles": 3, "compress": True}
    assert info["state"] == "RUNNING"
    assert info["taskResult"] == {"status": "FAILED", "exitCode": 3}
    assert info["errorMessage"] == "Task instance exited with status: 3"
    assert (info["created"], info["updated"]) == (1700000000250, 1700000001500)


def test_task_info_of_unplaced_task_has_no_allocation() -> None:
    info = _record(state=S.PENDING).to_task_info()
    assert info["resources"] == []
    assert info["hostname"] is None
    assert info["taskResult"] is None
    assert info["errorMessage"] == ""


def test_instance_id_is_stable_per_run_and_safe_for_docker_names() -> None:
    first = make_instance_id("my app", "t/1", 1.5)
    assert first == make_instance_id("my app", "t/1", 1.5)
    assert first != make_instance_id("my app", "t/1", 2.5)
    assert first.startswith("my_app-t_1-")
    assert len(first.rsplit("-", 1)[1]) == 8


def _documented_moves() -> set[tuple[TaskState, TaskState]]:
    """The moves in docs/states.md's "from | to" table, with its two "every ..." rows expanded."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "states.md").read_text()
    table = doc.split("The rules, exactly:", 1)[1].split("\n\n", 2)[1]
    groups = {"every non-terminal state": set(TaskState) - TERMINAL, "every live state": LIVE}
    moves: set[tuple[TaskState, TaskState]] = set()
    for line in table.splitlines()[2:]:
        left, right = (cell.strip() for cell in line.strip("|").split("|"))
        sources = groups.get(left) or {TaskState(n) for n in re.findall(r"`(\w+)`", left)}
        targets = {TaskState(n) for n in re.findall(r"`(\w+)`", right)}
        moves |= {(s, t) for s in sources for t in targets}
    return moves


def test_docs_states_table_is_exactly_the_state_machine() -> None:
    actual = {(old, new) for old, targets in TRANSITIONS.items() for new in targets}
    assert _documented_moves() == actual
