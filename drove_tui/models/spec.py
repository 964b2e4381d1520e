"""Drove's task specification (reference section 1), field for field.

JSON names are Drove's camelCase; Python attributes are snake_case. Unions are keyed by
`type`. Unknown fields are errors. The parts live in small sibling modules (placement,
configs, durations) and are re-exported here so callers import one module.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from drove_tui.models.base import DroveModel
from drove_tui.models.configs import (
    ConfigSpec,
    ControllerHttpFetchConfig,
    ExecutorHttpFetchConfig,
    ExecutorLocalFileConfig,
    HttpCallSpec,
    InlineConfig,
    mask_config,
)
from drove_tui.models.durations import Duration
from drove_tui.models.placement import (
    AnyPlacement,
    CompositePlacement,
    PlacementPolicy,
    RuleBasedPlacement,
    walk_policies,
)

__all__ = [
    "AnyPlacement",
    "CPURequirement",
    "CompositePlacement",
    "ConfigSpec",
    "ControllerHttpFetchConfig",
    "DirectDevice",
    "DockerCoordinates",
    "Duration",
    "ExecutorHttpFetchConfig",
    "ExecutorLocalFileConfig",
    "HttpCallSpec",
    "InlineConfig",
    "LocalLogging",
    "MemoryRequirement",
    "MountedVolume",
    "PlacementPolicy",
    "RsyslogLogging",
    "RuleBasedPlacement",
    "TaskSpec",
    "UserSpec",
]

# Drove: @Pattern("[a-zA-Z\\d\\-_]*") plus @NotEmpty.
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_ARGS_LENGTH = 2048
# Env names whose values masked() hides (Drove has no secret marker of its own).
SECRET_ENV = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


class DockerCoordinates(DroveModel):
    """The container image; DOCKER is Drove's only executable type."""

    type: Literal["DOCKER"] = "DOCKER"
    url: str = Field(min_length=1)
    docker_pull_timeout: Duration = Duration("15 minutes")


class CPURequirement(DroveModel):
    """Whole cores; each is pinned (cpuset) to the container."""

    type: Literal["CPU"]
    count: int = Field(ge=1)


class MemoryRequirement(DroveModel):
    """Memory in MB; the container is capped at it."""

    type: Literal["MEMORY"]
    size_in_mb: int = Field(ge=1, alias="sizeInMB")


ResourceRequirement = Annotated[CPURequirement | MemoryRequirement, Field(discriminator="type")]


class MountMode(StrEnum):
    READ_WRITE = "READ_WRITE"
    READ_ONLY = "READ_ONLY"


class MountedVolume(DroveModel):
    """A host directory bind-mounted into the container."""

    path_in_container: str = Field(min_length=1)
    path_on_host: str = Field(min_length=1)
    mode: MountMode


class LocalLogging(DroveModel):
    """Docker's json-file driver with rotation."""

    type: Literal["LOCAL"]
    max_size: str = Field(default="10m", json_schema_extra={"pattern": "^[1-9][0-9]*[kmg]?$"})
    max_files: int = Field(default=3, ge=1, le=100)
    compress: bool = True

    @field_validator("max_size")
    @classmethod
    def _docker_size(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*[kmg]?", value):
            raise ValueError("is not a size; write a number with k, m or g, like '10m'")
        return value


class RsyslogLogging(DroveModel):
    """Docker's syslog driver to `server` (host:port)."""

    type: Literal["RSYSLOG"]
    server: str = Field(min_length=1)
    tag_prefix: str | None = None
    tag_suffix: str | None = None


LoggingSpec = Annotated[LocalLogging | RsyslogLogging, Field(discriminator="type")]


class DevicePermissions(StrEnum):
    READ_ONLY = "READ_ONLY"
    WRITE_ONLY = "WRITE_ONLY"
    MKNOD_ONLY = "MKNOD_ONLY"
    READ_WRITE = "READ_WRITE"
    ALL = "ALL"


# docker --device permission letters for each of Drove's names.
DEVICE_PERMISSION_FLAGS = {
    "READ_ONLY": "r",
    "WRITE_ONLY": "w",
    "MKNOD_ONLY": "m",
    "READ_WRITE": "rw",
    "ALL": "rwm",
}


class DirectDevice(DroveModel):
    """A host device passed to the container (docker --device)."""

    type: Literal["DIRECT"]
    path_on_host: str = Field(min_length=1)
    path_in_container: str | None = None
    permissions: DevicePermissions | None = None


class UserSpec(DroveModel):
    """Run the container as this user (name or uid) and optional group."""

    user: str = Field(min_length=1)
    group: str | None = None


class TaskSpec(DroveModel):
    """A Drove task specification."""

    # Strict: YAML reads `taskId: 0012` as the number 10; refuse rather than rename the task.
    source_app_name: str = Field(pattern=ID_PATTERN, strict=True)
    task_id: str = Field(pattern=ID_PATTERN, strict=True)
    executable: DockerCoordinates
    resources: list[ResourceRequirement] = Field(min_length=1)
    volumes: list[MountedVolume] = Field(default_factory=list)
    configs: list[ConfigSpec] = Field(default_factory=list)
    placement_policy: PlacementPolicy = Field(default_factory=AnyPlacement)
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    logging: LoggingSpec | None = None
    devices: list[DirectDevice] = Field(default_factory=list)
    user_spec: UserSpec | None = None

    @field_validator("args")
    @classmethod
    def _args_length(cls, value: list[str]) -> list[str]:
        length = len(" ".join(value))
        if length > MAX_ARGS_LENGTH:
            raise ValueError(
                f"the arguments joined are {length} characters; at most {MAX_ARGS_LENGTH}"
            )
        return value

    @field_validator("resources")
    @classmethod
    def _one_cpu_and_one_memory(cls, value: list[ResourceRequirement]) -> list[ResourceRequirement]:
        kinds = [r.type for r in value]
        if kinds.count("CPU") != 1 or kinds.count("MEMORY") != 1:
            raise ValueError(
                "give exactly one CPU entry ({type: CPU, count: N}) and one MEMORY entry "
                f"({{type: MEMORY, sizeInMB: N}}); got {', '.join(kinds)}"
            )
        return value

    @property
    def cpu_count(self) -> int:
        """Cores requested."""
        return next(r.count for r in self.resources if isinstance(r, CPURequirement))

    @property
    def memory_mb(self) -> int:
        """Memory requested, in MB."""
        return next(r.size_in_mb for r in self.resources if isinstance(r, MemoryRequirement))

    @property
    def effective_logging(self) -> LocalLogging | RsyslogLogging:
        """The logging spec, with Drove's default (LOCAL 10m x 3, compressed) when absent."""
        return self.logging or LocalLogging(type="LOCAL")

    @property
    def rules(self) -> list[tuple[str, RuleBasedPlacement]]:
        """Every RULE_BASED policy in the placement tree, with its field path."""
        return [
            (path, policy)
            for path, policy in walk_policies(self.placement_policy)
            if isinstance(policy, RuleBasedPlacement)
        ]

    def to_drove_json(self) -> dict[str, Any]:
        """The spec as Drove JSON (camelCase; absent optional blocks left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def masked(self) -> TaskSpec:
        """A copy safe to store and show: inline config data, HTTP credentials and env
        values whose name looks secret (PASS, SECRET, TOKEN, KEY, CREDENTIAL, AUTH) hidden."""
        env = {k: ("<masked>" if SECRET_ENV.search(k) and v else v) for k, v in self.env.items()}
        configs = [mask_config(c) for c in self.configs]
        return self.model_copy(update={"env": env, "configs": configs})
