"""Coming back to the truth after drove-tui restarted or a host went silent.

A task in UNKNOWN waits for a probe of its host taken after it became UNKNOWN, then takes
the state the host really shows: container running -> RUNNING (watching resumes); exited ->
RUN_COMPLETED with its real exit code; created but never started -> STARTING (the create is
repeated; the deterministic name makes it find this container instead of making another);
no container -> PROVISIONING again when it never had one, DEPROVISIONING when its result is
already known, else LOST with the reason. A host silent past the grace period makes its
tasks LOST/-1. A LOST task is never re-run behind the operator's back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor
from drove_tui.engine.logs import merge_capture
from drove_tui.errors import StoreError
from drove_tui.models.host import HostState, ManagedContainer
from drove_tui.models.inventory import HostConfig
from drove_tui.models.states import TaskResult, TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

log = logging.getLogger(__name__)

S = TaskState
# States from which a task has not created its container yet (or may be creating it).
_BEFORE_CREATE = frozenset({S.PENDING, S.PROVISIONING, S.STARTING})


async def reconcile(engine: Engine, record: TaskRecord) -> None:
    """One UNKNOWN task: wait for its host's next good probe (or the grace), then decide."""
    if record.host is None:
        engine.move(record, S.PENDING, "never placed: placing it again")
        return
    since = record.updated_at
    grace = engine.inventory.settings.grace_period_s
    # A task inherited UNKNOWN from a process that died long ago still gets the whole grace
    # (and so at least one probe of its host) from this process.
    until = max(since, engine.opened_at) + grace
    while True:
        status = await engine.watch.probe_after(record.host, since, until=until)
        current = engine.store.get_task(record.app, record.task_id)
        if current is None or current.state is not S.UNKNOWN:
            return
        if status is not None and status.state is HostState.ONLINE and status.facts is not None:
            break
        if time.time() >= until:
            why = status.reason if status is not None and status.reason else "no answer"
            engine.lose(
                current,
                f"host {record.host} was not reachable for {grace:g} s ({why})",
                error=f"host {record.host} lost",
            )
            return
        if status is None:
            return  # woken early (e.g. engine closing); drive() calls again
        # The host still fails: wait for a probe newer than this one (never spin on it).
        since = max(since, engine.watch.probed_at(record.host))
    name = executor.container_name(current.instance_id)
    found = next((c for c in status.facts.containers if c.name == name), None)
    settle(engine, current, found)


def settle(engine: Engine, record: TaskRecord, found: ManagedContainer | None) -> None:
    """Move an UNKNOWN task to what its host holds (`found` is its container, or None)."""
    name = executor.container_name(record.instance_id)
    host = record.host
    if found is not None:
        if found.running:
            engine.exits.expect(record)
            engine.move(record, S.RUNNING, f"container {name} is running on {host}")
        elif found.exit_code is not None and engine.is_killed(record):
            # The operator's kill stopped it (often a `tasks kill` from a fresh process, which
            # first sees the task UNKNOWN): the result is Drove's CANCELLED, not the signal.
            engine.move(record, S.RUN_COMPLETED, "killed", result=TaskResult.cancelled())
        elif found.exit_code is not None:
            code = found.exit_code
            result = TaskResult.from_exit_code(code)
            error = None if code == 0 else f"Task instance exited with status: {code}"
            engine.move(
                record, S.RUN_COMPLETED, f"exited with status {code}", result=result, error=error
            )
        else:
            engine.move(record, S.STARTING, f"container {name} was created but not started")
        return
    before = engine.state_before_unknown(record)
    if record.result is not None:
        engine.move(record, S.DEPROVISIONING, "the run had finished; its container is gone")
    elif before in _BEFORE_CREATE:
        if engine.can_recreate(record):
            engine.move(record, S.PROVISIONING, "no container yet: provisioning again")
        else:
            engine.lose(
                record,
                f"no container on {host} and the spec's secrets are not kept after a restart",
                error="cannot recreate a task whose secrets were masked",
            )
    else:
        missing = f"container {name} not found on {host}"
        engine.lose(record, missing, error=missing)


