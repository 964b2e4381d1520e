"""Task output kept locally, so it survives the container's removal and drove-tui's restarts.

One file per task under `<state file>.logs/<app>/<task>.log`, one line per output line
(`<epoch s>\\t<stdout|stderr>\\t<text>`), capped at MAX_BYTES with one rotated copy (`.1`).
Docker's `--timestamps` output is parsed here, so lines of both streams merge in time order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

from drove_tui.engine.events import LogLine

MAX_BYTES = 8 * 1024 * 1024
Stream = Literal["stdout", "stderr"]


def parse_docker_line(app: str, task_id: str, stream: Stream, raw: bytes) -> LogLine:
    """A `docker logs --timestamps` line (`2024-01-01T00:00:00.123456789Z text`) as a LogLine."""
    text = raw.decode("utf-8", "replace").rstrip("\n")
    stamp, _, rest = text.partition(" ")
    at = _parse_time(stamp)
    if at is None:  # not timestamped after all: keep the whole line
        return LogLine(app, task_id, stream, text, 0.0)
    return LogLine(app, task_id, stream, rest, at)


def _parse_time(stamp: str) -> float | None:
    if not stamp.endswith("Z") or "T" not in stamp:
        return None
    # Python parses at most microseconds; docker writes nanoseconds.
    head, _, frac = stamp[:-1].partition(".")
    try:
        moment = datetime.fromisoformat(f"{head}.{(frac or '0')[:6]:0<6}+00:00")
    except ValueError:
        return None
    return moment.timestamp()


class LogStore:
    """Bounded, rotated local copies of task output."""

    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @classmethod
    def beside(cls, state_path: str | Path) -> LogStore:
        """The kept logs of the store at `state_path` (in `<state>.logs/`)."""
        return cls(Path(f"{state_path}.logs"))

    def path(self, app: str, task_id: str) -> Path:
        """Where the task's output is kept."""
        return self.root / app / f"{task_id}.log"

    def write(self, lines: Iterable[LogLine]) -> None:
        """Append lines, rotating when the file passes the cap (the oldest copy is dropped)."""
        by_task: dict[tuple[str, str], list[str]] = {}
        for line in lines:
            text = line.text.replace("\n", " ").replace("\t", " ")
            by_task.setdefault((line.app, line.task_id), []).append(
                f"{line.at:.6f}\t{line.stream}\t{text}\n"
            )
        for (app, task_id), rows in by_task.items():
            path = self.path(app, task_id)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            data = "".join(rows).encode()
            if path.exists() and path.stat().st_size + len(data) > self.max_bytes:
                os.replace(path, path.with_suffix(".log.1"))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as out:
                out.write(data[-self.max_bytes :])

    def replace(self, app: str, task_id: str, lines: Iterable[LogLine]) -> None:
        """Keep `lines` as the task's whole output, instead of what was kept before."""
        self.delete(app, task_id)
        self.write(lines)

    def read(self, app: str, task_id: str, *, tail: int | None = None) -> list[LogLine]:
        """The kept lines, oldest first (the rotated copy first), the last `tail` if given."""
        path = self.path(app, task_id)
        lines: list[LogLine] = []
        for part in (path.with_suffix(".log.1"), path):
            if part.exists():
                lines.extend(_parse_file(app, task_id, part))
        return lines if tail is None else lines[max(0, len(lines) - tail) :]  # tail 0: none

    def delete(self, app: str, task_id: str) -> None:
        """Forget the task's output (when the task record is deleted)."""
        path = self.path(app, task_id)
        for part in (path, path.with_suffix(".log.1")):
            part.unlink(missing_ok=True)


def _parse_file(app: str, task_id: str, path: Path) -> Iterator[LogLine]:
    with path.open("r", encoding="utf-8", errors="replace") as src:
        for row in src:
            at, _, rest = row.rstrip("\n").partition("\t")
            stream, _, text = rest.partition("\t")
            try:
                moment = float(at)
            except ValueError:
                continue
            kind: Stream = "stderr" if stream == "stderr" else "stdout"
            yield LogLine(app, task_id, kind, text, moment)


def merge_capture(app: str, task_id: str, stdout: bytes, stderr: bytes) -> list[LogLine]:
    """Both streams of a `docker logs --timestamps` capture, merged in time order."""
    lines = [parse_docker_line(app, task_id, "stdout", raw) for raw in stdout.splitlines()]
    lines += [parse_docker_line(app, task_id, "stderr", raw) for raw in stderr.splitlines()]
    return sorted(lines, key=lambda line: line.at)
