"""The warm server behind `drove-tui --run` (commands/warm.py is its client).

One server per (state file, inventory, drove-tui code): it keeps one Engine open, so a run
finds the SSH connections up, the hosts probed and the images known, and costs only its own
docker round trips. Each client connection is one `--run`: the request carries the run
options and the spec file's bytes, with the client's stdout and stderr as descriptors; the
server answers "accepted", waits for the client's "GO", runs the very code a cold process
runs (`run.run_on`) with its output on the client's streams, and answers with the exit code.
"INT" from the client (Ctrl-C), or the client going away, is the run's interrupt: it
detaches (or kills, with --kill-on-interrupt), and the server goes on driving the task, so
nothing is lost.

It stops accepting (socket removed, lock released, so a new server can start at once) when
no run and no task it drives has been active for --idle seconds, on SIGTERM/SIGINT, or when
its state file has been replaced; it then finishes what it drives and closes its Engine
(which hands its tasks back, as any closing engine does). Started by the client as
`python -P -m drove_tui.commands.warm_server ...`, detached, with its stdout and stderr on the
log file beside the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import struct
import time
from pathlib import Path
from typing import Any, TextIO, cast

from drove_tui.commands.output import Terminal, emit
from drove_tui.commands.run import RunOptions, load_options, plan, run_on
from drove_tui.commands.warm import ANOTHER_SERVER, PROTOCOL, RUN_FIELDS, address
from drove_tui.commands.warm_stream import ClientOutput
from drove_tui.engine.engine import Engine
from drove_tui.errors import DroveError, ExitCode
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import Inventory

log = logging.getLogger("drove_tui.warm")
REQUEST_LIMIT = 16 * 1024 * 1024
RECEIVE_TIMEOUT_S = 10.0
IDLE_CHECK_S = 0.5


class WarmServer:
    """Accepts runs on a Unix socket and runs them on one shared Engine."""

    def __init__(
        self, engine: Engine, inventory: Inventory, args: argparse.Namespace, lock: int
    ) -> None:
        self.engine = engine
        self.inventory = inventory
        self.key: str = args.key
        self.idle_s: float = args.idle
        self.socket_path: str = args.socket
        self.state_path: str = args.state
        self._lock = lock
        # Held open so that its inode cannot be reused by a new file at the same path.
        self._state = os.open(self.state_path, os.O_RDONLY | os.O_CLOEXEC)
        self.active = 0
        self.last_activity = time.monotonic()
        self.closing = asyncio.Event()
        self._stopped = asyncio.Event()
        self._listener: socket.socket | None = None
        self._socket_id: tuple[int, int] | None = None

    def idle(self) -> bool:
        """True when nothing has happened for idle_s: no run, no task driven here."""
        if self.active or self.engine.driving():
            self.last_activity = time.monotonic()
            return False
        return time.monotonic() - self.last_activity >= self.idle_s

    def listen(self) -> socket.socket:
        """A Unix socket at socket_path, mode 0600, put in place atomically once it listens."""
        temp = f"{self.socket_path}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with address(Path(temp)) as where:
            listener.bind(where)
        os.chmod(temp, 0o600)
        listener.listen(64)
        listener.setblocking(False)
        os.replace(temp, self.socket_path)
        self._socket_id = _file_id(self.socket_path)
        self._listener = listener
        return listener

    def retire(self) -> None:
        """Accept no more runs: remove the socket (unless another server's replaced it) and
        release the lock, so the next client starts a new server at once. Runs under way
        and tasks driven here go on until they end."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            if self._socket_id is not None and _file_id(self.socket_path) == self._socket_id:
                with contextlib.suppress(OSError):
                    os.unlink(self.socket_path)
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1
        self.closing.set()

    async def serve(self) -> None:
        """Accept runs until idle, told to close, or retired; then let the runs end."""
        handlers: set[asyncio.Task[None]] = set()
        listener = self.listen()
        accepting = asyncio.create_task(self._accept(listener, handlers))
        try:
            while not self.closing.is_set() and not self.idle():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), IDLE_CHECK_S)
            self.retire()
            accepting.cancel()
            # A retired server finishes what it has under way (unless stopped).
            while (self.active or self.engine.driving()) and not self._stopped.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), IDLE_CHECK_S)
        finally:
            self.retire()
            accepting.cancel()
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(accepting, *handlers, return_exceptions=True)

    def stop(self) -> None:
        """SIGTERM/SIGINT: stop now (runs under way are cut; the engine hands tasks back)."""
        self._stopped.set()
        self.retire()

    async def _accept(self, listener: socket.socket, handlers: set[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            handler = asyncio.create_task(self.handle(conn))
            handlers.add(handler)
            handler.add_done_callback(handlers.discard)

    async def handle(self, conn: socket.socket) -> None:
        """One client: read its request, wait for its GO, run, answer with the exit code."""
        self.active += 1
        fds: list[int] = []
        try:
            conn.setblocking(False)
            if not _same_user(conn):
                log.warning("refused a client of another user")
                return
            async with asyncio.timeout(RECEIVE_TIMEOUT_S):
                raw, fds = await _receive(conn)
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            refusal = self._refusal(request, fds)
            if refusal is not None:
                await _send(conn, refusal)
                return
            await _send(conn, {"accepted": True})
            lines = _Lines(conn)
            async with asyncio.timeout(RECEIVE_TIMEOUT_S):
                go = await lines.next()
            if go != b"GO":
                return  # the client gave up waiting and runs the task itself
            output = ClientOutput(*fds)
            fds = []
            code = await self.run(request, lines, output)
            await _send(conn, {"exit": code})
        except (OSError, ValueError, TimeoutError) as err:
            log.info("a client went away: %r", err)
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()
            self.active -= 1
            self.last_activity = time.monotonic()

    def _refusal(self, request: dict[str, Any], fds: list[int]) -> dict[str, Any] | None:
        if request.get("v") != PROTOCOL or request.get("key") != self.key or len(fds) != 2:
            return {"accepted": False, "why": "it belongs to another drove-tui"}
        if self._listener is None:
            return {"accepted": False, "retry": True, "why": "it is closing"}
        if self._state_replaced():
            log.info("the state file %s was replaced: retiring", self.state_path)
            self.retire()
            return {"accepted": False, "retry": True, "why": "its state file was replaced"}
        return None

    def _state_replaced(self) -> bool:
        """True when the state file at our path is not the one our engine has open (deleted,
        or another file put there): its runs would be invisible to every other command."""
        held = os.fstat(self._state)
        return _file_id(self.state_path) != (held.st_dev, held.st_ino)

    def close(self) -> None:
        """Retire and let go of the state file."""
        self.retire()
        if self._state >= 0:
            os.close(self._state)
            self._state = -1

    async def run(self, request: dict[str, Any], lines: _Lines, output: ClientOutput) -> int:
        """Run the request with its output on the client's streams; they are closed once all
        is written (the shell prompt then comes after the last line, and a pipe reader sees
        its end) or at once when the client has gone."""
        stop = asyncio.Event()
        listener = asyncio.create_task(_listen(lines, stop, output))
        stdout, stderr = cast(TextIO, output.stdout), cast(TextIO, output.stderr)
        try:
            try:
                opts = self._options(request)
                task_ids = plan(self.inventory, opts)
                term = Terminal(stdout, stderr, bool(request.get("no_colour")))
                return await run_on(self.engine, task_ids, opts, term, stop)
            except DroveError as problem:
                emit(stderr, f"drove-tui: {problem}\n")
                return int(problem.exit_code)
            except Exception:
                log.exception("a run failed")
                emit(stderr, "drove-tui: internal error in the warm server; see its log\n")
                return int(ExitCode.FAILED)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await output.finish()

    def _options(self, request: dict[str, Any]) -> RunOptions:
        """The run's options, with the spec the client read (relative paths, `-` and
        `<(cmd)` are the client's, never this process's)."""
        given = request.get("options") or {}
        args = argparse.Namespace(**{name: given.get(name) for name in RUN_FIELDS})
        for flag in ("fail_fast", "detach", "json", "kill_on_interrupt"):
            setattr(args, flag, bool(getattr(args, flag)))
        args.inventory = request.get("inventory")
        args.state = request.get("state")
        spec = request.get("spec") or {}
        raw = base64.b64decode(str(spec.get("data") or ""))
        return load_options(args, (raw, str(spec.get("name") or args.run)))


class _Lines:
    """Lines from the client ("GO", "INT"), read on the loop."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._buffer = b""

    async def next(self) -> bytes | None:
        """The next line, or None at the end (the client has gone)."""
        loop = asyncio.get_running_loop()
        while b"\n" not in self._buffer:
            try:
                chunk = await loop.sock_recv(self._conn, 256)
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.strip()


async def _listen(lines: _Lines, stop: asyncio.Event, output: ClientOutput) -> None:
    """ "INT" is Ctrl-C; the client gone is one too, and nothing more is written to streams
    nobody reads (a terminal would show it after the shell's prompt)."""
    while True:
        line = await lines.next()
        if line is None:
            output.drop()
            stop.set()
            return
        if line == b"INT":
            stop.set()


def _same_user(conn: socket.socket) -> bool:
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", raw)
    return bool(uid == os.getuid())


async def _receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    """The request line and the descriptors that came with it, read without blocking the
    loop; the descriptors are closed again if the request does not arrive whole."""
    loop = asyncio.get_running_loop()
    data = b""
    fds: list[int] = []
    try:
        while not data.endswith(b"\n"):
            try:
                chunk, got, _, _ = socket.recv_fds(conn, 1 << 16, 8)
            except BlockingIOError:
                await _readable(loop, conn)
                continue
            fds += got
            if not chunk:
                raise ValueError("request cut short")
            data += chunk
            if len(data) > REQUEST_LIMIT:
                raise ValueError("request too large")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return data, fds


async def _readable(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(conn.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(conn.fileno())


async def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    await asyncio.get_running_loop().sock_sendall(conn, json.dumps(message).encode() + b"\n")


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


async def serve(args: argparse.Namespace, inventory: Inventory, lock: int) -> int:
    """Open the engine, serve until idle, retired or signalled, close."""
    loop = asyncio.get_running_loop()
    async with Engine.open(inventory, args.state) as engine:
        server = WarmServer(engine, inventory, args, lock)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        log.info("serving %s (state %s, idle %gs)", args.socket, args.state, args.idle)
        try:
            await server.serve()
        finally:
            server.close()
    log.info("closed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drove-tui warm server")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--lock", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--inventory")
    parser.add_argument("--idle", type=float, required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s [{os.getpid()}] %(levelname)s %(message)s"
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # a line per channel otherwise
    lock = os.open(args.lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return ANOTHER_SERVER  # its client connects to the one that holds the lock
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    try:
        inventory = load_inventory(args.inventory)
        return asyncio.run(serve(args, inventory, lock))
    except DroveError as err:
        # Bad input or an unusable state file: the client runs in its own process, which
        # tells the user in the usual words.
        log.error("not started: %s", err)
        return int(err.exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
