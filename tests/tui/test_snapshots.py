"""What a person sees: every view pinned at 80x24 and 160x48 (fake engine, frozen clock).

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the pictures in the report before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fake_engine import FakeEngine, frozen_clock
from pilot_helpers import until
from textual.pilot import Pilot
from textual.widgets import Input

from drove_tui.tui.app import DroveApp
from drove_tui.tui.screens import FanoutScreen, LogsScreen
from drove_tui.tui.widgets import LogView, RowTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
Before = Callable[[Pilot[Any]], Awaitable[None]]


def make_app() -> DroveApp:
    return DroveApp(FakeEngine(), clock=frozen_clock)


async def settle(pilot: Pilot[Any], check: Callable[[], bool]) -> None:
    """Run until the view holds what the picture should show; no blinking cursors."""
    await until(pilot, check)
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def on_task(key: str, *keys: str, until: Callable[[Pilot[Any]], bool] | None = None) -> Before:
    async def before(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one(RowTable).move_to(key)
        await pilot.press(*keys)
        await settle(pilot, lambda: until(pilot) if until else True)

    return before


def logs_loaded(pilot: Pilot[Any]) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, LogsScreen) and len(screen.query_one(LogView).lines) >= 41


@pytest.mark.parametrize("size", SIZES)
def test_tasks_view(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=on_task("billing/invoice-run"))


@pytest.mark.parametrize("size", SIZES)
def test_tasks_view_filtered(snap_compare: Any, size: tuple[int, int]) -> None:
    before = on_task("billing/invoice-run", "slash", *"state:run")
    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_hosts_view(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, press=["2", "space"])


@pytest.mark.parametrize("size", SIZES)
def test_task_detail(snap_compare: Any, size: tuple[int, int]) -> None:
    before = on_task("billing/tax-export", "d")
    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_logs_with_search(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await on_task("billing/invoice-run", "l", until=logs_loaded)(pilot)
        await pilot.press("slash", *"line 3", "enter")
        await settle(pilot, lambda: True)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_kill_confirmation(snap_compare: Any, size: tuple[int, int]) -> None:
    before = on_task("billing/invoice-run", "ctrl+k")
    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_create_dialog(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("c")
        await settle(pilot, lambda: True)
        pilot.app.screen.query_one("#path", Input).value = "/nonexistent/spec.yaml"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: True)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_fan_out_view(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, DroveApp)
        app.push_screen(FanoutScreen(["billing/invoice-run", "ml/train-small", "ml/eval"]))
        await settle(pilot, lambda: isinstance(app.screen, FanoutScreen))

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, press=["question_mark"])
