"""Errors a user can cause, each carrying its documented exit code (docs/cli.md#exit-codes).

Everything the front doors print to a person goes through these: one clear sentence that names
the place (file, field path, host) and what to do. A traceback shown to a user is a bug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a task (or one host of a fan-out) did not succeed; generic failure
    INVALID_INPUT = 2  # bad spec, inventory, CLI flags
    NOT_PLACED = 3  # no host could take the task within the operation timeout
    PROVISIONING_FAILED = 4
    LOST = 5
    KILLED = 6
    HOST_ERROR = 7  # host unreachable, host key unknown or changed, docker down
    STORE_ERROR = 8  # state file corrupt, unreadable or locked
    NOT_FOUND = 9  # no such task (Drove's "No task found" message)
    INTERRUPTED = 130


class DroveError(Exception):
    """Base of every error a user can cause; str(err) is the sentence shown to them."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InvalidInput(DroveError):  # noqa: N818 (the contract's name, used everywhere)
    """A spec, inventory or flag is wrong. May carry several messages at once."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []

    def __str__(self) -> str:
        head = super().__str__()
        if not self.details:
            return head
        return head + "\n" + "\n".join(f"  - {d}" for d in self.details)


class HostError(DroveError):
    exit_code = ExitCode.HOST_ERROR


class StoreError(DroveError):
    exit_code = ExitCode.STORE_ERROR


class TaskNotFound(DroveError):  # noqa: N818 (the contract's name)
    exit_code = ExitCode.NOT_FOUND
