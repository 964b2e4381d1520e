"""Waiting on the app and reading its screen, for the pilot tests (fake engine and sandbox)."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot


async def until(
    pilot: Pilot[Any], check: Callable[[], object], limit: float = 20.0, step: float = 0.02
) -> None:
    """Let the app run until `check()` holds; fail after a generous limit (never a sleep bet)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        assert loop.time() < deadline, "condition not reached"
        await pilot.pause(step)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text (the SVG screenshot without its markup)."""
    svg = app.export_screenshot()
    body = svg[svg.index("<g class") :]
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")
