"""A deterministic engine for the app's snapshot and behaviour tests (and the bench).

Fixed data and a frozen clock: nothing in a picture depends on when or where it was taken.
Tests push events with `emit()` and log lines with `emit_log()`.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import AsyncIterator, Mapping

from drove_tui.engine.events import Event, LogLine, TaskChanged
from drove_tui.errors import InvalidInput, TaskNotFound
from drove_tui.models.host import HostFacts, HostState, HostStatus, ManagedContainer, NumaNode
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskResult, TaskState
from drove_tui.models.task import TaskRecord, Transition

NOW = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC; the frozen "now" of every picture
HOSTS = ("host1", "host2", "host3", "host4")


def frozen_clock() -> float:
    """The tests' clock: always NOW."""
    return NOW


def make_spec(app: str, task_id: str, cores: int = 1, memory_mb: int = 256) -> TaskSpec:
    """A valid spec with a secret env var (to prove masking)."""
    return TaskSpec.model_validate(
        {
            "sourceAppName": app,
            "taskId": task_id,
            "executable": {"type": "DOCKER", "url": "127.0.0.1:5000/busybox:latest"},
            "resources": [
                {"type": "CPU", "count": cores},
                {"type": "MEMORY", "sizeInMB": memory_mb},
            ],
            "env": {"DB_PASSWORD": "hunter2", "MODE": "batch"},
            "args": ["sh", "-c", "echo hello; sleep 1"],
        }
    ).masked()


def make_record(
    app: str,
    task_id: str,
    state: TaskState,
    *,
    host: str | None = "host1",
    age: float = 600.0,
    ran: float | None = 120.0,
    exit_code: int | None = None,
    cores: int = 1,
) -> TaskRecord:
    """A record `age` seconds old that started 5 s after creation and ran `ran` seconds."""
    created = NOW - age
    started = created + 5 if ran is not None and host else None
    finished = (
        started + ran if started is not None and ran is not None and exit_code is not None else None
    )
    result = TaskResult.from_exit_code(exit_code) if exit_code is not None else None
    if state is TaskState.LOST:
        result = TaskResult.lost()
    return TaskRecord(
        app=app,
        task_id=task_id,
        instance_id=f"{app}-{task_id}-0a1b2c3d",
        state=state,
        spec=make_spec(app, task_id, cores),
        host=host,
        numa_node=0 if host else None,
        cores=list(range(cores)) if host else [],
        memory_mb=256 if host else 0,
        container_id="c0ffee1234567890" if host else None,
        result=result,
        error=f"Task instance exited with status: {exit_code}" if exit_code else None,
        reason="waiting for a host with 1 free core" if state is TaskState.PENDING else "",
        created_at=created,
        updated_at=created + 10,
        started_at=started,
        finished_at=finished,
    )


def sample_tasks() -> list[TaskRecord]:
    """A dozen tasks covering every colour: pending, active, done, failed, lost, unknown."""
    s = TaskState
    return [
        make_record("billing", "invoice-run", s.RUNNING, host="host1", ran=None, age=300),
        make_record("billing", "ledger-close", s.STOPPED, host="host2", exit_code=0, age=3600),
        make_record("billing", "tax-export", s.STOPPED, host="host1", exit_code=3, age=7200),
        make_record("search", "reindex", s.PROVISIONING, host="host2", ran=None, age=20),
        make_record("search", "warmup", s.PENDING, host=None, ran=None, age=15),
        make_record("search", "compact", s.STARTING, host="host1", ran=None, age=8),
        make_record("ml", "train-small", s.RUNNING, host="host2", ran=None, age=5400, cores=2),
        make_record("ml", "eval", s.LOST, host="host3", ran=None, age=9000),
        make_record("ml", "score", s.UNKNOWN, host="host3", ran=None, age=400),
        make_record("ops", "backup", s.PROVISIONING_FAILED, host="host1", ran=None, age=50),
        make_record("ops", "rotate-logs", s.DEPROVISIONING, host="host2", exit_code=0, age=90),
        make_record("ops", "vacuum", s.RUN_COMPLETED, host="host1", exit_code=0, age=70),
    ]


def make_container(
    app: str,
    task: str,
    cores: list[int],
    numa: int,
    *,
    memory_mb: int = 256,
    running: bool = True,
    owner: str | None = None,
) -> ManagedContainer:
    """A managed container as a probe reports it (`owner`: the store that placed it)."""
    return ManagedContainer(
        name=f"drove-{app}-{task}",
        container_id="c0ffee",
        app=app,
        task_id=task,
        instance_id=f"{app}-{task}-0a1b2c3d",
        running=running,
        exit_code=None if running else 0,
        cores=cores,
        numa=numa,
        memory_mb=memory_mb,
        owner=owner,
    )


