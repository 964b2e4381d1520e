"""The one place a shell command line is made: parts quoted one by one, secrets masked in logs.

Nothing else in drove-tui formats user input into a shell string. A `Command` is a list of
argument vectors joined by a few fixed operators (`&&`, `||`, `|`, `;`); every argument is
quoted with `shlex.quote`, so a spec value such as `$(touch /tmp/x)` reaches the host as that
literal text. Parts wrapped by `Command.secret()` appear as `******` in `str(cmd)`, which is
what logs and the UI show; only `cmd.line()` (sent to the host) carries the real value.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from drove_tui.models.inventory import HostConfig

MASK = "******"
Operator = Literal["&&", "||", "|", ";"]


@dataclass(frozen=True)
class Secret:
    """A command part whose value must never be shown (env values marked secret, tokens)."""

    value: str

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


Part = str | int | Secret


def _check(part: object) -> str | Secret:
    if isinstance(part, Secret):
        text = part.value
    elif isinstance(part, bool) or not isinstance(part, str | int):
        # A Path or a list formatted into a command is almost always a bug at the call site.
        raise TypeError(f"command parts are str, int or Secret, not {type(part).__name__}")
    else:
        text = str(part)
    if "\x00" in text:
        raise ValueError("a command part may not contain a NUL byte")
    return part if isinstance(part, Secret) else text


class Command:
    """A remote command: argument vectors joined by fixed shell operators."""

    __slots__ = ("_argvs", "_ops")

    def __init__(self, *parts: Part) -> None:
        if not parts:
            raise ValueError("a command needs at least one part")
        self._argvs: tuple[tuple[str | Secret, ...], ...] = (tuple(_check(p) for p in parts),)
        self._ops: tuple[Operator, ...] = ()

    @staticmethod
    def secret(value: str) -> Secret:
        """Mark a part secret: sent to the host as is, shown as ****** everywhere else."""
        return Secret(value)

    @classmethod
    def docker(cls, host: HostConfig | str, *args: Part) -> Command:
        """`docker ARGS` with the host's docker prefix (e.g. "sudo docker") split by shlex."""
        prefix = host if isinstance(host, str) else host.docker
        return cls(*shlex.split(prefix), *args)

    @classmethod
    def script(cls, text: str, *args: Part) -> Command:
        """`sh -c TEXT sh ARGS...`: a fixed script whose inputs arrive only as "$1".. "$@".

        TEXT must be constant program text, never built from user input; pass user values as
        ARGS so that they are quoted like any other part.
        """
        return cls("sh", "-c", text, "sh", *args)

    def _join(self, op: Operator, other: Command) -> Command:
        joined = Command.__new__(Command)
        joined._argvs = self._argvs + other._argvs
        joined._ops = (*self._ops, op, *other._ops)
        return joined

    def then(self, other: Command) -> Command:
        """`self && other`."""
        return self._join("&&", other)

    def otherwise(self, other: Command) -> Command:
        """`self || other`."""
        return self._join("||", other)

    def pipe(self, other: Command) -> Command:
        """`self | other`."""
        return self._join("|", other)

    def after(self, other: Command) -> Command:
        """`self ; other` (run other whatever self's status)."""
        return self._join(";", other)

    @staticmethod
    def sh_and(first: Command, *rest: Command) -> Command:
        """`a && b && ...`."""
        joined = first
        for cmd in rest:
            joined = joined.then(cmd)
        return joined

    def _render(self, *, masked: bool) -> str:
        words: list[str] = []
        for index, argv in enumerate(self._argvs):
            if index:
                words.append(self._ops[index - 1])
            for part in argv:
                if isinstance(part, Secret):
                    words.append(MASK if masked else shlex.quote(part.value))
                else:
                    words.append(shlex.quote(part))
        return " ".join(words)

    def line(self) -> str:
        """The quoted shell line sent to the host (carries secrets: never log it)."""
        return self._render(masked=False)

    def argv(self) -> list[str]:
        """The argument vector of a simple command (for exec without a shell)."""
        if self._ops:
            raise ValueError("a composed command has no single argument vector; use line()")
        return [p.value if isinstance(p, Secret) else p for p in self._argvs[0]]

    def __str__(self) -> str:
        return self._render(masked=True)

    def __repr__(self) -> str:
        return f"Command({self._render(masked=True)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Command):
            return NotImplemented
        return self._argvs == other._argvs and self._ops == other._ops

    def __hash__(self) -> int:
        return hash((self._argvs, self._ops))
