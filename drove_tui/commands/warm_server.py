"""The warm server behind `drove-tui --run` (commands/warm.py is its client).

One server per (state file, inventory, drove-tui code): it keeps one Engine open, so a run
finds the SSH connections up, the hosts probed and the images known, and costs only its own
docker round trips. Each client connection is one `--run`: the request carries the run
options, the client's stdout, stderr and working directory (as descriptors); the server runs
the very code a cold process runs (`run.run_on`) with its output on the client's streams, and
answers with the exit code. "INT" from the client (Ctrl-C), or the client going away, is the
run's interrupt: it detaches (or kills, with --kill-on-interrupt), and the server goes on
driving the task, so nothing is lost.

It leaves when no run and no task it drives has been active for --idle seconds, or on
SIGTERM/SIGINT (the Engine then hands its tasks back, as any closing engine does).
Started by the client as `python -P -m drove_tui.commands.warm_server ...`, detached, with
its stdout and stderr on the log file beside the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import io
import json
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

from drove_tui.commands.output import Terminal, emit
from drove_tui.commands.run import RunOptions, load_options, plan, run_on
from drove_tui.commands.warm import ANOTHER_SERVER, PROTOCOL, RUN_FIELDS, address
from drove_tui.commands.warm_stream import ClientStream
from drove_tui.engine.engine import Engine
from drove_tui.errors import DroveError, ExitCode
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import Inventory

log = logging.getLogger("drove_tui.warm")
REQUEST_LIMIT = 16 * 1024 * 1024
IDLE_CHECK_S = 0.5


class WarmServer:
    """Accepts runs on a Unix socket and runs them on one shared Engine."""

    def __init__(self, engine: Engine, inventory: Inventory, key: str, idle_s: float) -> None:
        self.engine = engine
        self.inventory = inventory
        self.key = key
        self.idle_s = idle_s
        self.active = 0
        self.last_activity = time.monotonic()
        self.closing = asyncio.Event()
        self._home = os.open(".", os.O_RDONLY)  # the server's own working directory

    def idle(self) -> bool:
        """True when nothing has happened for idle_s: no run, no task driven here."""
        if self.active or self.engine.driving():
            self.last_activity = time.monotonic()
            return False
        return time.monotonic() - self.last_activity >= self.idle_s

    async def serve(self, listener: socket.socket) -> None:
        """Accept runs until idle or told to close."""
        handlers: set[asyncio.Task[None]] = set()
        accepting = asyncio.create_task(self._accept(listener, handlers))
        try:
            while not self.closing.is_set() and not self.idle():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), IDLE_CHECK_S)
        finally:
            accepting.cancel()
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(accepting, *handlers, return_exceptions=True)

    async def _accept(self, listener: socket.socket, handlers: set[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            handler = asyncio.create_task(self.handle(conn))
            handlers.add(handler)
            handler.add_done_callback(handlers.discard)

    async def handle(self, conn: socket.socket) -> None:
        """One client: read its request, run it, answer with the exit code."""
        self.active += 1
        fds: list[int] = []
        try:
            if not _same_user(conn):
                log.warning("refused a client of another user")
                return
            conn.settimeout(10)
            raw, fds = await asyncio.to_thread(_receive, conn)
            conn.setblocking(False)
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            if request.get("v") != PROTOCOL or request.get("key") != self.key or len(fds) != 3:
                await _send(conn, {"accepted": False})
                return
            await _send(conn, {"accepted": True})
            stdout, stderr, cwd = fds
            fds = []
            code = await self.run(request, conn, ClientStream(stdout), ClientStream(stderr), cwd)
            await _send(conn, {"exit": code})
        except (OSError, ValueError) as err:
            log.info("a client went away: %r", err)
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()
            self.active -= 1
            self.last_activity = time.monotonic()

    async def run(
        self,
        request: dict[str, Any],
        conn: socket.socket,
        out: ClientStream,
        err: ClientStream,
        cwd: int,
    ) -> int:
        """Load the options where the client stands, run, and close the client's streams once
        all is written (the client's shell prompt then comes after the last line, and a pipe
        reader sees its end)."""
        stop = asyncio.Event()
        listener = asyncio.create_task(_listen(conn, stop, (out, err)))
        stdout, stderr = cast(TextIO, out), cast(TextIO, err)
        try:
            try:
                opts = self._options(request, cwd)
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
            os.close(cwd)
            await asyncio.gather(out.finish(), err.finish())
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    def _options(self, request: dict[str, Any], cwd: int) -> RunOptions:
        """The run's options, read with the client's working directory and standard input.
        Synchronous on purpose: nothing else runs on this loop meanwhile."""
        given = request.get("options") or {}
        args = argparse.Namespace(**{name: given.get(name) for name in RUN_FIELDS})
        args.fail_fast = bool(args.fail_fast)
        args.detach = bool(args.detach)
        args.json = bool(args.json)
        args.kill_on_interrupt = bool(args.kill_on_interrupt)
        args.inventory = request.get("inventory")
        args.state = request.get("state")
        stdin = base64.b64decode(request.get("stdin") or "")
        saved = sys.stdin
        os.fchdir(cwd)
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            return load_options(args)
        finally:
            sys.stdin = saved
            os.fchdir(self._home)


def _same_user(conn: socket.socket) -> bool:
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", raw)
    return bool(uid == os.getuid())


def _receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    """The request line and the descriptors that came with its first bytes."""
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 8)
    while not data.endswith(b"\n"):
        if len(data) > REQUEST_LIMIT:
            raise ValueError("request too large")
        more = conn.recv(1 << 16)
        if not more:
            raise ValueError("request cut short")
        data += more
    return data, list(fds)


async def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    await asyncio.get_running_loop().sock_sendall(conn, json.dumps(message).encode() + b"\n")


async def _listen(
    conn: socket.socket, stop: asyncio.Event, streams: tuple[ClientStream, ...]
) -> None:
    """ "INT" is Ctrl-C; the client gone is one too, and nothing more is written to streams
    nobody reads (a terminal would show it after the shell's prompt)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await loop.sock_recv(conn, 64)
        except OSError:
            chunk = b""
        if not chunk:
            for stream in streams:
                _silence(stream)
            stop.set()
            return
        if b"INT" in chunk:
            stop.set()


def _silence(stream: ClientStream) -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


@contextlib.contextmanager
def listening(path: str) -> Iterator[socket.socket]:
    """A Unix socket at `path`, mode 0600, put in place atomically once it listens; removed
    on the way out unless another server has replaced it since."""
    temp = f"{path}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with address(Path(temp)) as where:
        listener.bind(where)
    os.chmod(temp, 0o600)
    listener.listen(64)
    listener.setblocking(False)
    os.replace(temp, path)
    mine = os.stat(path).st_ino
    try:
        yield listener
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == mine:
                os.unlink(path)


async def serve(args: argparse.Namespace, inventory: Inventory) -> int:
    """Open the engine, listen, serve until idle or signalled."""
    loop = asyncio.get_running_loop()
    async with Engine.open(inventory, args.state) as engine:
        server = WarmServer(engine, inventory, args.key, args.idle)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.closing.set)
        with listening(args.socket) as listener:
            log.info("serving %s (state %s, idle %gs)", args.socket, args.state, args.idle)
            await server.serve(listener)
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
        return ANOTHER_SERVER  # its client connects to the one that holds the lock
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    try:
        inventory = load_inventory(args.inventory)
        return asyncio.run(serve(args, inventory))
    except DroveError as err:
        # Bad input or an unusable state file: the client runs in its own process, which
        # tells the user in the usual words.
        log.error("not started: %s", err)
        return int(err.exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
