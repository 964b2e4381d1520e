"""Textual's vertical scroll bar, painted without the Rich rendering pipeline.

Every one-line scroll moves the thumb, and Textual repaints the bar through Rich (render,
split into lines, crop, build strips): in the bench that cost as much as painting the 45
rows of the table. This bar asks Textual's own `ScrollBarRender.render_bar` for the same
segments and turns each into a line directly, so the picture is the same (a test compares
the two) at a fraction of the cost. Anything unusual (a horizontal bar, a transparent bar
colour) goes through Textual unchanged.
"""

from __future__ import annotations

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget

_Key = tuple[int, int, int, int, float, Style, Style]
# ScrollBarRender's own fallbacks when the style has no colour.
_BACK = Color.parse("#555555")
_BAR = Color.parse("bright_magenta")


class LightScrollBar(ScrollBar):
    """A vertical ScrollBar whose lines are built straight from its segments."""

    _light_key: _Key | None = None
    _light_lines: list[Strip] = []  # noqa: RUF012 (replaced per instance, never mutated)

    def render_line(self, y: int) -> Strip:
        if not self.vertical:
            return super().render_line(y)
        renderable = self.render()
        if not isinstance(renderable, ScrollBarRender) or not isinstance(renderable.style, Style):
            return super().render_line(y)
        width, height = self.size
        base = self.visual_style.rich_style
        style = renderable.style
        key: _Key = (
            width,
            height,
            renderable.virtual_size,
            renderable.window_size,
            renderable.position,
            style,
            base,
        )
        if key != self._light_key:
            self._light_key = key
            self._light_lines = self._lines(renderable, style, base, width, height)
        if 0 <= y < len(self._light_lines):
            return self._light_lines[y]
        return Strip.blank(width, base)

    @staticmethod
    def _lines(
        bar: ScrollBarRender, style: Style, base: Style, width: int, height: int
    ) -> list[Strip]:
        segments = ScrollBarRender.render_bar(
            size=height,
            window_size=bar.window_size,
            virtual_size=bar.virtual_size,
            position=bar.position,
            vertical=True,
            thickness=width,
            back_color=style.bgcolor or _BACK,
            bar_color=style.color or _BAR,
        ).segments
        lines: list[Strip] = []
        for segment in segments[:height]:
            text = segment.text[:width]
            lines.append(Strip([Segment(text, base + segment.style)], len(text)))
        return lines


def use_light_scrollbar(widget: Widget) -> ScrollBar:
    """Create (once) the widget's vertical scroll bar as a LightScrollBar.

    For a widget's `vertical_scrollbar` property; mirrors Textual's own, with the class
    swapped.
    """
    existing: ScrollBar | None = widget._vertical_scrollbar
    if existing is not None:
        return existing
    bar = LightScrollBar(vertical=True, name="vertical", thickness=widget.scrollbar_size_vertical)
    bar.display = False
    widget._vertical_scrollbar = bar
    widget.app._start_widget(widget, bar)
    return bar
