"""Fixtures for the store tests: a fresh store file and task records built from a small spec."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drove_tui.engine.store.sqlite import SqliteStore
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord, make_instance_id

SPEC: dict[str, Any] = {
    "sourceAppName": "app",
    "taskId": "t1",
    "executable": {"type": "DOCKER", "url": "busybox:latest", "dockerPullTimeout": "100 seconds"},
    "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
    "configs": [{"type": "INLINE", "localFilename": "/etc/x.txt", "data": "c2VjcmV0LWJ5dGVz"}],
    "env": {"DB_PASSWORD": "hunter2", "MODE": "fast"},
    "args": ["sh", "-c", "exit 3"],
}

RecordFactory = Callable[..., TaskRecord]


def build_record(
    task: str = "t1", app: str = "app", state: TaskState = TaskState.PENDING, **fields: Any
) -> TaskRecord:
    """A task record for (app, task) created at t=1000 unless fields say otherwise."""
    spec = TaskSpec.model_validate({**SPEC, "sourceAppName": app, "taskId": task})
    created = float(fields.pop("created_at", 1000.0))
    values: dict[str, Any] = {
        "app": app,
        "task_id": task,
        "instance_id": make_instance_id(app, task, created),
        "state": state,
        "spec": spec,
        "memory_mb": 64,
        "reason": "submitted",
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    return TaskRecord(**values)


@pytest.fixture
def make_record() -> RecordFactory:
    return build_record


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(state_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore.open(state_path)
    yield opened
    opened.close()
