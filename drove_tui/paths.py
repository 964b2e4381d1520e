"""Where our files live: the state file (--state, else DROVE_TUI_STATE, else the XDG state
directory). Standard library only: the warm client resolves these before anything heavy loads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

STATE_ENV = "DROVE_TUI_STATE"
FILE_NAME = "state.db"


def resolve_state_path(
    explicit: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """The state file path the user asked for, in order of precedence.

    ``explicit`` is the --state option; an empty DROVE_TUI_STATE or XDG_STATE_HOME counts as
    unset (the XDG spec says so for XDG_* variables).
    """
    environ = os.environ if env is None else env
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    from_env = environ.get(STATE_ENV, "")
    if from_env:
        return Path(from_env).expanduser()
    xdg = environ.get("XDG_STATE_HOME", "")
    # XDG: a relative XDG_STATE_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else _home(environ) / ".local" / "state"
    return base / "drove-tui" / FILE_NAME


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME", "")
    return Path(home) if home else Path.home()
