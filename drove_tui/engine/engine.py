"""Engine: the one door both front doors use (submit, kill, get, list, subscribe, logs, wait).

It holds the parts that keep this process's in-memory truth: `watch` (host statuses and the
reactions to each probe), `capacity` (in-flight allocations), `exits` (containers' starts and
exit codes), `runners` (the tasks it drives, with their leases), `attached` (the channels of
tasks run attached, with their output), `removals` (how their containers go) and
`subscribers`; and the steps' shared helpers (`move`, kills, reasons). It knows nothing of
any user interface.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor, lifecycle, output
from drove_tui.engine.attached import Attached
from drove_tui.engine.capacity import Capacity
from drove_tui.engine.events import LogLine, Subscribers, Subscription, TaskChanged, TaskProgress
from drove_tui.engine.exits import Exits
from drove_tui.engine.logs import LogStore
from drove_tui.engine.others import Others
from drove_tui.engine.placement import Request, check_request_size
from drove_tui.engine.removal import Removals
from drove_tui.engine.runners import Runners
from drove_tui.engine.signals import Signal
from drove_tui.engine.store import IllegalTransition, Store, open_store
from drove_tui.engine.watch import HostWatch
from drove_tui.errors import DroveError, InvalidInput, TaskNotFound
from drove_tui.loaders.patterns import select_hosts
from drove_tui.models.host import HostStatus, ManagedContainer
from drove_tui.models.inventory import HostConfig, Inventory
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TaskResult, TaskState
from drove_tui.models.task import TaskRecord, Transition, make_instance_id

log = logging.getLogger(__name__)
S = TaskState
LEASE_TTL_S = 20.0
REMOTE_RECHECK_S = 1.0
KILL_RETRY_S = 0.5  # first wait before a kill that did not reach docker is sent again
KILL_RETRY_MAX_S = 10.0
__all__ = ["Engine", "Subscription"]


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
        self.opened_at = time.time()  # grace periods of inherited UNKNOWN tasks start here
        self.subscribers = Subscribers()
        self.others = Others(self)
        self.watch = HostWatch(self)
        self.capacity = Capacity(inventory, self.watch.status, self.room)
        self.exits = Exits(self)
        self.runners = Runners(self)
        self.attached = Attached(self)
        self.removals = Removals(self)
        self._signals: dict[tuple[str, str], Signal] = {}
        self._killed: set[tuple[str, str]] = set()
        self._specs: dict[tuple[str, str], TaskSpec] = {}
        self._reasons: dict[tuple[str, str], tuple[TaskState, str]] = {}
        self._sighted: set[str] = set()
        self._images: set[tuple[str, str]] = set()
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
        # Transitions commit without an fsync each; `durable` puts them on disk before a
        # task acts on a host (lifecycle.drive), so the loop never stops for the disk.
        self.store.defer_sync()
        self._background.append(asyncio.create_task(self.watch.run()))
        self.runners.take_over()
        self._background.append(asyncio.create_task(self.runners.tick()))
        self._background.append(asyncio.create_task(self.others.run()))

    async def _close(self) -> None:
        for task in self._background:
            task.cancel()
        driven = await self.runners.stop()
        await self.attached.close()
        await asyncio.gather(*self._background, return_exceptions=True)
        # A clean close hands the tasks back at once (the next start need not wait a lease).
        for app, task_id in driven:
            self.store.release(app, task_id, self.owner)
        await self.cluster.close()
        self.store.close()  # flushes what is left

    async def durable(self) -> None:
        """Put every commit made so far on disk (group commit). It yields to the loop once
        first, so that the tasks that move in the same turn all commit before the one fsync
        that serves them; the loop waits for that fsync (a worker thread would wait longer
        for the GIL to hand back its result)."""
        if self.store.synced >= self.store.committed:
            return
        await asyncio.sleep(0)
        self.store.flush()

    # --- the API ---------------------------------------------------------------------------

    async def submit(
        self, spec: TaskSpec, op_spec: ClusterOpSpec | None = None, pin_host: str | None = None
    ) -> TaskRecord:
        """Record a new task (Drove's CREATE) and start driving it; TaskExists if taken."""
        op = op_spec or ClusterOpSpec()
        if pin_host is not None and self.inventory.host(pin_host) is None:
            raise InvalidInput(f"--host {pin_host}: no such host in the inventory")
        request = Request(spec.source_app_name, spec.cpu_count, spec.memory_mb, pin_host=pin_host)
        check_request_size(request, self.capacity.host_views())
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
        self.subscribers.publish(
            TaskChanged(
                stored, Transition(at=now, from_state=None, to_state=S.PENDING, reason="created")
            )
        )
        self.runners.run(stored)
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
        await self.durable()  # on disk before anyone is told it was asked
        if key not in self.runners:
            self.runners.take_over()  # an owner that died: drive the task here (lease lapsed)
        self.kill_here(key)
        return self.get(app, task_id)

    def kill_here(self, key: tuple[str, str]) -> None:
        """Kill a task in this process: its runner acts on it in whatever step it is."""
        self._killed.add(key)
        self.signal(key).fire()
        self.room.fire()

    def killed_here(self, key: tuple[str, str]) -> bool:
        """True when a kill of the task reached this process (asked here or taken up)."""
        return key in self._killed

    async def send_kill(self, record: TaskRecord) -> None:
        """SIGKILL the task's container (Drove's kill); the exit then arrives as usual.

        Never dropped: a kill that does not reach docker (lost host, docker not answering) is
        sent again, waiting KILL_RETRY_S doubling up to KILL_RETRY_MAX_S, until docker takes
        it (or says the container is gone or not running), the exit is known, or the task
        leaves RUNNING (a lost host makes it UNKNOWN; reconciliation kills it then).
        """
        host = self.host_config(record)
        name = executor.container_name(record.instance_id)
        delay = KILL_RETRY_S
        while True:
            token = self.signal(record.key).token()
            try:
                done = await self.cluster.transport(host).run(executor.kill(host, name), timeout=30)
                why = done.stderr.decode("utf-8", "replace").strip()
                if done.ok or "no such container" in why.lower() or "not running" in why.lower():
                    return
            except TransportError as err:
                why = str(err)
            record = self.set_reason(record, f"kill not delivered to {host.name} yet: {why}")
            await Signal.wait(token, delay)
            delay = min(delay * 2, KILL_RETRY_MAX_S)
            current = self.store.get_task(*record.key)
            if current is None or current.state is not S.RUNNING or self.exits.known(name):
                return

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
        return self.subscribers.subscribe()

    async def wait(self, app: str, task_id: str) -> TaskRecord:
        """Until the task is terminal and nothing here works on it any more."""
        key = (app, task_id)
        while True:
            token = self.signal(key).token()
            # The result on disk before it is reported; a store that cannot sync ends the
            # wait with its StoreError (its tasks are no longer driven).
            await self.durable()
            record = self.get(app, task_id)
            if record.terminal and key not in self.runners:
                return record
            # Driven by another process, no signal reaches us: look at the store more often.
            recheck = lifecycle.IDLE_RECHECK_S if key in self.runners else REMOTE_RECHECK_S
            await Signal.wait(token, recheck)

    def logs(
        self, app: str, task_id: str, *, follow: bool = False, tail: int | None = None
    ) -> AsyncIterator[LogLine]:
        """The task's output: kept locally once it finished, streamed from docker while live."""
        return output.task_output(self, app, task_id, follow=follow, tail=tail)

    def driving(self) -> int:
        """How many tasks this process drives now (a warm server stays while any)."""
        return len(self.runners)

    def hosts(self) -> builtins.list[HostStatus]:
        """The latest status of every inventory host."""
        return self.watch.statuses()

    def foreign(self, host: str) -> builtins.list[ManagedContainer]:
        """Managed containers on `host` (last probe) that another store placed: capacity in
        use that this store does not drive. Empty when the host was never probed."""
        facts = self.watch.status(host).facts
        mine = self.store.store_id
        return [c for c in (facts.containers if facts else []) if c.owner != mine]

    async def probe(self, pattern: str | None = None) -> builtins.list[HostStatus]:
        """Probe the hosts `pattern` selects (all by default) now; their fresh statuses."""
        chosen = [h.name for h in select_hosts(self.inventory, pattern)]
        await asyncio.gather(*(self.watch.fresh_probe(name) for name in chosen))
        return [self.watch.status(name) for name in chosen]

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
        self.runners.where[record.key] = (updated.host, updated.state)
        transition = Transition(
            at=updated.updated_at, from_state=record.state, to_state=new, reason=reason
        )
        self.subscribers.publish(TaskChanged(updated, transition))
        self.signal(record.key).fire()
        if new in (S.STOPPED, S.LOST, S.PROVISIONING_FAILED):
            self.room.fire()
        return updated

    def lose(self, record: TaskRecord, reason: str, *, error: str) -> TaskRecord | None:
        """Turn the task LOST with Drove's LOST/-1 result (never re-run behind the operator)."""
        return self.move(record, S.LOST, reason, result=TaskResult.lost(), error=error)

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
        self.subscribers.publish(TaskProgress(record.app, record.task_id, reason))
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
            token = self.signal(key).token()
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

    def first_sighting(self, name: str) -> bool:
        """True the first time a zombie container is seen (it is reported once)."""
        if name in self._sighted:
            return False
        self._sighted.add(name)
        return True

    def report(self, app: str, task_id: str, message: str) -> None:
        """Tell subscribers something worth knowing that is not a state change."""
        log.warning("%s/%s: %s", app, task_id, message)
        self.subscribers.publish(TaskProgress(app, task_id, message))

    # --- signals ---------------------------------------------------------------------------

    def signal(self, key: tuple[str, str]) -> Signal:
        """The task's wake-up: fired on each of its moves, kills, exits and runner's end."""
        found = self._signals.get(key)
        if found is None:
            found = self._signals[key] = Signal()
        return found
