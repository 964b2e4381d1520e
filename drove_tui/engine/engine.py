"""Engine: the one door both front doors use (submit, kill, get, list, subscribe, logs, wait).

It owns the in-memory truth of this process: host statuses from the watchers, in-flight
allocations, which tasks it drives (one lifecycle coroutine per task, holding the task's
lease in the store) and who is subscribed. It knows nothing of any user interface.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor, lifecycle, recovery
from drove_tui.engine.events import Event, HostChanged, LogLine, TaskChanged, TaskProgress
from drove_tui.engine.logs import LogStore, merge_capture, parse_docker_line
from drove_tui.engine.placement import HostView, Placement, Request, check_request_size
from drove_tui.engine.signals import Signal
from drove_tui.engine.store import IllegalTransition, Store, open_store
from drove_tui.engine.watch import watch_host
from drove_tui.errors import DroveError, InvalidInput, TaskNotFound
from drove_tui.loaders.patterns import select_hosts
from drove_tui.models.host import HostState, HostStatus, ManagedContainer, offered_capacity
from drove_tui.models.inventory import HostConfig, Inventory
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskResult, TaskState
from drove_tui.models.task import TaskRecord, Transition, make_instance_id

log = logging.getLogger(__name__)
S = TaskState
KEEP_WATCHING = frozenset({S.RUNNING, S.RUN_COMPLETED, S.DEPROVISIONING})
LEASE_TTL_S = 20.0
TICK_S = 0.5
TAKEOVER_EVERY_S = 5.0
REMOTE_RECHECK_S = 1.0


class Engine:
    """The task engine of one drove-tui process."""

    def __init__(self, inventory: Inventory, store: Store, *, lease_ttl_s: float = LEASE_TTL_S):
        self.inventory = inventory
        self.store = store
        self.cluster = Cluster(inventory)
        self.logs_store = LogStore.beside(store.path)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_ttl_s = lease_ttl_s
        self.room = Signal()  # fired when capacity may have freed
        self._status = {h.name: HostStatus(name=h.name) for h in inventory.hosts}
        self._probed_at: dict[str, float] = {}
        self.opened_at = time.time()  # grace periods of inherited UNKNOWN tasks start here
        self._probe_done = {h.name: Signal() for h in inventory.hosts}
        self._probe_wanted = {h.name: asyncio.Event() for h in inventory.hosts}
        self._reserved: dict[str, dict[str, ManagedContainer]] = {}
        self._released: dict[str, set[str]] = {}
        self._runners: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._where: dict[tuple[str, str], tuple[str | None, TaskState]] = {}
        self._signals: dict[tuple[str, str], Signal] = {}
        self._killed: set[tuple[str, str]] = set()
        self._specs: dict[tuple[str, str], TaskSpec] = {}
        self._reasons: dict[tuple[str, str], tuple[TaskState, str]] = {}
        self._exit_codes: dict[str, int] = {}
        self._expected: dict[str, tuple[str, str]] = {}
        self._missing: set[str] = set()
        self._sighted: set[str] = set()
        self._images: set[tuple[str, str]] = set()
        self._subscribers: list[asyncio.Queue[Event]] = []
        self._background: list[asyncio.Task[None]] = []

    # --- opening and closing -------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        inventory: Inventory,
        store_path: str | os.PathLike[str] | None = None,
        *,
        lease_ttl_s: float = LEASE_TTL_S,
    ) -> AsyncIterator[Engine]:
        """Open the store, start watching the hosts, take over orphaned tasks; close on exit."""
        store = open_store(store_path)
        engine = cls(inventory, store, lease_ttl_s=lease_ttl_s)
        try:
            engine._start()
            yield engine
        finally:
            await engine._close()

    def _start(self) -> None:
        for host in self.inventory.hosts:
            self._background.append(asyncio.create_task(watch_host(self, host)))
        self._take_over()
        self._background.append(asyncio.create_task(self._tick()))

    async def _close(self) -> None:
        driven = list(self._runners)  # the runners' done callbacks empty the dict
        tasks = [*self._background, *self._runners.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A clean close hands the tasks back at once (the next start need not wait a lease).
        for app, task_id in driven:
            self.store.release(app, task_id, self.owner)
        await self.cluster.close()
        self.store.close()

    async def _tick(self) -> None:
        """Renew our leases; now and then take over tasks whose owner stopped renewing."""
        last_takeover = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            take_over = time.monotonic() - last_takeover >= TAKEOVER_EVERY_S
            if take_over:
                last_takeover = time.monotonic()
            try:
                await self._tick_once(take_over=take_over)
            except DroveError as err:  # one bad moment of the store must not end the leases
                log.warning("lease renewal deferred: %s", err)

    async def _tick_once(self, *, take_over: bool) -> None:
        # Only the tasks a live runner drives: a task whose runner ended lets its lease lapse,
        # so it can be taken over (here or by another process) instead of held forever.
        driven = builtins.list(self._runners)
        await asyncio.to_thread(self.store.renew, self.owner, driven, self.lease_ttl_s)
        # Kills asked for by other processes (`tasks kill` while we own the task).
        for key in await asyncio.to_thread(self.store.kill_requests, self.owner):
            if key in self._runners and key not in self._killed:
                self._kill_here(key)
        if take_over:
            self._take_over()

    def _take_over(self) -> None:
        """Drive every live task nobody holds a lease on (a restart: they were ours)."""
        now = time.time()
        # One query per live state: finished tasks pile up and are never taken over.
        live = [s for s in S if s not in TERMINAL]
        for record in [r for state in live for r in self.store.list_tasks(state=state)]:
            if record.key in self._runners:
                continue
            if record.owner is not None and (record.lease_until or 0) > now:
                continue
            if not self.store.acquire(record.app, record.task_id, self.owner, self.lease_ttl_s):
                continue
            if record.state not in (S.PENDING, S.UNKNOWN):
                on = record.host or "its host"
                moved = self.move(record, S.UNKNOWN, f"drove-tui restarted; waiting for {on}")
                if moved is None:
                    continue
            self._run(record)

    def _run(self, record: TaskRecord) -> None:
        key = record.key
        self._where[key] = (record.host, record.state)
        runner = asyncio.create_task(lifecycle.drive(self, *key))
        self._runners[key] = runner

        def done(_: asyncio.Task[None]) -> None:
            self._runners.pop(key, None)
            self._where.pop(key, None)
            self._signal(key).fire()

        runner.add_done_callback(done)

    # --- the API ---------------------------------------------------------------------------

    async def submit(
        self, spec: TaskSpec, op_spec: ClusterOpSpec | None = None, pin_host: str | None = None
    ) -> TaskRecord:
        """Record a new task (Drove's CREATE) and start driving it; TaskExists if taken."""
        op = op_spec or ClusterOpSpec()
        if pin_host is not None and self.inventory.host(pin_host) is None:
            raise InvalidInput(f"--host {pin_host}: no such host in the inventory")
        request = Request(spec.source_app_name, spec.cpu_count, spec.memory_mb, pin_host=pin_host)
        check_request_size(request, self.host_views())
        now = time.time()
        record = TaskRecord(
            app=spec.source_app_name,
            task_id=spec.task_id,
            instance_id=make_instance_id(spec.source_app_name, spec.task_id, now),
            state=S.PENDING,
            spec=spec,
            op_timeout_s=op.timeout.seconds,
            memory_mb=spec.memory_mb,
            reason="waiting for placement",
            owner=self.owner,
            lease_until=now + self.lease_ttl_s,
            pin_host=pin_host,
            created_at=now,
            updated_at=now,
        )
        self.store.create_task(record)
        self._specs[record.key] = spec
        stored = self.store.get_task(record.app, record.task_id) or record
        self._publish(
            TaskChanged(
                stored, Transition(at=now, from_state=None, to_state=S.PENDING, reason="created")
            )
        )
        self._run(stored)
        return stored

    async def kill(self, app: str, task_id: str) -> TaskRecord:
        """Drove's KILL, in any non-terminal state; the result is CANCELLED/-1."""
        record = self.get(app, task_id)
        if record.terminal or record.state in (S.RUN_COMPLETED, S.DEPROVISIONING):
            raise DroveError(
                f"Task {app}/{task_id} is not running (it is {record.state}); nothing to kill"
            )
        key = record.key
        # Recorded in the store first: if another live process owns the task, its tick loop
        # sees the request and acts on it; and whoever settles the task later knows.
        self.store.request_kill(app, task_id)
        if key not in self._runners:
            self._take_over()  # an owner that died: drive the task here (its lease lapsed)
        self._kill_here(key)
        return self.get(app, task_id)

    def _kill_here(self, key: tuple[str, str]) -> None:
        """Kill a task in this process: its runner acts on it in whatever step it is."""
        self._killed.add(key)
        self._signal(key).fire()
        self.room.fire()

    async def send_kill(self, record: TaskRecord) -> None:
        """SIGKILL the task's container (Drove's kill); the exit then arrives as usual."""
        host = self.host_config(record)
        name = executor.container_name(record.instance_id)
        with contextlib.suppress(TransportError):
            await self.cluster.transport(host).run(executor.kill(host, name), timeout=30)

    def get(self, app: str, task_id: str) -> TaskRecord:
        """The task; TaskNotFound (Drove's message) when the store has no such task."""
        record = self.store.get_task(app, task_id)
        if record is None:
            raise TaskNotFound(f"No task found with id {app}/{task_id}")
        return self._with_reason(record)

    def list(
        self, *, state: TaskState | None = None, app: str | None = None
    ) -> builtins.list[TaskRecord]:
        """Every task the store knows, oldest first."""
        return [self._with_reason(r) for r in self.store.list_tasks(state=state, app=app)]

    def subscribe(self) -> Subscription:
        """Every event from now on (TaskChanged, TaskProgress, HostChanged)."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.append(queue)
        return Subscription(self, queue)

    async def wait(self, app: str, task_id: str) -> TaskRecord:
        """Until the task is terminal and nothing here works on it any more."""
        key = (app, task_id)
        while True:
            token = self._signal(key).token()
            record = self.get(app, task_id)
            if record.terminal and key not in self._runners:
                return record
            # Driven by another process, no signal reaches us: look at the store more often.
            recheck = lifecycle.IDLE_RECHECK_S if key in self._runners else REMOTE_RECHECK_S
            await Signal.wait(token, recheck)

    async def logs(
        self, app: str, task_id: str, *, follow: bool = False, tail: int | None = None
    ) -> AsyncIterator[LogLine]:
        """The task's output: kept locally once it finished, streamed from docker while live."""
        record = self.get(app, task_id)
        while follow and record.state in (S.PENDING, S.PROVISIONING, S.STARTING, S.UNKNOWN):
            token = self._signal(record.key).token()  # following waits for the start
            await Signal.wait(token, lifecycle.IDLE_RECHECK_S)
            record = self.get(app, task_id)
        if follow and record.state in (S.RUN_COMPLETED, S.DEPROVISIONING):
            # It ended before we looked: its output is kept just before STOPPED.
            record = await self._until_finished(record)
        if record.state not in (S.RUNNING, S.STARTING) or record.host is None:
            for line in self.logs_store.read(app, task_id, tail=tail):
                yield line
            return
        host = self.host_config(record)
        name = executor.container_name(record.instance_id)
        cmd = executor.follow_logs(host, name, tail=tail)
        if not follow:
            once = executor.capture_logs(host, name, tail=tail)
            done = await self.cluster.transport(host).run(once, timeout=60)
            lines = merge_capture(app, task_id, done.stdout, done.stderr)
            for line in lines:
                yield line
            return
        shown = 0
        gone = False
        async for kind, raw in self.cluster.transport(host).stream(cmd):
            line = parse_docker_line(app, task_id, kind, raw)
            if line.at == 0.0 and kind == "stderr" and line.text.startswith("Error"):
                gone = True  # docker's own complaint: the container went before we attached
                break
            shown += 1
            yield line
        if gone or shown == 0:
            # A short task can exit and be removed between our look and `docker logs`: what
            # it printed is in the local copy once it is STOPPED. Nothing is lost or repeated.
            await self._until_finished(self.get(app, task_id))
            kept = self.logs_store.read(app, task_id, tail=None if shown else tail)
            for line in kept[shown:]:
                yield line

    async def _until_finished(self, record: TaskRecord) -> TaskRecord:
        """Wait until the task is in a terminal state (its output then kept locally)."""
        while record.state not in TERMINAL:
            token = self._signal(record.key).token()
            await Signal.wait(token, lifecycle.IDLE_RECHECK_S)
            record = self.get(record.app, record.task_id)
        return record

    def hosts(self) -> builtins.list[HostStatus]:
        """The latest status of every inventory host."""
        return [self._status[h.name] for h in self.inventory.hosts]

    def foreign(self, host: str) -> builtins.list[ManagedContainer]:
        """Managed containers on `host` (last probe) that another store placed: capacity in
        use that this store does not drive. Empty when the host was never probed."""
        facts = self._status[host].facts
        mine = self.store.store_id
        return [c for c in (facts.containers if facts else []) if c.owner != mine]

    async def probe(self, pattern: str | None = None) -> builtins.list[HostStatus]:
        """Probe the hosts `pattern` selects (all by default) now; their fresh statuses."""
        chosen = [h.name for h in select_hosts(self.inventory, pattern)]
        await asyncio.gather(*(self.fresh_probe(name) for name in chosen))
        return [self._status[name] for name in chosen]

    # --- for the lifecycle and recovery ------------------------------------------------

    def move(
        self, record: TaskRecord, new: TaskState, reason: str, **fields: Any
    ) -> TaskRecord | None:
        """One compare-and-set transition; None when the task had moved on. An illegal move is
        a bug: it is logged and the task becomes LOST with the reason."""
        try:
            ok = self.store.transition(
                record.app, record.task_id, record.state, new, reason, **fields
            )
        except IllegalTransition as err:
            log.error("%s", err)
            ok = self.store.transition(
                record.app,
                record.task_id,
                record.state,
                S.LOST,
                f"internal error: {err}",
                result=TaskResult.lost(),
                error=str(err),
            )
            new = S.LOST
        if not ok:
            return None
        updated = self.store.get_task(record.app, record.task_id)
        if updated is None:
            return None
        self._where[record.key] = (updated.host, updated.state)
        transition = Transition(
            at=updated.updated_at, from_state=record.state, to_state=new, reason=reason
        )
        self._publish(TaskChanged(updated, transition))
        self._signal(record.key).fire()
        if new in (S.STOPPED, S.LOST, S.PROVISIONING_FAILED):
            self.room.fire()
        return updated

    def set_reason(self, record: TaskRecord, reason: str) -> TaskRecord:
        """Keep why the task waits current without a state change. Held in memory and shown
        by get()/list(): the store keeps a reason per transition only."""
        if record.reason == reason:
            return record
        if self._reasons.get(record.key) == (record.state, reason):
            # Same news as last time (the caller re-read the record from the store, which
            # keeps only the transition's reason): say it once.
            return record.model_copy(update={"reason": reason})
        self._reasons[record.key] = (record.state, reason)
        self._publish(TaskProgress(record.app, record.task_id, reason))
        return record.model_copy(update={"reason": reason})

    def _with_reason(self, record: TaskRecord) -> TaskRecord:
        held = self._reasons.get(record.key)
        if held is None or held[0] is not record.state:
            return record
        return record.model_copy(update={"reason": held[1]})

    def image_known(self, host: str, image: str) -> bool:
        """True when this process saw `image` on `host` and images are cached there."""
        return self.inventory.settings.cache_images and (host, image) in self._images

    def remember_image(self, host: str, image: str) -> None:
        """`image` is on `host` (pulled or found)."""
        if self.inventory.settings.cache_images:
            self._images.add((host, image))

    def is_killed(self, record: TaskRecord) -> bool:
        """True when the operator asked to kill the task (in this process, or recorded in the
        store by any process)."""
        return record.key in self._killed or record.kill_requested_at is not None

    async def race_kill(self, record: TaskRecord, work: asyncio.Future[Any]) -> bool:
        """Wait for `work`; if the task is killed first, cancel it and return True."""
        key = record.key
        while not work.done():
            if key in self._killed:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                return True
            token = self._signal(key).token()
            waiter = asyncio.ensure_future(Signal.wait(token))
            await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        return False

    def host_config(self, record: TaskRecord) -> HostConfig:
        """The inventory entry of the task's host."""
        host = self.inventory.host(record.host or "")
        if host is None:
            raise DroveError(
                f"host {record.host} of task {record.app}/{record.task_id} is not in the inventory"
            )
        return host

    def spec_of(self, record: TaskRecord) -> TaskSpec:
        """The unmasked spec when this process was given it, else the stored (masked) one."""
        return self._specs.get(record.key, record.spec)

    def can_recreate(self, record: TaskRecord) -> bool:
        """True when the task's container could be created again with its real secrets."""
        return record.key in self._specs or "<masked" not in record.spec.model_dump_json()

    def state_before_unknown(self, record: TaskRecord) -> TaskState | None:
        """The state the task was in when it last became UNKNOWN."""
        for transition in reversed(self.store.history(record.app, record.task_id)):
            if transition.to_state is S.UNKNOWN:
                return transition.from_state
        return None

    def host_views(self) -> builtins.list[HostView]:
        """Every host as placement sees it now (probed containers + our reservations)."""
        views = []
        for host in self.inventory.hosts:
            status = self._status[host.name]
            facts = status.facts
            gone = self._released.get(host.name, set())
            held = [c for c in (facts.containers if facts else []) if c.instance_id not in gone]
            seen = {c.instance_id for c in held}
            held += [c for i, c in self._reserved.get(host.name, {}).items() if i not in seen]
            views.append(HostView(host, status.state, facts, tuple(held)))
        return views

    def node_memory_mb(self, host_name: str, numa: int) -> int:
        """Memory offered by one NUMA node of the host (for the locked re-check)."""
        host = self.inventory.host(host_name)
        facts = self._status[host_name].facts
        if host is None or facts is None:
            return 0
        nodes = offered_capacity(
            facts.model_copy(update={"containers": []}),
            reserved_cores=host.reserved_cores,
            memory_percent=host.memory_percent,
            cpu_multiplier=host.cpu_multiplier,
            memory_multiplier=host.memory_multiplier,
        )
        return next((n.memory_mb for n in nodes if n.id == numa), 0)

    def reserve(self, record: TaskRecord, placement: Placement) -> None:
        """Hold the allocation in memory until the container shows up in probes."""
        self._reserved.setdefault(placement.host, {})[record.instance_id] = ManagedContainer(
            name=executor.container_name(record.instance_id),
            container_id="",
            app=record.app,
            task_id=record.task_id,
            instance_id=record.instance_id,
            running=False,
            cores=placement.cores,
            numa=placement.numa,
            memory_mb=placement.memory_mb,
        )

    def forget_allocation(self, record: TaskRecord) -> None:
        """Drop the in-memory reservation (the task will not create its container)."""
        for held in self._reserved.values():
            if held.pop(record.instance_id, None) is not None:
                self.room.fire()

    def released(self, record: TaskRecord) -> None:
        """The container is removed: its capacity is free before the next probe says so."""
        if record.host is not None:
            self._released.setdefault(record.host, set()).add(record.instance_id)
        self.forget_allocation(record)
        self.room.fire()

    def expect_exit(self, record: TaskRecord) -> None:
        """Route exit events of this task's container to it (before it can exit)."""
        self._expected[executor.container_name(record.instance_id)] = record.key

    def remember_exit(self, name: str, code: int) -> None:
        """An exit code learned some other way (adoption after a restart)."""
        self._exit_codes[name] = code

    def on_exit(self, name: str, code: int) -> None:
        """A watched container exited (from the host's event stream or its probe)."""
        key = self._expected.get(name)
        if key is None:
            return
        self._exit_codes[name] = code
        self._signal(key).fire()

    async def exit_of(self, record: TaskRecord) -> int | None:
        """The container's exit code, or None when the task moved on or was killed."""
        name = executor.container_name(record.instance_id)
        self.expect_exit(record)
        key = record.key
        killed_seen = key in self._killed
        while True:
            token = self._signal(key).token()
            if name in self._exit_codes:
                self._expected.pop(name, None)
                return self._exit_codes.pop(name)
            current = self.store.get_task(*key)
            if current is None or current.state is not S.RUNNING:
                return None
            if key in self._killed and not killed_seen:
                return None  # drive() re-reads; the kill itself was sent by kill()
            if name in self._missing:
                self._missing.discard(name)
                await self._confirm_missing(current, name)
                continue
            await Signal.wait(token, 30.0)

    async def _confirm_missing(self, record: TaskRecord, name: str) -> None:
        host = self.host_config(record)
        try:
            done = await self.cluster.transport(host).run(
                executor.inspect_state(host, name), timeout=30
            )
        except TransportError:
            return  # the host watcher will tell
        status, _, code = done.text().strip().partition(" ")
        if done.ok and code.lstrip("-").isdigit() and status in ("exited", "dead"):
            self.on_exit(name, int(code))
        elif not done.ok and "No such" in done.stderr.decode("utf-8", "replace"):
            self.move(
                record,
                S.LOST,
                f"container {name} vanished from {host.name}",
                result=TaskResult.lost(),
                error=f"container {name} not found on {host.name}",
            )

    # --- hosts ---------------------------------------------------------------------------

    def probe_wanted(self, name: str) -> asyncio.Event:
        """The event a watcher waits on between probes (set = probe now); cleared here."""
        event = self._probe_wanted[name]
        event.clear()
        return event

    async def fresh_probe(self, name: str) -> HostStatus:
        """Ask for a probe of the host now and wait for its result."""
        asked = time.time()
        self._probe_wanted[name].set()
        status = await self.probe_after(name, asked, until=asked + 60)
        return status or self._status[name]

    def probed_at(self, name: str) -> float:
        """When the host's latest probe started (0 when never)."""
        return self._probed_at.get(name, 0.0)

    async def probe_after(self, name: str, since: float, *, until: float) -> HostStatus | None:
        """The first status of the host from a probe started after `since` (None by `until`)."""
        while True:
            token = self._probe_done[name].token()
            if self._probed_at.get(name, 0.0) > since:
                return self._status[name]
            left = until - time.time()
            if left <= 0:
                return None
            await Signal.wait(token, left)

    def on_probe(self, status: HostStatus, started: float) -> None:
        """A watcher's probe result: keep it, tell subscribers, reconcile our tasks."""
        name = status.name
        self._status[name] = status
        self._probed_at[name] = started
        self._publish(HostChanged(status))
        if status.state is HostState.ONLINE and status.facts is not None:
            present = {c.instance_id for c in status.facts.containers}
            if name in self._released:
                self._released[name] &= present
            for container in status.facts.containers:
                if not container.running and container.exit_code is not None:
                    self.on_exit(container.name, container.exit_code)
            self._spot_missing(name, present, started)
            self._background.append(
                asyncio.create_task(recovery.report_zombies(self, name, status.facts.containers))
            )
            self._background = [t for t in self._background if not t.done()]
        else:
            self._host_lost(status)
        self.room.fire()
        self._probe_done[name].fire()

    def _spot_missing(self, host: str, present: set[str], started: float) -> None:
        for key, (where, state) in list(self._where.items()):
            if where != host or state is not S.RUNNING:
                continue
            record = self.store.get_task(*key)
            if record is None or record.instance_id in present:
                continue
            if record.started_at is not None and record.started_at < started:
                self._missing.add(executor.container_name(record.instance_id))
                self._signal(key).fire()

    def _host_lost(self, status: HostStatus) -> None:
        """Tasks running on a silent host become UNKNOWN at once (reconciled or LOST later)."""
        for key, (where, state) in list(self._where.items()):
            if where != status.name or state not in KEEP_WATCHING:
                continue
            record = self.store.get_task(*key)
            if record is not None and record.state in KEEP_WATCHING:
                self.move(
                    record, S.UNKNOWN, f"host {status.name} is {status.state}: {status.reason}"
                )

    def is_driving(self, container: ManagedContainer) -> bool:
        """True when this process drives the container's task (not a zombie)."""
        return (container.app, container.task_id) in self._runners

    def first_sighting(self, name: str) -> bool:
        """True the first time a zombie container is seen (it is reported once)."""
        if name in self._sighted:
            return False
        self._sighted.add(name)
        return True

    def report(self, app: str, task_id: str, message: str) -> None:
        """Tell subscribers something worth knowing that is not a state change."""
        log.warning("%s/%s: %s", app, task_id, message)
        self._publish(TaskProgress(app, task_id, message))

    # --- events ----------------------------------------------------------------------------

    def _signal(self, key: tuple[str, str]) -> Signal:
        found = self._signals.get(key)
        if found is None:
            found = self._signals[key] = Signal()
        return found

    def _publish(self, event: Event) -> None:
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)


class Subscription:
    """An async iterator of engine events; registered at creation, so nothing is missed."""

    def __init__(self, engine: Engine, queue: asyncio.Queue[Event]) -> None:
        self._engine = engine
        self._queue = queue

    def __aiter__(self) -> Subscription:
        return self

    def __anext__(self) -> Awaitable[Event]:
        return self._queue.get()

    def close(self) -> None:
        """Stop receiving events."""
        self._engine._unsubscribe(self._queue)
