"""What the store keeps about a task, its transitions, and Drove's TaskInfo view of it."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskResult, TaskState


class Transition(BaseModel):
    """One applied state change of a task; ``from_state`` is None for the creation."""

    model_config = ConfigDict(frozen=True)

    at: float  # epoch seconds
    from_state: TaskState | None
    to_state: TaskState
    reason: str


class TaskRecord(BaseModel):
    """Everything drove-tui remembers about one task instance. Key: (app, task_id)."""

    app: str
    task_id: str
    instance_id: str
    state: TaskState
    spec: TaskSpec  # secrets already masked when it comes back from the store
    op_timeout_s: float = 300.0
    host: str | None = None
    numa_node: int | None = None
    cores: list[int] = Field(default_factory=list)
    memory_mb: int = 0
    container_id: str | None = None
    result: TaskResult | None = None
    error: str | None = None
    reason: str = ""  # last transition reason, or why it is PENDING
    owner: str | None = None  # owning process (lease holder), None when free
    lease_until: float | None = None  # epoch seconds; the owner's lease lapses after this
    pin_host: str | None = None  # the operator asked for this host
    log_path: str | None = None  # the local copy of the task's logs, once there is one
    kill_requested_at: float | None = None  # epoch s the operator asked to kill it (any process)
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The task's address, as Drove users give it: (sourceAppName, taskId)."""
        return (self.app, self.task_id)

    @property
    def terminal(self) -> bool:
        """True when the task will never run again."""
        return self.state in TERMINAL

    def to_task_info(self) -> dict[str, Any]:
        """Drove's TaskInfo JSON (camelCase keys, epoch-ms times)."""
        spec = self.spec.model_dump(mode="json", by_alias=True)
        info = TaskInfo(
            source_app_name=self.app,
            task_id=self.task_id,
            instance_id=self.instance_id,
            executor_id=self.host,
            hostname=self.host,
            executable=spec.get("executable") or {},
            resources=self._allocated_resources(),
            volumes=spec.get("volumes") or [],
            # Drove shows the logging in effect: its default when the spec gave none.
            logging=self.spec.effective_logging.model_dump(mode="json", by_alias=True),
            env=spec.get("env") or {},
            tags=spec.get("tags") or {},
            state=self.state,
            task_result=self.result,
            error_message=self.error or "",
            created=int(self.created_at * 1000),
            updated=int(self.updated_at * 1000),
        )
        return info.model_dump(mode="json", by_alias=True)

    def _allocated_resources(self) -> list[dict[str, Any]]:
        # Drove shows what was allocated, keyed by NUMA node; nothing is allocated until placed.
        if self.numa_node is None:
            return []
        node = str(self.numa_node)
        return [
            {"type": "CPU", "cores": {node: list(self.cores)}},
            {"type": "MEMORY", "memoryInMB": {node: self.memory_mb}},
        ]


class TaskInfo(BaseModel):
    """Drove's TaskInfo shape, as `tasks show` returns it."""

    model_config = ConfigDict(populate_by_name=True)

    source_app_name: str = Field(alias="sourceAppName")
    task_id: str = Field(alias="taskId")
    instance_id: str = Field(alias="instanceId")
    executor_id: str | None = Field(alias="executorId")
    hostname: str | None
    executable: dict[str, Any]
    resources: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    logging: dict[str, Any] | None
    env: dict[str, str]
    tags: dict[str, str]
    state: TaskState
    task_result: TaskResult | None = Field(alias="taskResult")
    error_message: str = Field(alias="errorMessage")
    created: int  # epoch ms
    updated: int  # epoch ms


_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def make_instance_id(app: str, task_id: str, created_at: float) -> str:
    """``<app>-<task>-<8 hex>``: unique per run, so a re-created task gets a new container name."""
    digest = hashlib.sha256(f"{app}/{task_id}/{created_at!r}".encode()).hexdigest()[:8]
    return _UNSAFE.sub("_", f"{app}-{task_id}-{digest}")
