"""The light scroll bar paints exactly what Textual's own scroll bar paints."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.visual import Visual

from drove_tui.tui.widgets import Column, LogView, RowTable
from drove_tui.tui.widgets._scrollbar import LightScrollBar


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RowTable([Column("n", "N", 8)], lambda key: ((key, ""),))


def textual_lines(bar: LightScrollBar) -> list[object]:
    """The bar's lines as Textual's ScrollBar renders them (through Rich)."""
    width, height = bar.size
    return list(Visual.to_strips(bar, bar._render(), width, height, bar.visual_style))


async def test_table_scroll_bar_matches_textual_at_every_thumb_position() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_order([str(i) for i in range(500)])
        await pilot.pause()
        bar = table.vertical_scrollbar
        assert isinstance(bar, LightScrollBar)
        assert bar.display
        # Positions chosen so that the thumb's ends fall on every partial-cell glyph.
        for y in (0, 1, 3, 7, 50, 123, 250, 377, 499):
            table.scroll_to(y=y, animate=False, immediate=True)
            await pilot.pause()
            mine = [bar.render_line(row) for row in range(bar.size.height)]
            assert mine == textual_lines(bar), f"scrolled to {y}"


async def test_log_view_uses_the_light_scroll_bar() -> None:
    class LogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield LogView()

    app = LogApp()
    async with app.run_test(size=(40, 12)) as pilot:
        view = app.query_one(LogView)
        view.append([(f"line {i}", False) for i in range(300)])
        await pilot.pause()
        bar = view.vertical_scrollbar
        assert isinstance(bar, LightScrollBar)
        mine = [bar.render_line(row) for row in range(bar.size.height)]
        assert mine == textual_lines(bar)
