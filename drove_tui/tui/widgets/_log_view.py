"""A bounded, searchable log that renders only the lines on screen.

Lines arrive in batches (the logs screen merges whatever came in during ~100 ms), so a task
printing 10,000 lines a second costs ten appends and ten repaints a second, not 10,000.
Memory is bounded: past `max_lines` the oldest lines are dropped (the full copy stays on
the host and in the engine's local log).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from drove_tui.tui.widgets._scrollbar import use_light_scrollbar

STDERR_STYLE = Style(color="yellow")


class LogView(ScrollView, can_focus=True):
    """Log lines with follow mode, wrap, and highlighted search matches."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"logview--match", "logview--current"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_lines(-1)", "Up", show=False),
        Binding("down,j", "scroll_lines(1)", "Down", show=False),
        Binding("pageup", "scroll_lines(-20)", "Page up", show=False),
        Binding("pagedown", "scroll_lines(20)", "Page down", show=False),
    ]
    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > .logview--match { background: $warning 60%; color: $text; }
    LogView > .logview--current { background: $accent; color: $text; text-style: bold; }
    """

    def __init__(self, *, max_lines: int = 50_000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.lines: list[tuple[str, bool]] = []  # (text, is_stderr)
        self.dropped = 0  # lines dropped from the front, so absolute numbers stay stable
        self.follow = True
        self.wrap = False
        self.pattern: re.Pattern[str] | None = None
        self.matches: list[int] = []  # absolute line numbers
        self.current_match = -1
        # When wrapping: (absolute line number, start column) of each screen row, and the
        # width they were cut for. Absolute numbers survive dropping lines from the front, so
        # a batch only adds its own rows instead of re-cutting 50,000 lines.
        self._visual: list[tuple[int, int]] = []
        self._visual_width = 0
        self._longest = 0

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """The scroll bar, painted cheaply (it moves on every scroll)."""
        return use_light_scrollbar(self)

    # ---- data -------------------------------------------------------------------------
    def append(self, batch: Sequence[tuple[str, bool]]) -> None:
        """Add a batch of lines (text, is_stderr) and repaint once."""
        if not batch:
            return
        start = self.dropped + len(self.lines)
        self.lines.extend(batch)
        self._longest = max(self._longest, *(len(text) for text, _ in batch))
        if self.pattern is not None:
            search = self.pattern.search
            self.matches.extend(
                start + i for i, (text, _) in enumerate(batch) if search(text) is not None
            )
        excess = len(self.lines) - self.max_lines
        if excess > 0:
            del self.lines[:excess]
            self.dropped += excess
            self._trim_matches()
        self._relayout(new_from=start)

    def text(self) -> str:
        """The buffered log as one string (for saving)."""
        return "".join(text + "\n" for text, _ in self.lines)

    def _trim_matches(self) -> None:
        first = 0
        while first < len(self.matches) and self.matches[first] < self.dropped:
            first += 1
        if first:
            del self.matches[:first]
            self.current_match = max(self.current_match - first, -1)

    # ---- layout -----------------------------------------------------------------------
    def _relayout(self, new_from: int | None = None) -> None:
        """Fit the lines to the view; `new_from` = absolute number of the first new line."""
        width = max(self.scrollable_content_region.width, 1)
        if self.wrap:
            if new_from is None or width != self._visual_width:
                self._visual = self._cut(self.dropped, width)
                self._visual_width = width
            else:
                del self._visual[: bisect_left(self._visual, (self.dropped, 0))]
                self._visual.extend(self._cut(max(new_from, self.dropped), width))
            self.virtual_size = Size(width, len(self._visual))
        else:
            self.virtual_size = Size(self._longest, len(self.lines))
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _cut(self, first: int, width: int) -> list[tuple[int, int]]:
        """The screen rows of lines from absolute number `first` on, wrapped at `width`."""
        lines, dropped = self.lines, self.dropped
        return [
            (number, start)
            for number in range(first, dropped + len(lines))
            for start in range(0, max(len(lines[number - dropped][0]), 1), width)
        ]

    def on_resize(self) -> None:
        self._relayout()

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines to the width of the view, or scroll them sideways."""
        self.wrap = wrap
        self._relayout()

    def set_follow(self, follow: bool) -> None:
        """Keep the newest line in view (True) or hold the view still (False)."""
        self.follow = follow
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_scroll_lines(self, delta: int) -> None:
        # Scrolling up by hand means the user is reading: stop following.
        if delta < 0:
            self.follow = False
        self.scroll_to(y=self.scroll_y + delta, animate=False)

    # ---- search -----------------------------------------------------------------------
    def search(self, term: str) -> int:
        """Highlight every match of `term` (plain text, any case); return the count."""
        self.pattern = re.compile(re.escape(term), re.IGNORECASE) if term else None
        self.matches = []
        self.current_match = -1
        if self.pattern is not None:
            search = self.pattern.search
            self.matches = [
                self.dropped + i for i, (text, _) in enumerate(self.lines) if search(text)
            ]
        self.refresh()
        return len(self.matches)

    def jump_match(self, step: int) -> int | None:
        """Move to the next (step 1) or previous (-1) match; returns its absolute line number."""
        if not self.matches:
            return None
        self.follow = False
        self.current_match = (self.current_match + step) % len(self.matches)
        line = self.matches[self.current_match]
        self.scroll_to(y=max(self._visual_row(line - self.dropped) - 2, 0), animate=False)
        self.refresh()
        return line

    def _visual_row(self, index: int) -> int:
        if not self.wrap:
            return index
        return bisect_left(self._visual, (index + self.dropped, 0))

    # ---- rendering --------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        # The scroll bar appearing narrows the view without a resize event.
        if self.wrap and max(self.scrollable_content_region.width, 1) != self._visual_width:
            self._relayout()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = int(self.scroll_y) + y
        if self.wrap:
            if row >= len(self._visual):
                return Strip.blank(width, self.rich_style)
            number, start = self._visual[row]
            index = number - self.dropped
            text, stderr = self.lines[index]
            piece, offset = text[start : start + width], start
        else:
            if row >= len(self.lines):
                return Strip.blank(width, self.rich_style)
            index = row
            text, stderr = self.lines[index]
            offset = int(self.scroll_x)
            piece = text[offset : offset + width]
        strip = self._paint(piece, index, offset, stderr)
        return strip.extend_cell_length(width, self.rich_style)

    def _paint(self, piece: str, index: int, offset: int, stderr: bool) -> Strip:
        base = self.rich_style + STDERR_STYLE if stderr else self.rich_style
        if self.pattern is None or not self.matches:
            return Strip([Segment(piece, base)])
        text, _ = self.lines[index]
        spans = [(m.start() - offset, m.end() - offset) for m in self.pattern.finditer(text)]
        if not spans:
            return Strip([Segment(piece, base)])
        current = (
            self.current_match >= 0 and self.matches[self.current_match] == index + self.dropped
        )
        hit = self.get_component_rich_style(
            "logview--current" if current else "logview--match", partial=True
        )
        segments: list[Segment] = []
        pos = 0
        for start, end in spans:
            start, end = max(start, 0), min(end, len(piece))
            if end <= pos:
                continue
            segments.append(Segment(piece[pos:start], base))
            segments.append(Segment(piece[start:end], base + hit))
            pos = end
        segments.append(Segment(piece[pos:], base))
        return Strip(segments)
