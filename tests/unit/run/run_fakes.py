"""A scripted stand-in for engine.Engine: the test moves the task; the follower watches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from drove_tui.commands.run import RunOptions
from drove_tui.engine.events import Event, LogLine, TaskChanged
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskResult, TaskState
from drove_tui.models.task import TaskRecord, Transition

SPEC_JSON: dict[str, Any] = {
    "sourceAppName": "ci",
    "taskId": "job1",
    "executable": {"type": "DOCKER", "url": "busybox", "dockerPullTimeout": "100 seconds"},
    "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
}


def make_spec(**changes: Any) -> TaskSpec:
    return TaskSpec.model_validate({**SPEC_JSON, **changes})


class FakeEngine:
    """Implements the EngineAPI of commands.run; every move is made by the test."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], TaskRecord] = {}
        self.subscribers: list[asyncio.Queue[Event]] = []
        self.log_queues: dict[tuple[str, str], asyncio.Queue[LogLine | None]] = {}
        self.submitted = asyncio.Event()
        self.submits: list[tuple[TaskSpec, ClusterOpSpec | None, str | None]] = []
        self.kills: list[tuple[str, str]] = []
        self.changed = asyncio.Condition()
        self.on_kill_state = TaskState.STOPPED
        # Autopilot for fan-out tests: host -> exit code; a submit pinned there walks by itself.
        self.autopilot: dict[str, int] = {}
        self.walkers: list[asyncio.Task[None]] = []

    async def submit(
        self, spec: TaskSpec, op_spec: ClusterOpSpec | None = None, pin_host: str | None = None
    ) -> TaskRecord:
        now = time.time()
        record = TaskRecord(
            app=spec.source_app_name,
            task_id=spec.task_id,
            instance_id=f"{spec.source_app_name}-{spec.task_id}-0",
            state=TaskState.PENDING,
            spec=spec,
            pin_host=pin_host,
            created_at=now,
            updated_at=now,
        )
        self.records[record.key] = record
        self.log_queues[record.key] = asyncio.Queue()
        self.submits.append((spec, op_spec, pin_host))
        self.submitted.set()
        if pin_host in self.autopilot:
            lines = [("stdout", f"hello from {pin_host}"), ("stderr", f"warn {pin_host}")]
            walk = self.walk(record.key, pin_host, self.autopilot[pin_host], lines)
            self.walkers.append(asyncio.create_task(walk))
        return record

    async def move(self, key: tuple[str, str], state: TaskState, **fields: Any) -> None:
        old = self.records[key]
        if state is TaskState.RUNNING:
            fields.setdefault("started_at", time.time())
        record = old.model_copy(update={"state": state, "updated_at": time.time(), **fields})
        self.records[key] = record
        transition = Transition(
            at=time.time(), from_state=old.state, to_state=state, reason=fields.get("reason", "")
        )
        for queue in self.subscribers:
            queue.put_nowait(TaskChanged(record, transition))
        async with self.changed:
            self.changed.notify_all()
        if state in TERMINAL:
            self.log_queues[key].put_nowait(None)

    async def walk(
        self, key: tuple[str, str], host: str, exit_code: int, lines: list[tuple[str, str]] = ()
    ) -> None:  # type: ignore[assignment]
        """The ordinary life: placed on `host`, runs, writes `lines`, exits `exit_code`."""
        await self.move(key, TaskState.PROVISIONING, host=host)
        await self.move(key, TaskState.STARTING)
        await self.move(key, TaskState.RUNNING)
        for stream, text in lines:
            self.log(key, stream, text)
        await self.move(key, TaskState.RUN_COMPLETED, result=TaskResult.from_exit_code(exit_code))
        await self.move(key, TaskState.DEPROVISIONING)
        await self.move(key, TaskState.STOPPED)

    def log(self, key: tuple[str, str], stream: str, text: str) -> None:
        self.log_queues[key].put_nowait(LogLine(key[0], key[1], stream, text, time.time()))  # type: ignore[arg-type]

    async def kill(self, app: str, task: str) -> TaskRecord:
        self.kills.append((app, task))
        from drove_tui.models.states import TaskStatus

        await self.move(
            (app, task),
            self.on_kill_state,
            result=TaskResult(status=TaskStatus.CANCELLED, exit_code=-1),
        )
        return self.records[(app, task)]

    def get(self, app: str, task: str) -> TaskRecord | None:
        return self.records.get((app, task))

    def subscribe(self) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self.subscribers.append(queue)  # registered now, not at the first __anext__

        async def events() -> AsyncIterator[Event]:
            try:
                while True:
                    yield await queue.get()
            finally:
                self.subscribers.remove(queue)

        return events()

    async def logs(
        self, app: str, task: str, *, follow: bool = False, tail: int | None = None
    ) -> AsyncIterator[LogLine]:
        queue = self.log_queues[(app, task)]
        while (line := await queue.get()) is not None:
            yield line

    async def wait(self, app: str, task: str) -> TaskRecord:
        async with self.changed:
            await self.changed.wait_for(lambda: self.records[(app, task)].state in TERMINAL)
        return self.records[(app, task)]


def options(**changes: Any) -> RunOptions:
    """RunOptions for a single run of make_spec(), overridable by keyword."""
    base: dict[str, Any] = dict(
        spec=make_spec(),
        op_spec=None,
        parallel_default=None,
        inventory="inv.yaml",
        state=None,
        fan_out=None,
        parallel=None,
        fail_fast=False,
        detach=False,
        json=False,
        kill_on_interrupt=False,
    )
    return RunOptions(**{**base, **changes})
