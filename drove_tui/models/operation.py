"""Drove's cluster operation spec and the task operation envelopes (CREATE, KILL)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from drove_tui.models.base import DroveModel
from drove_tui.models.spec import ID_PATTERN, Duration, TaskSpec


class FailureStrategy(StrEnum):
    STOP = "STOP"
    ROLLBACK = "ROLLBACK"


class ClusterOpSpec(DroveModel):
    """How long an operation may take and how many hosts it may touch at once."""

    timeout: Duration = Duration("5 minutes")
    parallelism: int = Field(default=1, ge=1, le=512)
    failure_strategy: FailureStrategy = FailureStrategy.STOP


class CreateTaskOperation(DroveModel):
    """Drove's CREATE: a task spec with its operation spec."""

    type: Literal["CREATE"]
    spec: TaskSpec
    op_spec: ClusterOpSpec = Field(default_factory=ClusterOpSpec)


class KillTaskOperation(DroveModel):
    """Drove's KILL of the task (sourceAppName, taskId)."""

    type: Literal["KILL"]
    source_app_name: str = Field(pattern=ID_PATTERN, strict=True)
    task_id: str = Field(pattern=ID_PATTERN, strict=True)
    op_spec: ClusterOpSpec = Field(default_factory=ClusterOpSpec)


TaskOperation = Annotated[CreateTaskOperation | KillTaskOperation, Field(discriminator="type")]