async def adopt(engine: Engine, record: TaskRecord, configs: bytes | None) -> None:
    """A create found the task's container already there: take it over instead.

    `configs` is the tar of the task's config files (None when it has none). A container that
    was created but never started may lack them (its creator can have died between the
    create and the copy), so they are copied in again before it is started. A host that stops
    answering leaves the task UNKNOWN, for reconciliation, like any other lost contact.
    """
    host = engine.host_config(record)
    transport = engine.cluster.transport(host)
    name = executor.container_name(record.instance_id)
    try:
        done = await transport.run(executor.inspect_state(host, name), timeout=60)
        status, _, code = done.text().strip().partition(" ")
        if status == "created":
            await _start_created(engine, record, configs)
            return
    except TransportError as err:
        why = f"lost contact with {host.name} while taking over {name}: {err}"
        engine.move(record, S.UNKNOWN, why)
        return
    if status in ("running", "restarting", "paused"):
        engine.move(record, S.RUNNING, f"container {name} already running", container_id=name)
    elif status in ("exited", "dead") and code.lstrip("-").isdigit():
        engine.exits.remember(name, int(code))
        engine.move(record, S.RUNNING, f"container {name} already ran", container_id=name)
    else:
        text = done.stderr.decode("utf-8", "replace").strip() or status
        engine.move(record, S.UNKNOWN, f"cannot tell the state of {name}: {text}")


async def _start_created(engine: Engine, record: TaskRecord, configs: bytes | None) -> None:
    """Copy the configs into a created container, then start it; docker's no fails the task."""
    host = engine.host_config(record)
    transport = engine.cluster.transport(host)
    name = executor.container_name(record.instance_id)
    if engine.spec_of(record).configs and configs is None:
        _failed(engine, record, f"container {name} was never started and its configs are not here")
        return
    if configs is not None:
        copied = await transport.run(executor.copy_in(host, name), stdin=configs, timeout=60)
        if not copied.ok:
            text = copied.stderr.decode("utf-8", "replace").strip()
            _failed(engine, record, f"copying the configs into {name} failed: {text}")
            return
    started = await transport.run(executor.start(host, name), timeout=60)
    if not started.ok:
        text = started.stderr.decode("utf-8", "replace").strip() or f"status {started.exit_status}"
        _failed(engine, record, f"starting the existing container {name} failed: {text}")
        return
    engine.move(record, S.RUNNING, f"started the existing container {name}", container_id=name)


def _failed(engine: Engine, record: TaskRecord, text: str) -> None:
    """The container cannot run: the task completes FAILED with the reason (then cleaned up)."""
    failed = TaskResult(status=TaskStatus.FAILED, exit_code=-1)
    engine.move(record, S.RUN_COMPLETED, text, result=failed, error=text)


async def report_zombies(engine: Engine, host: str, containers: list[ManagedContainer]) -> None:
    """Containers of this store's tasks that were already given up on (LOST, or otherwise
    finished) are reported once. An exited one is removed (its output kept first, when the
    task has none kept): it does nothing but hold its cores and memory. A running one is
    removed only when the inventory says `reap_zombies`."""
    for container in containers:
        if container.owner != engine.store.store_id or engine.runners.is_driving(container):
            continue
        record = engine.store.get_task(container.app, container.task_id)
        same_run = record is not None and record.instance_id == container.instance_id
        if same_run and record is not None and not record.terminal:
            continue  # another process of this store drives it
        if not engine.first_sighting(container.name):
            continue
        reap = engine.inventory.settings.reap_zombies or not container.running
        if not container.running:
            what = "exited; removing it, its output kept"
        elif reap:
            what = "removing it"
        else:
            what = "left running (settings.reap_zombies is off)"
        engine.report(
            container.app,
            container.task_id,
            f"container {container.name} of a task already given up on turned up on {host}: {what}",
        )
        config = engine.inventory.host(host)
        if reap and config is not None:
            lost = record is not None and record.state is S.LOST
            await _remove_zombie(engine, config, container, keep=same_run, partial=lost)


async def _remove_zombie(
    engine: Engine, host: HostConfig, container: ManagedContainer, *, keep: bool, partial: bool
) -> None:
    transport = engine.cluster.transport(host)
    try:
        await engine.durable()  # the task's giving up is on disk before its container goes
    except StoreError as err:
        log.error("zombie %s on %s not removed: %s", container.name, host.name, err)
        return
    try:
        if container.running:
            await transport.run(executor.remove(host, container.name), timeout=60)
            return
        done = await transport.run(executor.finish(host, container.name), timeout=60)
    except TransportError as err:
        log.info("zombie %s on %s not removed: %s", container.name, host.name, err)
        return
    app, task_id = container.app, container.task_id
    if not keep or not done.ok:
        return
    # A LOST task was never removed, so what is kept of it (what its channel saw before the
    # host went silent, if anything) is partial: docker's whole log replaces it. Any other
    # task's kept output stands.
    if partial or not engine.logs_store.path(app, task_id).exists():
        lines = merge_capture(app, task_id, done.stdout, done.stderr)
        await asyncio.to_thread(engine.logs_store.replace, app, task_id, lines)
