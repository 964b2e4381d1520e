"""What `drove-tui --run` shows: progress, container output, the fan-out summary, JSON lines.

Two renderers share one small interface so that run.py and fanout.py never ask "is this JSON?":

- `HumanOutput`: progress on stderr (a spinner line on a terminal, plain lines otherwise),
  container stdout to stdout and stderr to stderr, prefixed with the host name in a stable
  colour during a fan-out, and a summary table on stderr at the end.
- `JsonOutput`: one JSON object per line on stdout; events carry `"event"`, and a task's final
  line is its Drove TaskInfo as is (no wrapper), so `tail -n1 | jq .taskResult` works.

Imports only the standard library: it is on the start-up path of every headless run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

# 256-colour codes that read on both dark and light backgrounds; red is left out so that a
# host never looks like an error.
_PALETTE = (33, 35, 36, 37, 69, 70, 75, 99, 130, 135, 141, 166, 170, 172, 178, 208)
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_RESET = "\x1b[0m"
_CLEAR_LINE = "\r\x1b[K"


@dataclass(frozen=True)
class SummaryRow:
    """One host's line in the fan-out summary."""

    host: str
    task_id: str
    state: str  # a TaskState, or NOT_STARTED / ERROR when no task ran there
    exit_code: int | None  # drove-tui's exit code for this host; 0 only when it succeeded
    duration_s: float | None
    note: str = ""


