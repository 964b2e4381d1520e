"""The Backend over the real engine.

STUB until drove_tui/engine/engine.py lands: opening it says so in one sentence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from drove_tui.errors import DroveError
from drove_tui.tui.backend import Backend


@asynccontextmanager
async def open_backend(inventory: str | None, state: str | None) -> AsyncIterator[Backend]:
    """Open the engine on this inventory and state file for the app's lifetime."""
    raise DroveError("The engine is not available in this build yet; use the headless commands.")
    yield  # pragma: no cover
