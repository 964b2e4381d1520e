"""The log view keeps its wrapped rows right while lines stream in and old ones drop out."""

from __future__ import annotations

from textual.app import App, ComposeResult

from drove_tui.tui.widgets import LogView


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=20)


def shown(view: LogView) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


async def test_wrapped_rows_added_batch_by_batch_equal_a_fresh_wrap() -> None:
    app = LogApp()
    async with app.run_test(size=(12, 8)) as pilot:
        view = app.query_one(LogView)
        view.set_wrap(True)
        width = view.scrollable_content_region.width
        for batch in range(9):  # 45 lines into a 20-line buffer: drops happen mid-way
            view.append([(f"b{batch}-" + "x" * (i * 7), False) for i in range(5)])
            assert view._visual == view._cut(view.dropped, width)
        await pilot.pause()
        assert view.dropped == 25
        # The scroll bar took two columns once the rows overflowed: cut again at the new width.
        width = view.scrollable_content_region.width
        assert view._visual == view._cut(view.dropped, width)
        view.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        # The oldest kept lines are batch 5's: "b5-", then 7, 14, 21 x's after it.
        assert shown(view)[:5] == ["b5-", "b5-xxxxxxx", "b5-xxxxxxx", "xxxxxxx", "b5-xxxxxxx"]


async def test_jump_to_match_in_wrapped_view_finds_the_lines_first_row() -> None:
    app = LogApp()
    async with app.run_test(size=(12, 8)) as pilot:
        view = app.query_one(LogView)
        view.set_wrap(True)
        view.append([("y" * 30, False) for _ in range(25)] + [("needle here", False)])
        await pilot.pause()  # laid out, scroll bar shown
        view.search("needle")
        assert view.jump_match(1) == view.dropped + len(view.lines) - 1
        await pilot.pause()
        assert any("needle" in row for row in shown(view))
