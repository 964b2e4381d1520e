"""A table that renders only the rows on screen (Textual's Line API).

Textual's DataTable measures and stores every row; with 10,000 tasks its first paint took
2.4 s here. This table holds only an ordered list of stable row keys and asks its owner for
a row's cells when that row is painted, so filtering or sorting is a list operation and a
changed row repaints one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from drove_tui.tui.widgets._scrollbar import use_light_scrollbar

# A cell is its text and a Rich style string ("" for the default look).
Cell = tuple[str, str]


@dataclass(frozen=True)
class Column:
    """A column: its key (for sorting), its header label, and its width in cells."""

    key: str
    label: str
    width: int
    right: bool = False
    optional: bool = False  # hidden when the terminal is too narrow for every column
    fill: bool = False  # takes the width left over (at least `width`)


@lru_cache(maxsize=256)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


def _fit(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        return text[: max(width - 1, 0)] + "…" if width > 1 else text[:width]
    return text.rjust(width) if right else text.ljust(width)


class RowTable(ScrollView, can_focus=True):
    """Rows by key, shown in `order`; the cursor follows its row across re-orderings.

    Row 0 of the widget is the header; it stays put while the rows scroll under it.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"rowtable--header", "rowtable--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]
    DEFAULT_CSS = """
    RowTable { height: 1fr; }
    RowTable > .rowtable--header { text-style: bold; background: $panel; }
    RowTable > .rowtable--cursor { background: $primary-darken-2; text-style: bold; }
    """

    cursor = reactive(0, always_update=True, repaint=False)

    class Selected(Message):
        """The user pressed enter (or double-clicked) on a row."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: RowTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column],
        cells: Callable[[str], Sequence[Cell]],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        # Cells are asked for at paint time, so only rows on screen are ever formatted and
        # durations are as fresh as the paint.
        self.cells = cells
        self.order: list[str] = []
        self._index: dict[str, int] = {}
        self._cursor_key: str | None = None
        self.shown_columns = list(range(len(self.columns)))
        self.widths = [c.width for c in self.columns]
        self._width = sum(c.width + 1 for c in self.columns)
        self._styles = (Style(), Style(), Style())
        self._strips: LRUCache[tuple[tuple[Cell, ...], bool], Strip] = LRUCache(1024)
        self._paint_at: tuple[int, int, int, int] | None = None  # set during render_lines

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """The scroll bar, painted cheaply (it moves on every scroll)."""
        return use_light_scrollbar(self)

    # ---- data -------------------------------------------------------------------------
    def refresh_row(self, key: str) -> None:
        """Repaint one row's line if it is on screen."""
        index = self._index.get(key)
        if index is None:
            return
        # 500 changes a second land mostly off screen; asking Textual to repaint a line
        # nobody sees still costs a region computation each.
        top = int(self.scroll_y)
        if top <= index < top + self.scrollable_content_region.height:
            self.refresh_line(index + 1)

    def set_order(self, order: list[str]) -> None:
        """Show these keys in this order, keeping the cursor on the same row if it is still here."""
        self.order = order
        self._index = {key: i for i, key in enumerate(order)}
        self.virtual_size = Size(self._width, len(order) + 1)
        index = self._index.get(self._cursor_key, None) if self._cursor_key else None
        self.cursor = index if index is not None else min(self.cursor, max(len(order) - 1, 0))
        self.refresh()

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if 0 <= self.cursor < len(self.order):
            return self.order[self.cursor]
        return None

    def move_to(self, key: str) -> None:
        """Put the cursor on this row if it is shown."""
        index = self._index.get(key)
        if index is not None:
            self.cursor = index

    # ---- cursor -----------------------------------------------------------------------
    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.order) - 1)) if self.order else 0

    def watch_cursor(self, old: int, new: int) -> None:
        key = self.cursor_key
        if key != self._cursor_key:
            self._cursor_key = key
            self.post_message(self.Highlighted(self, key))
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(self.scrollable_content_region.height - 2, 1)

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = len(self.order) - 1

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self.order):
            self.cursor = row
            if event.chain > 1:
                self.action_select()

    # ---- rendering --------------------------------------------------------------------
    def on_resize(self) -> None:
        self._fit_columns(self.scrollable_content_region.width)

    def _fit_columns(self, width: int) -> None:
        """Show every required column, then optional ones (in order) while they fit."""
        total = sum(c.width + 1 for c in self.columns if not c.optional)
        visible = []
        for i, column in enumerate(self.columns):
            if column.optional:
                if total + column.width + 1 > width:
                    continue
                total += column.width + 1
            visible.append(i)
        self.shown_columns = visible
        self.widths = [c.width for c in self.columns]
        for i in visible:
            if self.columns[i].fill and width > total:
                self.widths[i] += width - total - 1
                total = width - 1
        self._width = total
        self._strips.clear()
        self.virtual_size = Size(self._width, len(self.order) + 1)
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # Looking styles up once per paint instead of once per line: the CSS lookups were
        # the largest single cost of a repaint.
        styles = (
            self.rich_style,
            self.get_component_rich_style("rowtable--cursor"),
            self.get_component_rich_style("rowtable--header"),
        )
        if styles != self._styles:
            self._styles = styles
            self._strips.clear()
        # Geometry and scroll position are the same for every line of one paint; Textual
        # computes them anew at each access.
        self._paint_at = (
            self.scrollable_content_region.width,
            int(self.scroll_x),
            int(self.scroll_y),
            self.cursor,
        )
        try:
            return super().render_lines(crop)
        finally:
            self._paint_at = None

    def render_line(self, y: int) -> Strip:
        if self._paint_at is not None:
            width, scroll_x, scroll_y, cursor_index = self._paint_at
        else:
            width = self.scrollable_content_region.width
            scroll_x, scroll_y, cursor_index = int(self.scroll_x), int(self.scroll_y), self.cursor
        plain, cursor, header = self._styles
        if y == 0:
            labels: list[Cell] = [(c.label, "") for c in self.columns]
            return self._strip(labels, header).crop_extend(scroll_x, scroll_x + width, header)
        index = scroll_y + y - 1
        if index >= len(self.order):
            return Strip.blank(width, plain)
        on_cursor = index == cursor_index
        base = cursor if on_cursor else plain
        cells = tuple(self.cells(self.order[index]))
        # Scrolling by one line repaints every line; most were painted a moment ago.
        strip = self._strips.get((cells, on_cursor))
        if strip is None:
            strip = self._strip(cells, base)
            self._strips[(cells, on_cursor)] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _strip(self, cells: Sequence[Cell], base: Style) -> Strip:
        segments: list[Segment] = []
        for i in self.shown_columns:
            if i >= len(cells):
                break
            column, (text, style) = self.columns[i], cells[i]
            fitted = _fit(text, self.widths[i], column.right)
            segments.append(Segment(fitted, base + _style(style)))
            segments.append(Segment(" ", base))
        return Strip(segments, self._width)
