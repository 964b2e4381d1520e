"""The tasks view: every task in the store, filterable, sortable, updated in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input

from drove_tui.tui.keymap import TASKS_KEYS, bindings
from drove_tui.tui.query import RowFilter
from drove_tui.tui.rows import Cell
from drove_tui.tui.widgets import Column, RowTable, StatusLine

if TYPE_CHECKING:
    from drove_tui.tui.app import DroveApp

# At 80 columns the optional ones give way; at 160 every column shows in full.
COLUMNS = (
    Column("app", "APP", 10),
    Column("task", "TASK", 16),
    Column("state", "STATE", 19),
    Column("host", "HOST", 7),
    Column("cores", "CPU", 3, right=True),
    Column("memory", "MEM", 6, right=True, optional=True),
    Column("started", "STARTED", 8, optional=True),
    Column("duration", "DURATION", 8),
    Column("exit", "EXIT", 4, right=True),
)
SORTABLE = ("created", "app", "task", "state", "host", "started")
# Sort columns whose value changes as a task runs; any change may move a row.
VOLATILE = frozenset({"state", "host", "started"})


class TasksScreen(Screen[None]):
    """All tasks; `/` filters (`state:RUNNING app:x host:y` or words), `s` cycles the sort."""

    BINDINGS = bindings(*TASKS_KEYS)

    def __init__(self) -> None:
        super().__init__()
        self.filter = RowFilter()
        self.sort_by = "created"
        self.descending = True
        self.stale = False
        self.query_text = ""  # the filter text the table shows now
        # Every key in sort order; filtering picks from it in O(n) instead of sorting again.
        self._sorted: list[str] | None = None

    @property
    def drove(self) -> DroveApp:
        return cast("DroveApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        yield Input(placeholder="filter: words, state:RUNNING app:X host:Y", id="filter")
        yield RowTable(COLUMNS, self._cells, id="tasks")
        yield Footer(compact=True)

    @property
    def table(self) -> RowTable:
        return self.query_one("#tasks", RowTable)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.drove.views.append(self)
        self.rebuild()
        self.table.focus()

    def on_unmount(self) -> None:
        if self in self.drove.views:
            self.drove.views.remove(self)

    def on_screen_resume(self) -> None:
        # Hidden views skip the work of each flush and catch up when shown again.
        if self.stale:
            self.rebuild()
        self.drove.refresh_status()

    def _cells(self, key: str) -> Sequence[Cell]:
        row = self.drove.tasks.get(key)
        return row.cells(self.drove.clock()) if row else ()

    # ---- data -------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Filter and sort every row from scratch."""
        self.stale = False
        self._sorted = None
        self.filter.reset()
        self.filter.set_query(self.query_one("#filter", Input).value, self.drove.tasks)
        self._reorder()
        self.drove.refresh_status()

    def _reorder(self) -> None:
        if self._sorted is None:
            tasks, column = self.drove.tasks, self.sort_by
            self._sorted = sorted(tasks, key=lambda k: tasks[k].sort_key(column))
            if self.descending:
                self._sorted.reverse()
        keys = self.filter.keys
        if self.filter.terms:
            self.table.set_order([k for k in self._sorted if k in keys])
        else:
            self.table.set_order(list(self._sorted))

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None:
        """Repaint changed rows in place; re-sort only when membership or order may move."""
        if not task_keys:
            return
        if not self.is_current:
            self.stale = True
            return
        tasks = self.drove.tasks
        moved = False
        for key in task_keys:
            if self.filter.update(key, tasks.get(key)):
                moved = True
            else:
                self.table.refresh_row(key)
        if self._sorted is not None and (
            self.sort_by in VOLATILE or len(self._sorted) != len(tasks)
        ):
            self._sorted = None  # rows may have moved, or new rows arrived
            moved = True
        if moved:
            self._reorder()

    # ---- actions ----------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter.set_query(event.value, self.drove.tasks)
            self._reorder()
            self.query_text = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value:
                event.input.display = False
            self.table.focus()

    def action_sort_next(self) -> None:
        self.sort_by = SORTABLE[(SORTABLE.index(self.sort_by) + 1) % len(SORTABLE)]
        self.descending = self.sort_by == "created"
        self._sorted = None
        self._reorder()
        self.notify(f"Sorted by {self.sort_by}", timeout=1.5)

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending
        self._sorted = None
        self._reorder()

    def action_describe(self) -> None:
        from drove_tui.tui.screens._detail import DetailScreen

        key = self.table.cursor_key
        if key:
            self.app.push_screen(DetailScreen(key))

    def action_logs(self) -> None:
        from drove_tui.tui.screens._logs import LogsScreen

        key = self.table.cursor_key
        if key:
            self.app.push_screen(LogsScreen(key))

    def action_kill(self) -> None:
        self.drove.confirm_kill(self.table.cursor_key)

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        self.action_describe()
