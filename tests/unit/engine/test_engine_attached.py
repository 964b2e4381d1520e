"""A task run attached: what its channel's lines and exit status mean (engine/attached.py)."""

from __future__ import annotations

import asyncio

import pytest

from drove_tui.engine import attached
from drove_tui.engine.attached import LiveRun
from drove_tui.engine.signals import Signal
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord

TAG = "@drove-0123"
SPEC = TaskSpec.model_validate(
    {
        "sourceAppName": "app",
        "taskId": "t1",
        "executable": {"type": "DOCKER", "url": "img", "dockerPullTimeout": "100 seconds"},
        "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
    }
)


def live(wake: Signal | None = None) -> LiveRun:
    record = TaskRecord(
        app="app",
        task_id="t1",
        instance_id="app-t1-1",
        state=TaskState.STARTING,
        spec=SPEC,
        created_at=0.0,
        updated_at=0.0,
    )
    return LiveRun(record, "h1", TAG, wake or Signal())


def texts(run: LiveRun) -> list[tuple[str, str]]:
    return [(line.stream, line.text) for line in run.lines]


async def test_output_is_kept_in_order_and_the_status_is_the_containers() -> None:
    run = live()
    run.on_line("stdout", b"out")
    run.on_line("stderr", b"err")
    ended = run.finish(7)
    assert (ended.kind, ended.status) == ("exited", 7)
    assert texts(run) == [("stdout", "out"), ("stderr", "err")]
    assert run.whole and run.output_seen


async def test_a_failure_before_the_run_is_the_scripts_with_its_words() -> None:
    run = live()
    run.on_line("stderr", b"core 1 is already taken on this host")
    run.on_line("stderr", f"{TAG} fail 76".encode())
    ended = run.finish(76)
    assert (ended.kind, ended.status) == ("failed", 76)
    assert ended.text == "core 1 is already taken on this host"
    assert run.lines == [] and not run.whole


@pytest.mark.parametrize(
    ("marker", "kind"), [("notstarted", "notstarted"), ("running", "detached")]
)
async def test_docker_status_markers(marker: str, kind: str) -> None:
    run = live()
    run.on_line("stderr", b'docker: Error response from daemon: exec: "nope": not found')
    run.on_line("stderr", b"")
    run.on_line("stderr", attached.DOCKER_HELP.encode())
    run.on_line("stderr", f"{TAG} {marker}".encode())
    ended = run.finish(127)
    assert ended.kind == kind
    assert not run.whole
    if kind == "notstarted":
        assert ended.text == 'docker: Error response from daemon: exec: "nope": not found'


async def test_dockers_create_warning_is_not_output_but_the_same_words_later_are() -> None:
    run = live()
    warning = b"WARNING: Your kernel does not support swap limit capabilities."
    run.on_line("stderr", warning)
    run.on_line("stdout", b"hello")
    run.on_line("stderr", warning)
    run.finish(0)
    assert texts(run) == [("stdout", "hello"), ("stderr", warning.decode())]


async def test_more_than_it_keeps_drops_the_oldest_and_is_not_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(attached, "KEEP_BYTES", 100)
    run = live()
    for i in range(50):
        run.on_line("stdout", f"line {i:02d}".encode())
    run.finish(0)
    assert run.first > 0 and run.lines[-1].text == "line 49"
    assert sum(len(line.text) + 1 for line in run.lines) <= 100
    assert not run.whole  # the local copy then comes from `docker logs`


async def test_the_first_line_and_the_end_wake_the_task() -> None:
    wake = Signal()
    run = live(wake)
    token = wake.token()
    run.on_line("stdout", b"x")
    await asyncio.wait_for(Signal.wait(token), 1)
    token = wake.token()
    run.finish(0)
    await asyncio.wait_for(Signal.wait(token), 1)
