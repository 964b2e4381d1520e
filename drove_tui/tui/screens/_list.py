"""What the tasks and hosts views share: a status line, a table, a `/` filter box, a footer.

A subclass names its columns, table id and filter hint, its rows (`rows`), how a row is
painted (`_cells`) and in which order the filtered rows stand (`order_rows`). Hidden views
skip the work of each flush (`stale`) and catch up when they are shown again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input

from drove_tui.tui.query import RowFilter, Searchable
from drove_tui.tui.rows import Cell
from drove_tui.tui.widgets import Column, RowTable, StatusLine

if TYPE_CHECKING:
    from drove_tui.tui.app import DroveApp


def open_box(screen: Screen[Any], box: Input) -> None:
    """Show a text box and focus it now, for a priority binding's action.

    Widget.focus() only queues the change: keys typed right after the opening key (one read
    of the terminal, a paste, a fast typist) would still go to the table or log behind the
    box, and run its bindings ('s' sorts, 'f' pauses). Focusing at once, while the opening
    key's priority binding runs, hands the very next key to the box. The opening key typed
    inside the open box is text (a '/' in a filter): the action steps aside.
    """
    if screen.focused is box:
        raise SkipAction
    box.display = True
    screen.set_focus(box)


class ListScreen(Screen[None]):
    """A filterable table of the app's rows, registered as a data view while mounted."""

    COLUMNS: ClassVar[Sequence[Column]]
    TABLE_ID: ClassVar[str]
    FILTER_HINT: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.filter = RowFilter()
        self.stale = False

    @property
    def drove(self) -> DroveApp:
        return cast("DroveApp", self.app)

    @property
    def table(self) -> RowTable:
        return self.query_one(f"#{self.TABLE_ID}", RowTable)

    @property
    def filter_box(self) -> Input:
        return self.query_one("#filter", Input)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        yield Input(placeholder=self.FILTER_HINT, id="filter")
        yield RowTable(self.COLUMNS, self._cells, id=self.TABLE_ID)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.drove.views.append(self)
        self.rebuild()
        self.table.focus()

    def on_unmount(self) -> None:
        if self in self.drove.views:
            self.drove.views.remove(self)

    def on_screen_resume(self) -> None:
        if self.stale:
            self.rebuild()
        self.drove.refresh_status()

    def _cells(self, key: str) -> Sequence[Cell]:
        raise NotImplementedError

    def rows(self) -> Mapping[str, Searchable]:
        """The app's rows this view lists, by table key."""
        raise NotImplementedError

    def order_rows(self) -> None:
        """Put the keys the filter lets through into the table, in the view's order."""
        raise NotImplementedError

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None:
        """The app applied a batch of changes (see DroveApp.flush)."""
        raise NotImplementedError

    def rebuild(self) -> None:
        """Filter and order every row from scratch."""
        self.stale = False
        self.filter.reset()
        self.filter.set_query(self.filter_box.value, self.rows())
        self.order_rows()
        self.drove.refresh_status()

    def filter_changed(self, text: str) -> None:
        """The filter box now reads `text` (it may narrow the last filter: no full pass)."""
        self.filter.set_query(text, self.rows())
        self.order_rows()

    # ---- the filter box -----------------------------------------------------------------
    def action_filter(self) -> None:
        open_box(self, self.filter_box)

    def action_clear_filter(self) -> None:
        box = self.filter_box
        if box.value or box.display:
            box.value = ""
            box.display = False
            self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_changed(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value:
                event.input.display = False
            self.table.focus()