def emit(stream: TextIO, text: str) -> None:
    """Write and flush. A reader that went away (`drove-tui --run job | head`) is not an
    error: the task is followed to its end all the same and the exit code tells its result."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        _silence(stream)


def _silence(stream: TextIO) -> None:
    # Point the descriptor at /dev/null, so later writes and the interpreter's final flush
    # do not fail again (a StringIO has no descriptor and never breaks).
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


async def drain(stream: TextIO) -> None:
    """Wait until `stream` has room, when it can say so (a warm server's client stream);
    this process's own streams block in write() instead and have nothing to wait for."""
    waiting = getattr(stream, "drain", None)
    if waiting is not None:
        await waiting()


def host_colour(host: str) -> int:
    """A 256-colour code for HOST that is the same in every run (sha256, not hash())."""
    digest = hashlib.sha256(host.encode()).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def use_colour(stream: TextIO, *, no_colour: bool | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org); `no_colour`
    is NO_COLOR as the user's own process saw it (None: this process's environment)."""
    if os.environ.get("NO_COLOR") if no_colour is None else no_colour:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def format_duration(seconds: float | None) -> str:
    """`0.4s`, `12.0s`, `3m05s`, or `-` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def summary_lines(rows: Sequence[SummaryRow]) -> list[str]:
    """The summary as aligned plain-text lines, header first."""
    header = ("HOST", "TASK", "STATE", "EXIT", "DURATION", "NOTE")
    cells = [
        (
            r.host,
            r.task_id,
            r.state,
            "-" if r.exit_code is None else str(r.exit_code),
            format_duration(r.duration_s),
            r.note,
        )
        for r in rows
    ]
    return table_lines(header, cells)


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Every table the CLI prints: the header, then the rows, each cell left-aligned to its
    column's widest cell, two spaces between columns, no trailing spaces."""
    table = [headers, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


@dataclass(frozen=True)
class Terminal:
    """Where one run's output goes: this process's own streams, or the streams a warm
    client handed to the warm server (commands/warm_server.py), with the client's NO_COLOR."""

    stdout: TextIO
    stderr: TextIO
    no_colour: bool = False

    @classmethod
    def here(cls) -> Terminal:
        """This process's stdout and stderr, and its NO_COLOR."""
        return cls(sys.stdout, sys.stderr, bool(os.environ.get("NO_COLOR")))

    def output(self, *, json: bool, hosts: Sequence[str] = ()) -> Output:
        """The renderer for one run (or one fan-out over `hosts`)."""
        if json:
            return JsonOutput(self.stdout)
        return HumanOutput(
            self.stdout,
            self.stderr,
            hosts=hosts,
            interactive=use_colour(self.stderr, no_colour=self.no_colour),
            colour=use_colour(self.stdout, no_colour=self.no_colour),
        )


class Output(Protocol):
    """What the run and fan-out code tell the person or program watching."""

    def progress(self, message: str, *, host: str | None = None, **fields: Any) -> None:
        """A step of the task's life (state change, pull progress, why it is pending)."""

    def log_line(self, stream: str, text: str, *, host: str | None = None) -> None:
        """One line the container wrote on `stream` ("stdout" or "stderr")."""

    def notice(self, message: str, **fields: Any) -> None:
        """Something the user must read (detached, how to follow); never hidden."""

    def task_done(self, info: dict[str, Any]) -> None:
        """The final Drove TaskInfo of one task."""

    def task_ident(self, app: str, task_id: str) -> None:
        """The task's address, for scripts (after --detach)."""

    def summary(self, rows: Sequence[SummaryRow], exit_code: int) -> None:
        """The fan-out's closing table."""

    def close(self) -> None:
        """Clear anything transient (the spinner line)."""

    async def drain(self) -> None:
        """Wait while the reader lags far behind (a warm server's client streams); the log
        stream then waits too, instead of the output piling up in memory."""


class HumanOutput:
    """Readable text: progress and notices on stderr, container output on its own stream."""

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        *,
        hosts: Sequence[str] = (),
        interactive: bool | None = None,
        colour: bool | None = None,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        # A spinner only makes sense where a line can be rewritten in place.
        self.interactive = use_colour(self.stderr) if interactive is None else interactive
        self.colour = use_colour(self.stdout) if colour is None else colour
        self._width = max((len(h) for h in hosts), default=0)
        self._prefixed = len(hosts) > 0
        self._spinner_text: str | None = None
        self._frame = 0
        self._started = time.monotonic()

    def _prefix(self, host: str | None, stream: TextIO) -> str:
        if not self._prefixed or host is None:
            return ""
        label = host.ljust(self._width)
        if self.colour if stream is self.stdout else self.interactive:
            return f"\x1b[38;5;{host_colour(host)}m{label}{_RESET} | "
        return f"{label} | "

    def _clear_spinner(self) -> None:
        if self._spinner_text is not None:
            emit(self.stderr, _CLEAR_LINE)

    def _draw_spinner(self) -> None:
        if self._spinner_text is None:
            return
        frame = _SPINNER[self._frame % len(_SPINNER)]
        elapsed = format_duration(time.monotonic() - self._started)
        emit(self.stderr, f"{_CLEAR_LINE}{frame} {self._spinner_text} ({elapsed})")

    def tick(self) -> None:
        """Advance the spinner by one frame (called on a timer while waiting)."""
        self._frame += 1
        self._draw_spinner()

    def progress(self, message: str, *, host: str | None = None, **fields: Any) -> None:
        """On a terminal, replace the spinner text; otherwise print one plain line."""
        if self.interactive and not self._prefixed:
            self._spinner_text = message
            self._draw_spinner()
            return
        self._clear_spinner()
        emit(self.stderr, f"{self._prefix(host, self.stderr)}{message}\n")

    def log_line(self, stream: str, text: str, *, host: str | None = None) -> None:
        """Write a container line to the same stream it came from, keeping the spinner last."""
        target = self.stderr if stream == "stderr" else self.stdout
        self._clear_spinner()
        emit(target, f"{self._prefix(host, target)}{text.rstrip(chr(10))}\n")
        self._draw_spinner()

    def notice(self, message: str, **fields: Any) -> None:
        """Always a plain stderr line, after clearing the spinner."""
        self._clear_spinner()
        self._spinner_text = None
        emit(self.stderr, message + "\n")

    def task_done(self, info: dict[str, Any]) -> None:
        """Human mode says nothing more: the exit code speaks, and the progress said the rest."""
        self.stop_spinner()

    def task_ident(self, app: str, task_id: str) -> None:
        """`APP TASK` on stdout, so a script can `read app task` and call `tasks wait`."""
        emit(self.stdout, f"{app} {task_id}\n")

    def stop_spinner(self) -> None:
        """Remove the spinner line for good (the task is running or over)."""
        self._clear_spinner()
        self._spinner_text = None

    def summary(self, rows: Sequence[SummaryRow], exit_code: int) -> None:
        """The table, then one line saying which hosts failed."""
        self.stop_spinner()
        lines = summary_lines(rows)
        failed = [r.host for r in rows if r.exit_code != 0]
        if failed:
            verdict = f"{len(failed)} of {len(rows)} hosts did not succeed: {', '.join(failed)}"
        else:
            verdict = f"all {len(rows)} hosts succeeded"
        emit(self.stderr, "\n" + "\n".join(lines) + "\n" + verdict + "\n")

    def close(self) -> None:
        """Leave the terminal as it was."""
        self.stop_spinner()

    async def drain(self) -> None:
        """Wait for slow readers of either stream (see Output.drain)."""
        await drain(self.stdout)
        await drain(self.stderr)


class JsonOutput:
    """JSON lines on stdout; every line parses on its own."""

    def __init__(self, stdout: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout

    def _emit(self, obj: dict[str, Any]) -> None:
        # ensure_ascii=False keeps container text readable; separators keep lines short.
        emit(self.stdout, json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")

    def progress(self, message: str, *, host: str | None = None, **fields: Any) -> None:
        """`{"event": "progress", ...}` with whatever structured fields the caller has."""
        self._emit(
            {"event": fields.pop("event", "progress"), "host": host, **fields, "message": message}
        )

    def log_line(self, stream: str, text: str, *, host: str | None = None) -> None:
        """`{"event": "log", "host", "stream", "text"}`."""
        self._emit({"event": "log", "host": host, "stream": stream, "text": text.rstrip("\n")})

    def notice(self, message: str, **fields: Any) -> None:
        """`{"event": "notice", ...}`."""
        self._emit({"event": fields.pop("event", "notice"), **fields, "message": message})

    def task_done(self, info: dict[str, Any]) -> None:
        """The TaskInfo itself, unwrapped."""
        self._emit(info)

    def task_ident(self, app: str, task_id: str) -> None:
        """Nothing: the TaskInfo line that follows carries sourceAppName and taskId."""

    def summary(self, rows: Sequence[SummaryRow], exit_code: int) -> None:
        """`{"event": "summary", "exitCode", "hosts": [...]}`."""
        hosts = [
            {
                "host": r.host,
                "taskId": r.task_id,
                "state": r.state,
                "exitCode": r.exit_code,
                "durationS": None if r.duration_s is None else round(r.duration_s, 3),
                "note": r.note,
            }
            for r in rows
        ]
        self._emit({"event": "summary", "exitCode": exit_code, "hosts": hosts})

    def close(self) -> None:
        """Nothing transient to clear."""

    async def drain(self) -> None:
        """Wait for a slow reader of stdout (see Output.drain)."""
        await drain(self.stdout)
