"""The terminal app: holds the task and host rows, batches engine events, runs the views.

All I/O happens in workers that only touch the app's pending maps; a timer applies the
pending changes every 100 ms and tells the views which rows changed, so a burst of events
becomes one repaint.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any, Protocol

from textual import events, work
from textual.app import App, SystemCommand
from textual.css.query import NoMatches
from textual.screen import Screen

from drove_tui.engine.events import HostChanged, TaskChanged
from drove_tui.errors import DroveError
from drove_tui.models.host import HostState, HostStatus
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord
from drove_tui.tui.backend import Backend
from drove_tui.tui.collector import IdleCollector
from drove_tui.tui.keymap import APP_KEYS, bindings, load_keymap
from drove_tui.tui.rows import HostRow, TaskRow, task_key
from drove_tui.tui.widgets import StatusLine


class DataView(Protocol):
    """A view that shows app data and wants to hear which rows changed."""

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None: ...


class DroveApp(App[int]):
    """drove-tui's interactive front door."""

    CSS_PATH = "app.tcss"
    TITLE = "drove-tui"
    BINDINGS = bindings(*APP_KEYS)

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Callable[[], float] = time.time,
        keymap: dict[str, str] | None = None,
        flush_interval: float = 0.1,
        freeze_gc: bool = False,
    ) -> None:
        super().__init__()
        self.freeze_gc = freeze_gc
        self.backend = backend
        self.clock = clock
        self.flush_interval = flush_interval
        self.tasks: dict[str, TaskRow] = {}
        self.host_rows: dict[str, HostRow] = {}
        self.views: list[DataView] = []
        # Kept up to date by delta on each flush: recounting 10,000 rows every 100 ms cost
        # more than half of the app's time in the bench.
        self.state_counts: Counter[TaskState] = Counter()
        self.live_by_host: Counter[str] = Counter()
        self.unknown: set[str] = set()
        self._pending_tasks: dict[str, TaskRecord] = {}
        self._pending_hosts: dict[str, HostStatus] = {}
        self._keymap = keymap or {}
        self.collector: IdleCollector | None = None

    # ---- start-up ---------------------------------------------------------------------
    def on_mount(self) -> None:
        from drove_tui.tui.screens import TasksScreen

        self.set_keymap(self._keymap)
        if not self.freeze_gc:
            self._load()
        else:
            # Building 10,000 records makes the collector walk the growing heap again and
            # again (a third of the load time); none of it is garbage. The rows live as long
            # as the app, so they are frozen before the collector may look at them, and full
            # collections then run only while the user is quiet. Process-wide, so only the
            # real app (and the bench) asks for it, not tests.
            gc.disable()
            try:
                self._load()
            finally:
                self.collector = IdleCollector()
                self.collector.start()
                gc.enable()
            self.set_interval(0.25, self.collector.tick)
        self.push_screen(TasksScreen())
        self._listen()
        self.set_interval(self.flush_interval, self.flush)

    def _load(self) -> None:
        tags = self.backend.host_tags()
        for status in self.backend.hosts():
            self.host_rows[status.name] = self._host_row(status, tags)
        for record in self.backend.tasks():
            self._put_task(task_key(record.app, record.task_id), record)
        self._show_live_counts()

    def _host_row(self, status: HostStatus, tags: Mapping[str, Mapping[str, str]]) -> HostRow:
        foreign = tuple(self.backend.foreign(status.name))
        return HostRow(status, tags.get(status.name, {}), foreign_containers=foreign)

    def on_unmount(self) -> None:
        if self.collector is not None:
            self.collector.stop()

    async def on_event(self, event: events.Event) -> None:
        """Note every key and mouse action, so full collections wait for a quiet moment."""
        if self.collector is not None and isinstance(event, events.InputEvent):
            self.collector.input_seen()
        await super().on_event(event)

    @work(group="events", exit_on_error=False)
    async def _listen(self) -> None:
        async for event in self.backend.subscribe():
            if isinstance(event, TaskChanged):
                r = event.record
                self._pending_tasks[task_key(r.app, r.task_id)] = r
            elif isinstance(event, HostChanged):
                self._pending_hosts[event.status.name] = event.status

    # ---- batching ---------------------------------------------------------------------
    def flush(self) -> None:
        """Apply the changes gathered since the last flush and tell the views once."""
        if not self._pending_tasks and not self._pending_hosts:
            return
        pending_tasks, self._pending_tasks = self._pending_tasks, {}
        pending_hosts, self._pending_hosts = self._pending_hosts, {}
        for key, record in pending_tasks.items():
            self._put_task(key, record)
        tags = self.backend.host_tags()
        for name, status in pending_hosts.items():
            self.host_rows[name] = self._host_row(status, tags)
        self._show_live_counts()
        for view in list(self.views):
            try:
                view.data_changed(set(pending_tasks), set(pending_hosts))
            except NoMatches:
                # A view being torn down (the app exiting) has lost its widgets already;
                # it has nothing left to repaint.
                continue
        self.refresh_status()

    def note_task(self, record: TaskRecord) -> None:
        """Show a task the app itself just created, without waiting for the engine's event."""
        self._pending_tasks[task_key(record.app, record.task_id)] = record
        self.flush()

    def _put_task(self, key: str, record: TaskRecord) -> None:
        """Store the task's new row and move the counts from its old state to the new."""
        old = self.tasks.get(key)
        if old is not None:
            self._count(key, old.record, -1)
        self.tasks[key] = TaskRow(record)
        self._count(key, record, 1)

    def _count(self, key: str, record: TaskRecord, sign: int) -> None:
        self.state_counts[record.state] += sign
        if record.host and not record.terminal:
            self.live_by_host[record.host] += sign
        if record.state is TaskState.UNKNOWN:
            if sign > 0:
                self.unknown.add(key)
            else:
                self.unknown.discard(key)

    def _show_live_counts(self) -> None:
        for name, host in self.host_rows.items():
            host.live_tasks = self.live_by_host.get(name, 0)

    def refresh_status(self) -> None:
        """Redraw the status line of the current view."""
        for line in self.screen.query(StatusLine):
            self.paint_status(line)

    def paint_status(self, line: StatusLine) -> None:
        """Draw one status line from the app's current figures."""
        counts = +self.state_counts  # drops states whose count fell to zero
        online = sum(1 for h in self.host_rows.values() if h.status.state is HostState.ONLINE)
        line.show(
            inventory=self.backend.inventory_label,
            store=self.backend.store_label,
            online=online,
            hosts=len(self.host_rows),
            counts=counts,
            recovering=self.backend.recovering() or self._reconciling(),
        )

    def _reconciling(self) -> bool:
        """True while an UNKNOWN task sits on a host that is not yet polled or is back ONLINE
        (its reconciliation is due); UNKNOWN on an unreachable host is waiting, not recovery."""
        for key in self.unknown:
            r = self.tasks[key].record
            host = self.host_rows.get(r.host or "")
            if host is None or host.status.state in (HostState.UNKNOWN, HostState.ONLINE):
                return True
        return False

    # ---- shared actions ---------------------------------------------------------------
    def run_backend(self, call: Callable[[], Awaitable[Any]], *, done: str | None = None) -> None:
        """Run an engine call in a worker; a user error becomes a notification, not a crash."""

        async def runner() -> None:
            try:
                await call()
            except DroveError as err:
                self.notify(str(err), severity="error", timeout=8)
                return
            if done:
                self.notify(done)

        self.run_worker(runner(), group="actions", exit_on_error=False)

    def confirm_kill(self, key: str | None) -> None:
        """Ask, naming the task and its host, then kill."""
        from drove_tui.tui.screens import ConfirmScreen

        row = self.tasks.get(key) if key else None
        if row is None:
            self.notify("Select a task first.", severity="warning")
            return
        r = row.record
        if r.terminal:
            self.notify(f"{r.app}/{r.task_id} has already finished ({r.state}).")
            return
        where = f"on host {r.host}" if r.host else "(not placed yet)"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_backend(
                    lambda: self.backend.kill(r.app, r.task_id),
                    done=f"Kill sent to {r.app}/{r.task_id}.",
                )

        self.push_screen(
            ConfirmScreen(f"Kill task {r.app}/{r.task_id} ({r.state}) {where}?", "Kill"),
            answered,
        )

    def action_show_tasks(self) -> None:
        from drove_tui.tui.screens import TasksScreen

        self._show_main(TasksScreen)

    def action_show_hosts(self) -> None:
        from drove_tui.tui.screens import HostsScreen

        self._show_main(HostsScreen)

    def _show_main(self, kind: type[Screen[Any]]) -> None:
        # Main views live at the bottom of the stack; going to one drops anything above it.
        while len(self.screen_stack) > 2 and not isinstance(self.screen, kind):
            self.pop_screen()
        if not isinstance(self.screen, kind):
            if len(self.screen_stack) > 1:
                self.switch_screen(kind())
            else:
                self.push_screen(kind())

    def action_create(self) -> None:
        from drove_tui.tui.screens import CreateScreen

        self.push_screen(CreateScreen())

    def action_help(self) -> None:
        from drove_tui.tui.screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the current view, plus the app's own, in the command palette."""
        yield from super().get_system_commands(screen)
        seen: set[tuple[int, str]] = set()
        for key, active in screen.active_bindings.items():
            binding, node = active.binding, active.node
            if not binding.description or (id(node), binding.action) in seen:
                continue
            seen.add((id(node), binding.action))
            yield SystemCommand(
                binding.description,
                f"{binding.description} (key: {key})",
                partial(self.run_action, binding.action, node),
            )


def run_app(args: argparse.Namespace) -> int:
    """Open the engine on the inventory and store, and run the app until the user quits."""
    import asyncio

    from drove_tui.tui.engine_backend import open_backend

    keymap = load_keymap()

    async def main() -> int:
        async with open_backend(
            getattr(args, "inventory", None), getattr(args, "state", None)
        ) as backend:
            app = DroveApp(backend, keymap=keymap, freeze_gc=True)
            code = await app.run_async()
            return code or 0

    return asyncio.run(main())
