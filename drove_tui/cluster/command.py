"""The one place a shell command line is made: parts quoted one by one, secrets masked in logs.

Nothing else in drove-tui formats user input into a shell string. A `Command` is an argument
vector, or commands joined by a few fixed operators (`&&`, `||`, `|`, `;`); every argument is
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
    """A remote command: an argument vector, or two commands joined by a shell operator."""

    __slots__ = ("_argv", "_left", "_op", "_right")

    def __init__(self, *parts: Part) -> None:
        if not parts:
            raise ValueError("a command needs at least one part")
        self._argv: tuple[str | Secret, ...] = tuple(_check(p) for p in parts)
        self._op: Operator | None = None
        self._left: Command | None = None
        self._right: Command | None = None

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
        joined._argv = ()
        joined._op, joined._left, joined._right = op, self, other
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
        if self._op is None:
            return " ".join(
                (MASK if masked else shlex.quote(p.value))
                if isinstance(p, Secret)
                else shlex.quote(p)
                for p in self._argv
            )
        assert self._left is not None and self._right is not None
        sides = []
        for side in (self._left, self._right):
            text = side._render(masked=masked)
            # Group a composed operand joined by another operator, so that `(a && b) | c`
            # means that and not `a && (b | c)` (the shell's own precedence).
            if side._op is not None and side._op != self._op:
                text = "{ " + text + "; }"
            sides.append(text)
        return f"{sides[0]} {self._op} {sides[1]}"

    def line(self) -> str:
        """The quoted shell line sent to the host (carries secrets: never log it)."""
        return self._render(masked=False)

    def argv(self) -> list[str]:
        """The argument vector of a simple command (for exec without a shell)."""
        if self._op is not None:
            raise ValueError("a composed command has no single argument vector; use line()")
        return [p.value if isinstance(p, Secret) else p for p in self._argv]

    def __str__(self) -> str:
        return self._render(masked=True)

    def __repr__(self) -> str:
        return f"Command({self._render(masked=True)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Command):
            return NotImplemented
        return self.line() == other.line()

    def __hash__(self) -> int:
        return hash(self.line())
