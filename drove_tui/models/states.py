"""Drove's task states, the moves allowed between them, and the task result.

The table follows Drove's executor state machine (docs/states.md has the diagram). Two
additions make recovery expressible and are the only places we differ from Drove:

- any live state may become UNKNOWN (drove-tui restarted, or the task's host went silent);
- UNKNOWN may become whatever the host really holds once it is polled again (see
  ``TRANSITIONS[TaskState.UNKNOWN]``), not only Drove's RUNNING / RUN_COMPLETED / LOST.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class TaskState(StrEnum):
    """The ten states of a Drove task instance."""

    PENDING = "PENDING"
    PROVISIONING = "PROVISIONING"
    PROVISIONING_FAILED = "PROVISIONING_FAILED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    RUN_COMPLETED = "RUN_COMPLETED"
    DEPROVISIONING = "DEPROVISIONING"
    STOPPED = "STOPPED"
    LOST = "LOST"
    UNKNOWN = "UNKNOWN"


# Drove marks these three terminal: the task will not run again. PROVISIONING_FAILED may still
# move to DEPROVISIONING (cleanup), but nothing of the task runs any more.
TERMINAL: frozenset[TaskState] = frozenset(
    {TaskState.PROVISIONING_FAILED, TaskState.STOPPED, TaskState.LOST}
)

# Drove's "live" states: the task holds (or is about to hold) resources on a host.
LIVE: frozenset[TaskState] = frozenset(
    {
        TaskState.PENDING,
        TaskState.PROVISIONING,
        TaskState.STARTING,
        TaskState.RUNNING,
        TaskState.RUN_COMPLETED,
        TaskState.DEPROVISIONING,
    }
)

_S = TaskState

# Drove's table (reference section 4), before the recovery additions below.
_DROVE: dict[TaskState, frozenset[TaskState]] = {
    _S.PENDING: frozenset({_S.PROVISIONING, _S.STOPPED}),
    _S.PROVISIONING: frozenset({_S.STARTING, _S.PROVISIONING_FAILED}),
    _S.PROVISIONING_FAILED: frozenset({_S.DEPROVISIONING}),
    _S.STARTING: frozenset({_S.RUNNING, _S.RUN_COMPLETED}),
    _S.RUNNING: frozenset({_S.RUN_COMPLETED}),
    _S.RUN_COMPLETED: frozenset({_S.DEPROVISIONING}),
    _S.DEPROVISIONING: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset(),
    _S.LOST: frozenset(),
    # UNKNOWN -> the state the host really shows. Beyond Drove's RUNNING / RUN_COMPLETED /
    # LOST: PENDING (a task whose container was never created may be placed again),
    # PROVISIONING / STARTING (resume a create interrupted by a crash; the deterministic
    # container name stops a second create), DEPROVISIONING / STOPPED (the run had already
    # completed and its result is kept, so a vanished container is not a loss).
    _S.UNKNOWN: frozenset(
        {
            _S.PENDING,
            _S.PROVISIONING,
            _S.STARTING,
            _S.RUNNING,
            _S.RUN_COMPLETED,
            _S.DEPROVISIONING,
            _S.STOPPED,
            _S.LOST,
        }
    ),
}


def _with_recovery(
    table: dict[TaskState, frozenset[TaskState]],
) -> dict[TaskState, frozenset[TaskState]]:
    """Add the moves every non-terminal state has: to LOST, and (unless already) to UNKNOWN."""
    result: dict[TaskState, frozenset[TaskState]] = {}
    for state, targets in table.items():
        extra: set[TaskState] = set()
        if state not in TERMINAL:
            extra.add(_S.LOST)
            if state is not _S.UNKNOWN:
                extra.add(_S.UNKNOWN)
        result[state] = frozenset(targets | extra)
    return result


TRANSITIONS: dict[TaskState, frozenset[TaskState]] = _with_recovery(_DROVE)


def is_terminal(state: TaskState) -> bool:
    """True when the task will never run again (PROVISIONING_FAILED, STOPPED, LOST)."""
    return state in TERMINAL


def can_move(old: TaskState, new: TaskState) -> bool:
    """True when the state machine allows ``old -> new``."""
    return new in TRANSITIONS[old]


class TaskStatus(StrEnum):
    """Drove's result status: success or failure is a result, not a state."""

    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    LOST = "LOST"
    TIMED_OUT = "TIMED_OUT"


class TaskResult(BaseModel):
    """Drove's ``taskResult``: ``{"status": ..., "exitCode": N}``."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    status: TaskStatus
    exit_code: int = Field(alias="exitCode")

    @classmethod
    def from_exit_code(cls, exit_code: int) -> TaskResult:
        """0 is SUCCESSFUL, anything else FAILED (Drove's rule)."""
        status = TaskStatus.SUCCESSFUL if exit_code == 0 else TaskStatus.FAILED
        return cls(status=status, exit_code=exit_code)

    @classmethod
    def cancelled(cls) -> TaskResult:
        """A kill: CANCELLED/-1."""
        return cls(status=TaskStatus.CANCELLED, exit_code=-1)

    @classmethod
    def lost(cls) -> TaskResult:
        """A vanished container or a host gone past the grace: LOST/-1."""
        return cls(status=TaskStatus.LOST, exit_code=-1)
