"""Tasks run attached: the create script ends in `docker run` without --detach, so one SSH
channel carries the task's whole life. Its stdout and stderr arrive live (no `docker logs` of
its own), the script's closing marker gives the exit code (see executor.CREATE_SCRIPT), and
what it printed is kept from that stream (no log capture before the removal). Where the
host's docker socket serves, the script only reserves and docker's API runs the container
(engine/api_run.py): the same output, exit and ends, and no docker client on the host.

Whatever the channel cannot tell falls back to the detached way of watching a task: the host's
event stream and probes give the exit, and the removal captures `docker logs` first. That is
the case after a restart (the container is adopted), when the channel breaks, when the client
on the host or the script itself ended before the container, and when a task printed more
than KEEP_BYTES (the local copy must be whole).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import RunResult, StdinFeed, StreamName, TransportError
from drove_tui.engine import api_run, executor
from drove_tui.engine.events import LogLine
from drove_tui.engine.signals import Signal
from drove_tui.models.inventory import HostConfig
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

log = logging.getLogger(__name__)
Key = tuple[str, str]
# Output kept in memory per task for the local copy and for followers who join late; past it
# the oldest half goes and the removal captures `docker logs` instead.
KEEP_BYTES = 4 * 1024 * 1024
LINE_OVERHEAD = 120  # what a kept line costs beyond its text (a LogLine and its str)
DOCKER_HELP = "Run 'docker run --help' for more information"
SCRIPT_END_S = 10.0  # how long the reserve script gets to drop a reservation and end
# What `docker run` itself may say on stderr once it created the container, before its output
# (moby's create warnings): not the container's output.
DOCKER_WARNINGS = (
    "WARNING: Your kernel does not support",
    "WARNING: The requested image's platform",
    "WARNING: IPv4 forwarding is disabled",
)


EndKind = Literal["exited", "failed", "notstarted", "detached", "broken"]


@dataclass(frozen=True)
class Ended:
    """How the attached channel ended.

    exited: `status` is the container's exit code. failed: nothing was run (`status` is the
    create script's, see executor). notstarted: created but not started. detached: the exit
    is not known from the channel (the client on the host ended before the container, docker
    could not say, or the script was cut short). broken: the channel itself was lost.
    """

    kind: EndKind
    status: int = 0
    text: str = ""


class LiveRun:
    """One attached task: its output so far and, once known, how the channel ended."""

    def __init__(self, record: TaskRecord, host: str, tag: str, wake: Signal) -> None:
        self.app = record.app
        self.task_id = record.task_id
        self.host = host
        self.tag = tag
        self.lines: list[LogLine] = []
        self.first = 0  # the index in the whole output of lines[0] (older ones dropped)
        self.ended: Ended | None = None
        self.changed = Signal()  # fired on each line and at the end
        self._wake = wake  # the task's own signal: fired on the first line and at the end
        self._bytes = 0
        self._sizes: list[int] = []  # what each kept line costs, as counted in _bytes
        self._markers: list[str] = []
        self.reserved = asyncio.Event()  # the reserve script said so (engine/api_run.py)
        self._started = False
        self._stderr: deque[str] = deque(maxlen=20)  # docker's complaint, when nothing ran

    @property
    def output_seen(self) -> bool:
        """True once the container printed on stdout, or docker said it started (stderr does
        not tell: docker's own complaints come there)."""
        return self._started

    @property
    def marked(self) -> bool:
        """True once the script said how it ended (or that it reserved: `reserved`)."""
        return bool(self._markers)

    def mark_started(self) -> None:
        """Docker said the container started (a run through its API)."""
        self._started = True
        self._wake.fire()

    def drop_output(self) -> None:
        """Forget the lines kept: they were docker's and the script's words, not output."""
        self.lines.clear()
        self._sizes.clear()
        self._bytes = 0

    def reset(self) -> None:
        """Forget all the channel said (its script is replaced by another)."""
        self.drop_output()
        self.first = 0
        self._markers.clear()
        self._stderr.clear()
        self._started = False
        self.reserved.clear()

    @property
    def whole(self) -> bool:
        """True when `lines` is the container's whole output, as docker would give it."""
        return self.first == 0 and self.ended is not None and self.ended.kind == "exited"

    def on_line(self, stream: StreamName, raw: bytes) -> None:
        """One line from the channel: a marker of the script's, docker's word, or output."""
        text = raw.decode("utf-8", "replace")
        if stream == "stderr":
            if text.startswith(self.tag + " "):
                marker = text[len(self.tag) + 1 :].strip()
                if marker == "reserved":
                    self.reserved.set()
                else:
                    self._markers.append(marker)
                return
            if not self.lines and text.startswith(DOCKER_WARNINGS):
                log.info("docker on %s: %s", self.host, text)  # said at create, not output
                return
            self._stderr.append(text)
        self.lines.append(LogLine(self.app, self.task_id, stream, text, time.time()))
        size = len(raw) + LINE_OVERHEAD
        self._sizes.append(size)
        self._bytes += size
        if self._bytes > KEEP_BYTES:
            drop = len(self.lines) // 2 or 1
            self._bytes -= sum(self._sizes[:drop])
            del self.lines[:drop]
            del self._sizes[:drop]
            self.first += drop
        if stream == "stdout" and not self._started:
            self._started = True
            self._wake.fire()  # the container runs: its start need not wait for the event
        self.changed.fire()

    def finish(self, status: int) -> Ended:
        """The channel ended with `status`: what that means is in the script's last marker
        (see executor); without one the script was cut short, and nothing is assumed."""
        said = self._markers[-1].split() if self._markers else []
        word, arg = (said[0], said[1] if len(said) > 1 else "") if said else ("", "")
        number = int(arg) if arg.lstrip("-").isdigit() else None
        if word == "fail":
            ended = Ended("failed", number or 1, self._docker_text())
        elif word == "exit" and number is not None:
            ended = Ended("exited", number)
        elif word == "notstarted":
            ended = Ended("notstarted", status, self._docker_text())
        else:  # running, unknown, or no marker: the events and probes will tell
            ended = Ended("detached", status)
        if ended.kind in ("failed", "notstarted"):
            self.drop_output()  # docker's and the script's words, not the container's
        return self.end(ended)

    async def until_ended(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait (at most `timeout` seconds) for the channel to end."""
        deadline = time.monotonic() + timeout
        while self.ended is None and time.monotonic() < deadline:
            token = self.changed.token()
            if self.ended is None:
                await Signal.wait(token, deadline - time.monotonic())

    def end(self, ended: Ended) -> Ended:
        """Record how the channel ended and wake whoever waits for it."""
        self.ended = ended
        self.changed.fire()
        self._wake.fire()
        return ended

    def _docker_text(self) -> str:
        said = [line.strip() for line in self._stderr if line.strip()]
        return " ".join(line for line in said if line != DOCKER_HELP) or "docker run failed"


@dataclass(frozen=True)
class ApiRun:
    """What a run through docker's API needs: the reserve script, the socket and the create
    body, and the client's script and env for a socket that turns out not to be usable."""

    reserve: Command
    socket: str
    body: dict[str, object] = field(repr=False)  # the env, secrets included
    cli: Command
    env: bytes = field(repr=False)
    tag: str


class Attached:
    """The tasks this engine runs attached, by task key, and their channels."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._runs: dict[Key, LiveRun] = {}
        self._pumps: dict[Key, asyncio.Task[None]] = {}

    def room(self, host: HostConfig) -> bool:
        """True when the host can give one more task a channel for its whole life: at most
        half of what its channels leave beside the event stream and a probe, so that probes,
        kills, removals and log followers always find one (none with 3 channels or fewer)."""
        live = sum(1 for r in self._runs.values() if r.host == host.name and r.ended is None)
        return live < (host.max_channels - 2) // 2

    def start(
        self, record: TaskRecord, host: HostConfig, cmd: Command, *, env: bytes, tag: str
    ) -> LiveRun:
        """Open the task's channel (in the background) and return its live run; `tag` is the
        one the command's markers start with."""
        self.forget(record.key)  # an earlier attempt's (no room then, say)
        live = LiveRun(record, host.name, tag, self._engine.signal(record.key))
        self._runs[record.key] = live
        self._pumps[record.key] = asyncio.create_task(self._pump(record, host, cmd, env, live))
        return live

    def start_api(self, record: TaskRecord, host: HostConfig, run: ApiRun) -> LiveRun:
        """As start, through docker's API (engine/api_run.py), or with `run.cli` when the
        socket turns out not to serve."""
        self.forget(record.key)
        live = LiveRun(record, host.name, run.tag, self._engine.signal(record.key))
        self._runs[record.key] = live
        self._pumps[record.key] = asyncio.create_task(self._pump_api(record, host, run, live))
        return live

    def get(self, key: Key) -> LiveRun | None:
        """The task's live run in this process, if it was started attached here."""
        return self._runs.get(key)

    def forget(self, key: Key) -> None:
        """Drop what is kept of the task's run (it is settled, or starts again); a channel
        still open is given up, and whoever follows the run is told it ended."""
        live = self._runs.pop(key, None)
        pump = self._pumps.pop(key, None)
        if pump is not None and not pump.done():
            pump.cancel()
        if live is not None and live.ended is None:
            live.end(Ended("broken", text="given up"))

    async def close(self) -> None:
        """Give up every channel: the clients on the hosts end, the containers go on."""
        pumps = list(self._pumps.values())
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump_api(
        self, record: TaskRecord, host: HostConfig, run: ApiRun, live: LiveRun
    ) -> None:
        transport = self._engine.cluster.transport(host)
        name = executor.container_name(record.instance_id)
        feed = StdinFeed()
        script = asyncio.create_task(
            transport.run(run.reserve, stdin=feed, timeout=None, on_line=live.on_line)
        )
        try:
            said = asyncio.ensure_future(live.reserved.wait())
            try:
                await asyncio.wait({script, said}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                said.cancel()
            if not live.reserved.is_set():  # no room, the lock, the name taken, or it broke
                await self._script_ended(record, live, script)
                return
            try:
                got = await api_run.run(
                    transport, run.socket, name, run.body, live.on_line, live.mark_started
                )
            except api_run.NotUsable as err:
                log.info("docker's API on %s: %s; running docker run", host.name, err)
                # Its reservation stays: the client's script counts it as its own and rewrites it.
                await _settle(feed, script, drop=False)
                live.reset()
                await self._pump(record, host, run.cli, run.env, live)
                return
            # As with the client: the reservation goes before the end is told.
            await _settle(feed, script, drop=got.drop)
            if got.kind in ("failed", "notstarted"):
                live.drop_output()  # the container said nothing: docker's words are the text
            ended = live.end(Ended(got.kind, got.status, got.text))
            if ended.kind == "exited":
                self._engine.exits.on_exit(name, ended.status)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # never leave a waiter hanging
            log.exception("attached run of %s/%s failed", record.app, record.task_id)
            if live.ended is None:
                live.end(Ended("broken", text=f"internal error: {err}"))
        finally:
            feed.close()
            if not script.done():
                script.cancel()
            await asyncio.gather(script, return_exceptions=True)

    async def _script_ended(
        self, record: TaskRecord, live: LiveRun, script: asyncio.Task[RunResult]
    ) -> None:
        """The reserve script ended before it reserved: its marker says why (none: it was cut
        short, and nothing was made; the task is reconciled from the host)."""
        try:
            done = await script
        except TransportError as err:
            live.end(Ended("broken", text=str(err)))
        else:
            if live.marked:
                live.finish(done.exit_status)
            else:
                live.end(Ended("broken", text="the create script ended before it reserved"))

    async def _pump(
        self, record: TaskRecord, host: HostConfig, cmd: Command, env: bytes, live: LiveRun
    ) -> None:
        engine = self._engine
        transport = engine.cluster.transport(host)
        try:
            done = await transport.run(cmd, stdin=env, timeout=None, on_line=live.on_line)
        except TransportError as err:
            live.end(Ended("broken", text=str(err)))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # never leave a waiter hanging
            log.exception("attached run of %s/%s failed", record.app, record.task_id)
            live.end(Ended("broken", text=f"internal error: {err}"))
        else:
            ended = live.finish(done.exit_status)
            if ended.kind == "exited":
                engine.exits.on_exit(executor.container_name(record.instance_id), ended.status)


async def _settle(feed: StdinFeed, script: asyncio.Task[RunResult], *, drop: bool) -> None:
    """Tell the reserve script how the run ended and let it end (waited for, a while):
    `ended` drops the reservation first; the end of its input alone keeps it."""
    if drop:
        feed.send(api_run.ENDED)
    feed.close()
    await asyncio.wait({script}, timeout=SCRIPT_END_S)
