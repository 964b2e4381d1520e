"""A task's steps, PENDING -> PROVISIONING -> STARTING -> RUNNING -> RUN_COMPLETED ->
DEPROVISIONING -> STOPPED, each ending in one compare-and-set transition of the store.

Steps are resumable: `drive` re-reads the record after every step and runs the step of the
state it finds, so a restart (or another process taking over) continues where it stopped. A
step whose transition loses the compare-and-set (kill, host loss) just returns: the loop
reads the new state. An unexpected error turns the task LOST with the reason; it never stops
the engine.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from drove_tui.cluster.transport import CommandTimeout, TransportError
from drove_tui.engine import container, executor, recovery
from drove_tui.engine.attached import ApiRun
from drove_tui.engine.configs import config_tar
from drove_tui.engine.logs import merge_capture
from drove_tui.engine.placement import NoFit, Request, check_request_size, place
from drove_tui.engine.signals import Signal
from drove_tui.errors import DroveError
from drove_tui.models.states import TaskResult, TaskState, TaskStatus
from drove_tui.models.task import TaskRecord

if TYPE_CHECKING:
    from drove_tui.cluster.command import Command
    from drove_tui.engine.engine import Engine
    from drove_tui.models.host import HostStatus
    from drove_tui.models.inventory import HostConfig

log = logging.getLogger(__name__)
S = TaskState
Step = Callable[["Engine", TaskRecord], Awaitable[None]]

CREATE_TIMEOUT_S = 120.0
DOCKER_TIMEOUT_S = 60.0
CHANNEL_END_WAIT_S = 10.0
LOCK_WAIT_S = 30.0  # how long the create script waits for the host lock
# A safety net only: waits are woken by signals; this bounds a missed wake-up.
IDLE_RECHECK_S = 5.0


async def drive(engine: Engine, app: str, task_id: str) -> None:
    """Run the task's steps until it is terminal (or owned by nobody here any more)."""
    while True:
        # Every move so far is on disk before the step acts on a host, and a terminal state
        # before anyone waiting is told. A store that cannot sync stops this task here (its
        # lease lapses; the state it had stays), never turns it LOST.
        await engine.durable()
        record = engine.store.get_task(app, task_id)
        if record is None:
            return
        step = STEPS.get(record.state)
        if record.state is S.PROVISIONING_FAILED and not engine.is_killed(record):
            step = None  # nothing was created: nothing to clean up
        if step is None:
            engine.capacity.forget_allocation(record)
            live = engine.attached.get(record.key)
            if live is not None and live.lines and record.state is S.LOST:
                # Never removed, so nothing was kept: keep what its channel saw (the whole
                # output replaces it, should its container turn up again).
                await asyncio.to_thread(engine.logs_store.write, live.lines)
            engine.attached.forget(record.key)
            return
        try:
            await step(engine, record)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug must cost one task, never the engine
            log.exception("task %s/%s failed in %s", app, task_id, record.state)
            current = engine.store.get_task(app, task_id)
            if current is not None and not current.terminal:
                engine.lose(current, f"internal error in {current.state}: {err}", error=str(err))


async def pending(engine: Engine, record: TaskRecord) -> None:
    """Wait for a host with room, until the operation's timeout; then place the task."""
    deadline = record.created_at + record.op_timeout_s
    spec = record.spec
    request = Request(
        app=record.app,
        cores=spec.cpu_count,
        memory_mb=spec.memory_mb,
        policy=spec.placement_policy,
        pin_host=record.pin_host,
    )
    while True:
        token = engine.room.token()
        if engine.is_killed(record):
            engine.move(record, S.STOPPED, "killed before placement", result=TaskResult.cancelled())
            return
        views = engine.capacity.host_views()
        if not any(v.facts is not None for v in views):
            reason = _no_facts_reason(engine.hosts())
        else:
            try:
                check_request_size(request, views)
            except DroveError as err:
                fail = TaskResult(status=TaskStatus.FAILED, exit_code=-1)
                engine.move(record, S.STOPPED, str(err), result=fail, error=str(err))
                return
            got = place(request, views, strategy=engine.inventory.settings.placement)
            if not isinstance(got, NoFit):
                engine.capacity.reserve(record, got)
                moved = engine.move(
                    record,
                    S.PROVISIONING,
                    f"placed on {got.host} (NUMA node {got.numa}, cores {got.cores})",
                    host=got.host,
                    numa_node=got.numa,
                    cores=got.cores,
                    memory_mb=got.memory_mb,
                )
                if moved is None:
                    engine.capacity.forget_allocation(record)
                return
            reason = got.reason
        if time.time() >= deadline:
            timed_out = TaskResult(status=TaskStatus.TIMED_OUT, exit_code=-1)
            engine.move(record, S.STOPPED, f"not placed in time: {reason}", result=timed_out)
            return
        record = engine.set_reason(record, reason)
        await Signal.wait(token, min(IDLE_RECHECK_S, max(0.0, deadline - time.time())))
        refreshed = engine.store.get_task(record.app, record.task_id)
        if refreshed is None or refreshed.state is not S.PENDING:
            return
        record = refreshed


