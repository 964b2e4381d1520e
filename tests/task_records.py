"""A TaskRecord as the store keeps it, for tests that write a state file directly."""

from __future__ import annotations

import time
from typing import Any

from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord


def task_record(task: str, state: TaskState, app: str = "app", **fields: Any) -> TaskRecord:
    """A busybox task of 1 core and 64 MB, created a minute ago unless `created_at` says."""
    spec = TaskSpec.model_validate(
        {
            "sourceAppName": app,
            "taskId": task,
            "executable": {"type": "DOCKER", "url": "busybox:latest"},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
        }
    )
    created = float(fields.pop("created_at", time.time() - 60))
    values: dict[str, Any] = {
        "app": app,
        "task_id": task,
        "instance_id": f"{app}-{task}-00000000",
        "state": state,
        "spec": spec,
        "memory_mb": 64,
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    return TaskRecord(**values)
