"""The tasks this process drives: one lifecycle coroutine per task, each holding the task's
lease in the store. The tick renews those leases, takes up kills asked for by other processes
and now and then takes over tasks whose owner stopped renewing (a restart: they were ours)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from drove_tui.engine import lifecycle
from drove_tui.errors import DroveError
from drove_tui.models.host import ManagedContainer
from drove_tui.models.states import TERMINAL, TaskState
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

log = logging.getLogger(__name__)
S = TaskState
Key = tuple[str, str]
TICK_S = 0.5
TAKEOVER_EVERY_S = 5.0


class Runners:
    """The runner of every task this process drives, and where each task is."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        # (host, state) of each driven task, kept current by Engine.move: what a probe affects.
        self.where: dict[Key, tuple[str | None, TaskState]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._tasks

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    def is_driving(self, container: ManagedContainer) -> bool:
        """True when this process drives the container's task (not a zombie)."""
        return (container.app, container.task_id) in self._tasks

    def run(self, record: TaskRecord) -> None:
        """Start driving the task (its lease already ours)."""
        key = record.key
        self.where[key] = (record.host, record.state)
        runner = asyncio.create_task(lifecycle.drive(self._engine, *key))
        self._tasks[key] = runner

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.pop(key, None)
            self.where.pop(key, None)
            self._engine.signal(key).fire()
            if not task.cancelled() and task.exception() is not None:
                # drive() turns a step's failure into LOST; what reaches here is the store's
                # own (it cannot sync): the task stays as it is, for a later start.
                log.error("task %s/%s no longer driven: %s", *key, task.exception())

        runner.add_done_callback(done)

    def take_over(self) -> None:
        """Drive every live task nobody holds a lease on (a restart: they were ours)."""
        engine = self._engine
        now = time.time()
        # One query per live state: finished tasks pile up and are never taken over.
        live = [s for s in S if s not in TERMINAL]
        found = [r for state in live for r in engine.store.list_tasks(state=state)]
        # A pull stopped by a kill is PROVISIONING_FAILED (terminal) and still owes its
        # DEPROVISIONING: an owner that died in between leaves it to whoever comes next.
        # (Failed pulls pile up; only the killed ones are read.)
        found += engine.store.list_tasks(state=S.PROVISIONING_FAILED, kill_requested=True)
        for record in found:
            if record.key in self._tasks:
                continue
            if record.owner is not None and (record.lease_until or 0) > now:
                continue
            if not engine.store.acquire(
                record.app, record.task_id, engine.owner, engine.lease_ttl_s
            ):
                continue
            if record.state not in (S.PENDING, S.UNKNOWN, S.PROVISIONING_FAILED):
                on = record.host or "its host"
                moved = engine.move(record, S.UNKNOWN, f"drove-tui restarted; waiting for {on}")
                if moved is None:
                    continue
            self.run(record)

    async def tick(self) -> None:
        """Renew our leases; now and then take over tasks whose owner stopped renewing."""
        last_takeover = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            take_over = time.monotonic() - last_takeover >= TAKEOVER_EVERY_S
            if take_over:
                last_takeover = time.monotonic()
            try:
                await self.tick_once(take_over=take_over)
            except DroveError as err:  # one bad moment of the store must not end the leases
                log.warning("lease renewal deferred: %s", err)

    async def tick_once(self, *, take_over: bool) -> None:
        """One tick: renew, take up kill requests, maybe take over."""
        engine = self._engine
        # Only the tasks a live runner drives: a task whose runner ended lets its lease lapse,
        # so it can be taken over (here or by another process) instead of held forever.
        driven = list(self._tasks)
        await asyncio.to_thread(engine.store.renew, engine.owner, driven, engine.lease_ttl_s)
        # Kills asked for by other processes (`tasks kill` while we own the task).
        for key in await asyncio.to_thread(engine.store.kill_requests, engine.owner):
            if key in self._tasks and not engine.killed_here(key):
                engine.kill_here(key)
        if take_over:
            self.take_over()

    async def stop(self) -> list[Key]:
        """Cancel every runner and wait for them; the keys they drove."""
        driven = list(self._tasks)  # the runners' done callbacks empty the dict
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return driven