def _no_facts_reason(statuses: list[HostStatus]) -> str:
    """Why nothing can be placed while no host has answered a probe: still waiting, or every
    host tried and failing (then each host's own reason, so the operator knows what to fix)."""
    if statuses and all(s.checked_at is not None for s in statuses):
        said = [
            f"{s.name} {s.state.value}" + (f" ({s.reason})" if s.reason else "") for s in statuses
        ]
        return "no host answers a probe: " + "; ".join(said)
    return "waiting for the first probe of the hosts"


async def provisioning(engine: Engine, record: TaskRecord) -> None:
    """Pull the image (unless the host has it) within the spec's pull timeout."""
    host = engine.host_config(record)
    spec = engine.spec_of(record)
    image = spec.executable.url
    timeout = spec.executable.docker_pull_timeout.seconds
    if engine.image_known(host.name, image):
        # Saw it there already (images are cached): no round trip. Should someone have
        # removed it since, `docker create` pulls it itself.
        engine.move(record, S.STARTING, f"image {image} is on {host.name}")
        return
    transport = engine.cluster.transport(host)
    pull = asyncio.ensure_future(transport.run(executor.pull(host, image), timeout=timeout))
    killed = await engine.race_kill(record, pull)
    if killed:
        result = TaskResult.cancelled()
        engine.move(record, S.PROVISIONING_FAILED, "killed while pulling", result=result)
        return
    try:
        done = pull.result()
    except CommandTimeout:
        error = f"Error while pulling image {image}: no answer within {timeout:g} s"
    except TransportError as err:
        error = f"Error while pulling image {image}: {err}"
    else:
        if done.ok:
            engine.remember_image(host.name, image)
            engine.move(record, S.STARTING, f"image {image} is on {host.name}")
            return
        text = done.stderr.decode("utf-8", "replace").strip() or done.text().strip()
        error = f"Error while pulling image {image}: {text}"
    failed = TaskResult(status=TaskStatus.FAILED, exit_code=-1)
    # Nothing is left to do for a failed pull: the terminal task keeps no owner. (A killed
    # pull keeps its owner for the cleanup that follows; see Runners.take_over.)
    ended = {"result": failed, "error": error, "owner": None, "lease_until": None}
    if engine.move(record, S.PROVISIONING_FAILED, error, **ended):
        engine.capacity.forget_allocation(record)


async def starting(engine: Engine, record: TaskRecord) -> None:
    """Create (under the host lock, re-checking live allocations), copy configs, start.

    A task without configs runs attached (engine/attached.py) while its host has a channel
    to spare; otherwise `docker run --detach` (or create, copy, start) and the host's event
    stream tell its start and exit."""
    if engine.is_killed(record):
        engine.move(record, S.RUN_COMPLETED, "killed before start", result=TaskResult.cancelled())
        return
    host = engine.host_config(record)
    spec = engine.spec_of(record)
    transport = engine.cluster.transport(host)
    name = executor.container_name(record.instance_id)
    try:
        tar = await config_tar(spec, transport, host)
        env = container.env_file(spec, record, host)
    except (DroveError, ValueError) as err:
        _start_failed(engine, record, str(err))
        return
    args = container.create_args(spec, record, host, engine.store.store_id)
    engine.exits.expect(record)
    if tar is None and engine.attached.room(host):
        await _start_attached(engine, record, host, args, env)
        return
    cmd = _create_script(engine, record, host, args, "detach" if tar is None else "create")
    try:
        done = await transport.run(cmd, stdin=env, timeout=CREATE_TIMEOUT_S)
        if done.exit_status == 0 and tar is not None:
            done = await transport.run(executor.copy_in(host, name), stdin=tar, timeout=60)
            if done.ok:
                done = await transport.run(executor.start(host, name), timeout=DOCKER_TIMEOUT_S)
    except TransportError as err:
        # The container may or may not exist: recovery looks at the host and decides.
        engine.move(record, S.UNKNOWN, f"lost contact with {host.name} while starting: {err}")
        return
    await _created(engine, record, tar, done.exit_status, done.stderr.decode("utf-8", "replace"))


