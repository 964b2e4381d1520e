"""The tasks view: every task in the store, filterable, sortable, updated in place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drove_tui.tui.keymap import TASKS_KEYS, bindings
from drove_tui.tui.rows import Cell, TaskRow
from drove_tui.tui.screens._list import ListScreen
from drove_tui.tui.widgets import Column, RowTable

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


class TasksScreen(ListScreen):
    """All tasks; `/` filters (`state:RUNNING app:x host:y` or words), `s` cycles the sort."""

    BINDINGS = bindings(*TASKS_KEYS)
    COLUMNS = COLUMNS
    TABLE_ID = "tasks"
    FILTER_HINT = "filter: words, state:RUNNING app:X host:Y"

    def __init__(self) -> None:
        super().__init__()
        self.sort_by = "created"
        self.descending = True
        self.query_text = ""  # the filter text the table shows now
        # Every key in sort order; filtering picks from it in O(n) instead of sorting again.
        self._sorted: list[str] | None = None

    def _cells(self, key: str) -> Sequence[Cell]:
        row = self.drove.tasks.get(key)
        return row.cells(self.drove.clock()) if row else ()

    # ---- data -------------------------------------------------------------------------
    def rows(self) -> Mapping[str, TaskRow]:
        return self.drove.tasks

    def rebuild(self) -> None:
        """Filter and sort every row from scratch."""
        self._sorted = None
        super().rebuild()

    def filter_changed(self, text: str) -> None:
        super().filter_changed(text)
        self.query_text = text

    def order_rows(self) -> None:
        self._reorder()

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
