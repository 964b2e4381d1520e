"""A task run attached: what its channel's lines and exit status mean (engine/attached.py)."""

from __future__ import annotations

import asyncio

import pytest

from drove_tui.engine import attached
from drove_tui.engine.attached import LiveRun
from drove_tui.engine.signals import Signal
from drove_tui.models.inventory import HostConfig
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
    run.on_line("stderr", f"{TAG} exit 7".encode())
    ended = run.finish(7)
    assert (ended.kind, ended.status) == ("exited", 7)
    assert texts(run) == [("stdout", "out"), ("stderr", "err")]
    assert run.whole and run.output_seen


@pytest.mark.parametrize("status", [0, 255])
async def test_without_the_closing_marker_the_status_is_not_taken_as_the_exit(
    status: int,
) -> None:
    # The script was cut short (killed: ssh says 255): the container may still run.
    run = live()
    run.on_line("stdout", b"out")
    ended = run.finish(status)
    assert ended.kind == "detached"
    assert not run.whole  # its output then comes from docker logs


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
    monkeypatch.setattr(attached, "KEEP_BYTES", 2000)
    run = live()
    for i in range(500):
        run.on_line("stdout", f"line {i:03d} é".encode())  # more bytes than characters
    run.on_line("stderr", f"{TAG} exit 0".encode())
    run.finish(0)
    assert run.first > 0 and run.lines[-1].text == "line 499 é"
    cost = sum(len(line.text.encode()) + attached.LINE_OVERHEAD for line in run.lines)
    assert 2000 // 4 < cost <= 2000  # bounded, and not emptied by a drifting count
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


@pytest.mark.parametrize(("channels", "attached_at_most"), [(8, 3), (4, 1), (3, 0), (1, 0)])
def test_a_host_keeps_channels_for_probes_kills_and_followers(
    channels: int, attached_at_most: int
) -> None:
    runs = attached.Attached(engine=None)  # type: ignore[arg-type]
    host = HostConfig(name="h1", address="x", max_channels=channels)
    taken = 0
    while runs.room(host) and taken < channels:
        key = ("app", f"t{taken}")
        runs._runs[key] = live()  # a channel held for a task's whole life
        taken += 1
    assert taken == attached_at_most
    if attached_at_most:
        next(iter(runs._runs.values())).finish(0)
        assert runs.room(host)  # an ended run holds no channel


async def test_a_run_given_up_tells_its_followers_it_ended() -> None:
    runs = attached.Attached(engine=None)  # type: ignore[arg-type]
    run = live()
    runs._runs[("app", "t1")] = run
    token = run.changed.token()
    runs.forget(("app", "t1"))
    await asyncio.wait_for(Signal.wait(token), 1)
    assert run.ended is not None and run.ended.kind == "broken"
    assert not run.whole and runs.get(("app", "t1")) is None