def _create_script(
    engine: Engine,
    record: TaskRecord,
    host: HostConfig,
    args: list[str],
    mode: executor.CreateMode,
    tag: str = "-",
) -> Command:
    """The task's create script, with the NUMA node's memory and the engine's census of the
    host for the locked re-check."""
    return executor.create(
        host,
        record,
        args,
        node_memory_mb=engine.capacity.node_memory_mb(host.name, record.numa_node or 0),
        lock_wait_s=LOCK_WAIT_S,
        mode=mode,
        tag=tag,
        census=engine.capacity.census(host.name),
    )


async def _start_attached(
    engine: Engine, record: TaskRecord, host: HostConfig, args: list[str], env: bytes
) -> None:
    """Open the task's channel, then wait until the container has started (its start event,
    a probe, its first line or its exit) or the channel says why it did not."""
    tag = f"@drove-{secrets.token_hex(8)}"
    cmd = _create_script(engine, record, host, args, "attach", tag)
    socket = engine.removals.socket(host)
    body = container.container_body(engine.spec_of(record), record, host, engine.store.store_id)
    refused = socket is not None and engine.cluster.transport(host).socket_refused(socket)
    if socket is not None and body is not None and not refused:
        reserve = _create_script(engine, record, host, [], "reserve", tag)
        run = ApiRun(reserve=reserve, socket=socket, body=body, cli=cmd, env=env, tag=tag)
        live = engine.attached.start_api(record, host, run)
    else:
        live = engine.attached.start(record, host, cmd, env=env, tag=tag)
    name = executor.container_name(record.instance_id)
    deadline = time.monotonic() + CREATE_TIMEOUT_S
    while True:
        token = engine.signal(record.key).token()  # the live run fires it too
        if live.ended is not None or live.output_seen or engine.exits.started(name):
            break
        if engine.is_killed(record) or time.monotonic() > deadline:
            # Give up the channel (its client on the host is killed); whatever docker made
            # of the container meanwhile is removed (killed) or reconciled from the host.
            engine.attached.forget(record.key)
            if engine.is_killed(record):
                killed = TaskResult.cancelled()
                engine.move(record, S.RUN_COMPLETED, "killed while starting", result=killed)
            else:
                why = f"{name} did not start on {host.name} within {CREATE_TIMEOUT_S:g} s"
                engine.move(record, S.UNKNOWN, why)
            return
        await Signal.wait(token, min(IDLE_RECHECK_S, max(0.0, deadline - time.monotonic())))
    ended = live.ended
    if ended is None or ended.kind in ("exited", "detached"):
        started = f"container {name} started on {host.name}"
        engine.move(record, S.RUNNING, started, container_id=name)
    elif ended.kind == "broken":
        lost = f"lost contact with {host.name} while starting: {ended.text}"
        engine.move(record, S.UNKNOWN, lost)
    else:
        engine.attached.forget(record.key)
        await _created(engine, record, None, ended.status or 1, ended.text)


async def _created(
    engine: Engine, record: TaskRecord, tar: bytes | None, status: int, stderr: str
) -> None:
    """Act on how a create script ended (status 0: the container runs)."""
    name = executor.container_name(record.instance_id)
    if status == executor.ALREADY_EXISTS:
        await recovery.adopt(engine, record, tar)
        return
    if status in (executor.NO_ROOM, executor.LOCK_TIMEOUT):
        await _no_room(engine, record, stderr.strip())
        return
    if status != 0:
        _start_failed(engine, record, stderr.strip())
        return
    host = record.host or "?"
    engine.move(record, S.RUNNING, f"container {name} started on {host}", container_id=name)


def _start_failed(engine: Engine, record: TaskRecord, text: str) -> None:
    failed = TaskResult(status=TaskStatus.FAILED, exit_code=-1)
    engine.move(record, S.RUN_COMPLETED, text, result=failed, error=text)


