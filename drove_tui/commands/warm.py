"""The warm path of `drove-tui --run`: hand the run to a warm server that keeps this store's
engine open (SSH connections up, hosts probed, images known), as ssh's ControlPersist keeps
a master connection. The first run starts the server; it exits after DROVE_TUI_WARM seconds
(default 60) with no run and no task to drive. docs/cli.md#warm-server says it for users.

This module is the client. It imports only the standard library (plus errors and paths), so a
warm run costs the interpreter's start, the parser, and one Unix-socket round trip. It reads
the spec file itself (where the user stands: relative paths, `-`, `/dev/stdin`, `<(cmd)`) and
hands the server its stdout and stderr as descriptors (SCM_RIGHTS), so the server writes
straight to the user's terminal or pipe, colours and spinner included. The server answers
"accepted"; only after the client's "GO" does it create anything, so a client that gave up
waiting and runs the task itself can never run it twice. Ctrl-C is forwarded; the exit code
comes back.

Anything that keeps the warm path from working (no private runtime directory, a server that
does not start or answer) falls back to running in this process, saying why in one line:
the warm server is an accelerator, never the only way.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import io
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from drove_tui.errors import ExitCode, InvalidInput
from drove_tui.paths import resolve_state_path

# Annotations only: a warm run never imports typing (10 ms); mypy reads this as typing's own.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from types import FrameType
    from typing import Any

ENV = "DROVE_TUI_WARM"
INVENTORY_ENV = "DROVE_TUI_INVENTORY"
DEFAULT_IDLE_S = 60.0
MAX_IDLE_S = 7 * 86400.0
START_TIMEOUT_S = 30.0  # a cold interpreter on a loaded machine
ACCEPT_TIMEOUT_S = 10.0
SPEC_LIMIT = 8 * 1024 * 1024  # the spec loader refuses far less than this with a sentence
ANOTHER_SERVER = 75  # the server's exit status when another one holds the lock
PROTOCOL = 2
# The run options the server needs (cli.py's names); everything else stays here.
RUN_FIELDS = (
    "run",
    "fan_out",
    "parallel",
    "fail_fast",
    "detach",
    "json",
    "timeout",
    "kill_on_interrupt",
)


class UnavailableError(Exception):
    """The warm path cannot be used here; the run goes on in this process."""


def idle_seconds(environ: Mapping[str, str]) -> float | None:
    """How long a warm server stays after its last run; None when warm runs are off."""
    raw = environ.get(ENV, "").strip()
    if raw == "":
        return DEFAULT_IDLE_S
    if raw.lower() in ("off", "no", "false"):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise InvalidInput(
            f"{ENV}={raw!r}: give the seconds a warm server stays after its last run "
            "(e.g. 60), or 0 to run every task in its own process"
        ) from None
    if not 0 <= seconds <= MAX_IDLE_S:
        raise InvalidInput(f"{ENV}={raw!r}: give 0 to {MAX_IDLE_S:g} seconds")
    return seconds or None


class Place:
    """Where the warm server of one (state file, inventory, code) lives. (A plain class:
    `dataclasses` and `typing` cost a warm run 30 ms to import.)"""

    __slots__ = ("inventory", "key", "lock", "log", "socket", "state")

    def __init__(
        self, key: str, socket: Path, lock: Path, log: Path, state: Path, inventory: str | None
    ) -> None:
        self.key = key
        self.socket = socket
        self.lock = lock
        self.log = log
        self.state = state  # absolute
        self.inventory = inventory  # as the user gave it (flag or environment)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Place) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Place(key={self.key!r}, socket={str(self.socket)!r})"


def locate(args: argparse.Namespace, environ: Mapping[str, str]) -> Place:
    """The server for this run's store and inventory. Its key changes when the inventory,
    ~/.ssh/config, the ssh-agent or drove-tui's own code changes, so a stale server is never
    used: a new one starts, and the old one leaves when idle."""
    state = Path(os.path.abspath(resolve_state_path(getattr(args, "state", None), environ)))
    inventory = getattr(args, "inventory", None) or environ.get(INVENTORY_ENV) or None
    parts = [
        str(PROTOCOL),
        str(os.getuid()),
        sys.executable,
        str(state),
        _identity(inventory),
        _identity(str(Path.home() / ".ssh" / "config")),
        # A new login session's agent: the old server's one may be gone.
        environ.get("SSH_AUTH_SOCK", ""),
        _code_stamp(),
    ]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
    base = runtime_dir(environ)
    return Place(
        key,
        base / f"{key}.sock",
        base / f"{key}.lock",
        base / f"{key}.log",
        state,
        inventory,
    )


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """$XDG_RUNTIME_DIR/drove-tui, else /tmp/drove-tui-UID: created 0700, and refused unless
    it is a real directory of ours that nobody else can enter."""
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if xdg and Path(xdg).is_absolute() and Path(xdg).is_dir():
        base = Path(xdg) / "drove-tui"
    else:
        base = Path("/tmp") / f"drove-tui-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    info = base.lstat()
    if not base.is_dir() or base.is_symlink():
        raise UnavailableError(f"{base} is not a directory")
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UnavailableError(f"{base} is not private to this user (owner and mode 0700 needed)")
    return base


def _identity(path: str | None) -> str:
    if path is None:
        return "-"
    full = os.path.abspath(os.path.expanduser(path))
    try:
        st = os.stat(full)
    except OSError:
        return f"{full} missing"
    return f"{full} {st.st_ino} {st.st_size} {st.st_mtime_ns}"


def _code_stamp() -> str:
    """Changes whenever any module of drove-tui changes (an upgrade, an edit)."""
    root = Path(__file__).resolve().parent.parent
    newest = 0
    count = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
                count += 1
    return f"{root} {count} {newest}"


def run(args: argparse.Namespace) -> int | None:
    """Run `--run` on the warm server; None when it should run in this process instead."""
    if getattr(args, "no_warm", False):
        return None
    idle = idle_seconds(os.environ)
    if idle is None:
        return None
    spec = _read_spec(args.run)
    if spec is None:
        return None  # this process says what is wrong with the file, in the usual words
    try:
        place = locate(args, os.environ)
    except (UnavailableError, OSError) as err:
        _fallback(f"no warm server ({err})", spec)
        return None
    request = _request(args, place, spec)
    why = "the warm server kept refusing"
    for _ in range(3):
        conn = _connect(place.socket) or _start(place, idle)
        if conn == BAD_INPUT:
            _fallback(None, spec)  # the inventory or the state file: said here properly
            return None
        if not isinstance(conn, socket.socket):
            why = f"the warm server did not start (its log: {place.log})"
            break
        with conn:
            answer = _converse(conn, request, place)
        if isinstance(answer, int):
            return answer
        if answer != RETRY:
            why = answer
            break
    _fallback(why, spec)
    return None


RETRY = "retry"  # the server retired (its state file was replaced): start a new one


def _fallback(why: str | None, spec: tuple[bytes, str]) -> None:
    """Say why the run happens in this process; hand it the spec a pipe gave us."""
    if why is not None:
        print(f"drove-tui: {why}; running in this process", file=sys.stderr)
    if spec[1] == "<stdin>":
        sys.stdin = io.TextIOWrapper(io.BytesIO(spec[0]))


def _read_spec(path: str) -> tuple[bytes, str] | None:
    """The spec file's bytes and the name messages give it, read here: the server must
    never open `/dev/stdin`, `<(cmd)` or a relative path in its own place, nor block on a
    slow pipe. None when it cannot be read (the run in this process then tells why)."""
    if path == "-":
        return sys.stdin.buffer.read(SPEC_LIMIT), "<stdin>"
    try:
        with open(path, "rb") as handle:
            return handle.read(SPEC_LIMIT), path
    except OSError:
        return None


def _request(args: argparse.Namespace, place: Place, spec: tuple[bytes, str]) -> bytes:
    fields: dict[str, object] = {name: getattr(args, name, None) for name in RUN_FIELDS}
    body: dict[str, object] = {
        "v": PROTOCOL,
        "key": place.key,
        "options": fields,
        "inventory": place.inventory,
        "state": getattr(args, "state", None),
        "no_colour": bool(os.environ.get("NO_COLOR")),
        "spec": {"name": spec[1], "data": base64.b64encode(spec[0]).decode()},
    }
    return json.dumps(body).encode() + b"\n"


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with address(path) as where:
            conn.connect(where)
    except OSError:
        conn.close()
        return None
    return conn


@contextlib.contextmanager
def address(path: Path) -> Iterator[str]:
    """`path` as a socket address. Addresses are limited to 107 bytes; a longer path is
    reached through a descriptor of its directory (/proc/self/fd/N/NAME)."""
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


BAD_INPUT = "bad input"  # the server refused to start over the inventory or the state file


def _start(place: Place, idle: float) -> socket.socket | str | None:
    """Start the server (detached, in its own session) and connect once it listens. When
    another server holds the lock, wait for it to listen, or to leave and free the lock."""
    deadline = time.monotonic() + START_TIMEOUT_S
    proc = _spawn(place, idle)
    while proc is not None and time.monotonic() < deadline:
        conn = _connect(place.socket)
        if conn is not None:
            return conn
        status = proc.poll()
        if status == ANOTHER_SERVER and _lock_free(place.lock):
            proc = _spawn(place, idle)  # the other one left meanwhile
        elif status is not None and status != ANOTHER_SERVER:
            return BAD_INPUT if 2 <= status < 10 else None
        time.sleep(0.01)
    return None


def _spawn(place: Place, idle: float) -> subprocess.Popen[bytes] | None:
    import subprocess  # only when a server has to be started

    cmd = [
        sys.executable,
        "-P",  # never import from the user's working directory
        "-m",
        "drove_tui.commands.warm_server",
        "--socket",
        str(place.socket),
        "--lock",
        str(place.lock),
        "--state",
        str(place.state),
        "--idle",
        f"{idle:g}",
        "--key",
        place.key,
    ]
    if place.inventory is not None:
        cmd += ["--inventory", place.inventory]
    fd = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True
        )
    except OSError:
        return None
    finally:
        os.close(fd)


def _lock_free(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return True


def _converse(conn: socket.socket, request: bytes, place: Place) -> int | str:
    """Send the request with our stdout and stderr; once the server accepts, say GO (from
    then on the run is the server's: no fallback can run it twice); forward Ctrl-C; return
    the exit code, or why not (RETRY: start a new server)."""
    fds = [_usable(1), _usable(2)]
    try:
        sent = socket.send_fds(conn, [request], fds)
        conn.sendall(request[sent:])  # a long spec does not go in one message
        conn.settimeout(ACCEPT_TIMEOUT_S)
        lines = _lines(conn)
        first = next(lines, None)
        if first is None:
            return RETRY  # it closed before a word (it was retiring): ask a new one
        if not first.get("accepted"):
            if first.get("retry"):
                return RETRY
            return f"the warm server did not take the run ({first.get('why')})"
        conn.sendall(b"GO\n")
        conn.settimeout(None)
    except TimeoutError:
        return f"the warm server did not answer within {ACCEPT_TIMEOUT_S:g} s"
    except OSError:
        return RETRY  # reset before GO: nothing ran there; ask a new one
    finally:
        for fd in fds:
            if fd > 2:
                os.close(fd)
    interrupts = 0

    def interrupted(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            raise KeyboardInterrupt  # the second Ctrl-C leaves at once, as without a server
        with contextlib.suppress(OSError):
            conn.sendall(b"INT\n")

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        for message in lines:
            if "exit" in message:
                return int(message["exit"])
    except OSError:
        pass  # reset by a server that stopped: said below
    finally:
        signal.signal(signal.SIGINT, previous)
    print(
        f"drove-tui: lost the warm server before the run ended (its log: {place.log}); "
        "the task may go on: see `drove-tui tasks list`",
        file=sys.stderr,
    )
    return int(ExitCode.FAILED)


def _usable(fd: int) -> int:
    """`fd` itself, or /dev/null when this process was started with it closed."""
    try:
        os.fstat(fd)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)
    return fd


def _lines(conn: socket.socket) -> Iterator[dict[str, Any]]:
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            yield json.loads(line)
        chunk = conn.recv(4096)
        if not chunk:
            return
        buffer += chunk