def sample_hosts() -> list[HostStatus]:
    """Two healthy hosts, one unreachable, one with docker down."""

    def facts(containers: list[ManagedContainer]) -> HostFacts:
        return HostFacts(
            cores=8,
            numa=[
                NumaNode(id=0, cores=[0, 1, 2, 3], memory_mb=8192),
                NumaNode(id=1, cores=[4, 5, 6, 7], memory_mb=8192),
            ],
            memory_total_mb=16384,
            memory_available_mb=12000,
            arch="x86_64",
            kernel="6.1.0",
            docker_version="24.0.7",
            containers=containers,
        )

    box = make_container

    def status(
        name: str,
        state: HostState,
        ok_ago: float,
        checked_ago: float,
        facts: HostFacts | None = None,
        reason: str | None = None,
    ) -> HostStatus:
        return HostStatus(
            name=name,
            state=state,
            reason=reason,
            facts=facts,
            last_ok=NOW - ok_ago,
            checked_at=NOW - checked_ago,
        )

    host1 = facts([box("billing", "invoice-run", [0], 0), box("search", "compact", [1], 0)])
    host2 = facts([box("ml", "train-small", [4, 5], 1)])
    return [
        status("host1", HostState.ONLINE, 2, 2, host1),
        status("host2", HostState.ONLINE, 4, 4, host2),
        status("host3", HostState.UNREACHABLE, 300, 3, reason="connection refused"),
        status("host4", HostState.DOCKER_DOWN, 60, 5, reason="docker daemon not running"),
    ]


class FakeEngine:
    """Implements drove_tui.tui.backend.Backend over in-memory data."""

    def __init__(
        self,
        tasks: list[TaskRecord] | None = None,
        hosts: list[HostStatus] | None = None,
        *,
        recovering: bool = False,
        log_lines: list[str] | None = None,
    ) -> None:
        self.records = {
            (r.app, r.task_id): r for r in (tasks if tasks is not None else sample_tasks())
        }
        self.statuses = {h.name: h for h in (hosts if hosts is not None else sample_hosts())}
        self.is_recovering = recovering
        self.log_lines = (
            log_lines
            if log_lines is not None
            else [f"line {i}: hello from the task" for i in range(40)]
        )
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.logs_queue: asyncio.Queue[LogLine | None] = asyncio.Queue()
        self.follow_logs = False
        self.killed: list[tuple[str, str]] = []
        self.probed: list[str] = []
        self.trusted: list[tuple[str, str]] = []
        self.submitted: list[tuple[TaskSpec, ClusterOpSpec | None, str | None]] = []
        # host -> containers another store placed there
        self.foreign_boxes: dict[str, list[ManagedContainer]] = {}

    inventory_label = "sandbox/inventory.yaml"
    store_label = "state.db"

    def recovering(self) -> bool:
        return self.is_recovering

    def tasks(self) -> list[TaskRecord]:
        return list(self.records.values())

    def hosts(self) -> list[HostStatus]:
        return list(self.statuses.values())

    def host_tags(self) -> Mapping[str, Mapping[str, str]]:
        return {"host1": {"zone": "a"}, "host2": {"zone": "b", "gpu": ""}}

    def foreign(self, host: str) -> list[ManagedContainer]:
        return self.foreign_boxes.get(host, [])

    def select_hosts(self, pattern: str) -> list[str]:
        names = list(self.statuses)
        parts = [p.strip() for p in pattern.split(",") if p.strip()]
        return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in parts)]

    def history(self, app: str, task_id: str) -> list[Transition]:
        r = self.records[(app, task_id)]
        return [
            Transition(
                at=r.created_at, from_state=None, to_state=TaskState.PENDING, reason="submitted"
            ),
            Transition(
                at=r.created_at + 1,
                from_state=TaskState.PENDING,
                to_state=TaskState.PROVISIONING,
                reason="placed on host1, NUMA node 0, cores 0",
            ),
        ]

    async def subscribe(self) -> AsyncIterator[Event]:
        while True:
            yield await self.events.get()

    async def logs(
        self, app: str, task_id: str, *, follow: bool, tail: int | None
    ) -> AsyncIterator[LogLine]:
        for i, text in enumerate(self.log_lines):
            yield LogLine(app, task_id, "stderr" if i % 10 == 9 else "stdout", text, NOW)
        while self.follow_logs:
            line = await self.logs_queue.get()
            if line is None:
                return
            yield line

    def emit(self, record: TaskRecord, reason: str = "test") -> None:
        """Change a task as the engine would, and publish the event."""
        old = self.records.get((record.app, record.task_id))
        self.records[(record.app, record.task_id)] = record
        transition = Transition(
            at=NOW, from_state=old.state if old else None, to_state=record.state, reason=reason
        )
        self.events.put_nowait(TaskChanged(record, transition))

    async def submit(
        self, spec: TaskSpec, *, op_spec: ClusterOpSpec | None, pin_host: str | None = None
    ) -> TaskRecord:
        if (spec.source_app_name, spec.task_id) in self.records:
            raise InvalidInput(f"Task already exists: {spec.source_app_name}/{spec.task_id}.")
        self.submitted.append((spec, op_spec, pin_host))
        record = make_record(
            spec.source_app_name, spec.task_id, TaskState.PENDING, host=None, ran=None, age=0
        )
        record = record.model_copy(update={"pin_host": pin_host})
        self.emit(record, "submitted")
        return record

    async def kill(self, app: str, task_id: str) -> TaskRecord:
        record = self.records.get((app, task_id))
        if record is None:
            raise TaskNotFound(f"No task found: {app}/{task_id}.")
        self.killed.append((app, task_id))
        return record

    async def probe(self, pattern: str) -> None:
        self.probed.append(pattern)

    async def host_key(self, host: str) -> str:
        return "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"

    async def trust(self, host: str, fingerprint: str) -> None:
        self.trusted.append((host, fingerprint))