async def _no_room(engine: Engine, record: TaskRecord, why: str) -> None:
    """Another process filled the host since our last probe: wait for its next probe, then
    pick other cores on the same host (the image is there), until the operation's timeout."""
    host = record.host
    assert host is not None
    deadline = record.created_at + record.op_timeout_s
    engine.capacity.forget_allocation(record)
    reason = f"{record.host} has no room right now ({why}); waiting"
    record = engine.set_reason(record, reason)
    while time.time() < deadline:
        token = engine.room.token()  # a kill fires it too
        if engine.is_killed(record):
            return  # drive() runs STARTING again, which ends a killed task
        await engine.watch.fresh_probe(host)
        spec = record.spec
        # The same host: its image is there.
        request = Request(record.app, spec.cpu_count, spec.memory_mb, spec.placement_policy, host)
        got = place(
            request, engine.capacity.host_views(), strategy=engine.inventory.settings.placement
        )
        if not isinstance(got, NoFit):
            engine.capacity.reserve(record, got)
            if engine.store.update_fields(
                record.app, record.task_id, S.STARTING, numa_node=got.numa, cores=got.cores
            ):
                return  # drive() runs STARTING again with the new cores
            engine.capacity.forget_allocation(record)
            return
        await Signal.wait(token, IDLE_RECHECK_S)
    _start_failed(engine, record, f"no room on {record.host} in time: {why}")


async def running(engine: Engine, record: TaskRecord) -> None:
    """Wait for the container to exit (told by the host's event stream or its probe)."""
    if engine.is_killed(record):
        await engine.send_kill(record)  # again after a restart of this step: harmless
    code = await engine.exits.exit_of(record)
    if code is None:
        return  # woken for something else (state moved, kill): drive() re-reads
    if engine.is_killed(record):
        result = TaskResult.cancelled()
        reason, error = "killed", None
    else:
        result = TaskResult.from_exit_code(code)
        reason = f"exited with status {code}"
        error = None if code == 0 else f"Task instance exited with status: {code}"
    engine.move(record, S.RUN_COMPLETED, reason, result=result, error=error)


async def run_completed(engine: Engine, record: TaskRecord) -> None:
    """Nothing to wait for: clean up."""
    engine.move(record, S.DEPROVISIONING, "removing the container")


async def provisioning_failed(engine: Engine, record: TaskRecord) -> None:
    """A pull stopped by a kill still deprovisions to STOPPED."""
    engine.move(record, S.DEPROVISIONING, "cleaning up after the kill")


async def deprovisioning(engine: Engine, record: TaskRecord) -> None:
    """Keep the container's output locally, remove it (and the image unless cached).

    An attached run that saw the whole output keeps that, and its removal is docker's alone
    (engine/removal.py); any other captures `docker logs` first, in the same call as the
    removal."""
    host = engine.host_config(record)
    transport = engine.cluster.transport(host)
    name = executor.container_name(record.instance_id)
    live = engine.attached.get(record.key)
    if live is not None:
        # The exit may be heard (events, probe) a moment before the channel's last lines.
        await live.until_ended(CHANNEL_END_WAIT_S)
    try:
        if live is not None and live.whole:
            removed, said = await engine.removals.remove(host, name, timeout=DOCKER_TIMEOUT_S)
            lines = live.lines
        else:
            done = await transport.run(executor.finish(host, name), timeout=DOCKER_TIMEOUT_S)
            removed = done.exit_status != executor.REMOVE_FAILED
            said = done.stderr.decode("utf-8", "replace").strip()
            lines = merge_capture(record.app, record.task_id, done.stdout, done.stderr)
            lines = lines if done.ok else []
        if not removed:
            engine.set_reason(record, f"docker rm failed on {host.name}: {said}")
            await engine.watch.fresh_probe(host.name)
            return  # drive() tries again
        if lines:
            await asyncio.to_thread(engine.logs_store.write, lines)
        if not engine.inventory.settings.cache_images:
            image = engine.spec_of(record).executable.url
            await transport.run(executor.remove_image(host, image), timeout=DOCKER_TIMEOUT_S)
    except TransportError as err:
        engine.set_reason(record, f"cannot reach {host.name} to remove the container: {err}")
        await engine.watch.fresh_probe(host.name)
        return  # drive() tries again
    engine.capacity.released(record)
    engine.move(record, S.STOPPED, "container removed")


async def unknown(engine: Engine, record: TaskRecord) -> None:
    """Wait for the host to be probed again, then reconcile from what it really holds."""
    await recovery.reconcile(engine, record)


STEPS: dict[TaskState, Step] = {
    S.PENDING: pending,
    S.PROVISIONING: provisioning,
    S.STARTING: starting,
    S.RUNNING: running,
    S.RUN_COMPLETED: run_completed,
    S.PROVISIONING_FAILED: provisioning_failed,
    S.DEPROVISIONING: deprovisioning,
    S.UNKNOWN: unknown,
}
