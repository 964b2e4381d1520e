"""The task store: a small interface (base.Store), SQLite by default."""

from __future__ import annotations

import os

from drove_tui.engine.store.base import IllegalTransition, Store, TaskExists, TaskNotTerminal
from drove_tui.engine.store.sqlite import SqliteStore
from drove_tui.paths import resolve_state_path

__all__ = [
    "IllegalTransition",
    "SqliteStore",
    "Store",
    "TaskExists",
    "TaskNotTerminal",
    "open_store",
    "resolve_state_path",
]


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """The store at ``path`` (the --state value), else DROVE_TUI_STATE, else the XDG default."""
    return SqliteStore.open(resolve_state_path(path))
