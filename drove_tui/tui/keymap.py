"""Key bindings by id, so a user can rebind any of them in a config file.

The file is `$XDG_CONFIG_HOME/drove-tui/keys.yaml` (else `~/.config/...`), or the path in
DROVE_TUI_KEYS. It maps binding ids to keys, e.g. `{tasks.kill: "ctrl+x", logs.search: "f"}`;
several keys may be given comma-separated. Every id is listed in docs/tui.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from textual.binding import Binding, BindingType

from drove_tui.errors import InvalidInput


@dataclass(frozen=True)
class Key:
    """One bindable action: its id, default keys, the action it runs and its footer label."""

    id: str
    keys: str
    action: str
    label: str
    show: bool = True


def bindings(*keys: Key) -> list[BindingType]:
    """Textual bindings for the given keys, each carrying its id for the keymap."""
    return [Binding(k.keys, k.action, k.label, show=k.show, id=k.id) for k in keys]


# Shared by every view.
APP_KEYS = (
    Key("app.tasks", "1", "show_tasks", "Tasks", show=False),
    Key("app.hosts", "2", "show_hosts", "Hosts", show=False),
    Key("app.create", "c", "create", "Create"),
    Key("app.help", "question_mark", "help", "Help"),
    Key("app.quit", "q", "quit", "Quit"),
)

TASKS_KEYS = (
    Key("tasks.filter", "slash", "filter", "Filter"),
    Key("tasks.describe", "d", "describe", "Describe"),
    Key("tasks.logs", "l", "logs", "Logs"),
    Key("tasks.kill", "ctrl+k", "kill", "Kill"),
    Key("tasks.sort", "s", "sort_next", "Sort"),
    Key("tasks.reverse", "S", "sort_reverse", "Reverse", show=False),
    Key("tasks.clear", "escape", "clear_filter", "Clear filter", show=False),
)

HOSTS_KEYS = (
    Key("hosts.filter", "slash", "filter", "Filter"),
    Key("hosts.probe", "p", "probe", "Probe"),
    Key("hosts.probe_all", "r", "probe_all", "Refresh all", show=False),
    Key("hosts.trust", "t", "trust", "Trust key"),
    Key("hosts.mark", "space", "mark", "Mark", show=False),
    Key("hosts.fanout", "f", "fanout", "Fan-out"),
    Key("hosts.clear", "escape", "clear_filter", "Clear filter", show=False),
)

DETAIL_KEYS = (
    Key("detail.logs", "l", "logs", "Logs"),
    Key("detail.kill", "ctrl+k", "kill", "Kill"),
    Key("detail.back", "escape", "back", "Back"),
)

LOGS_KEYS = (
    Key("logs.search", "slash", "search", "Search"),
    Key("logs.next", "n", "next_match", "Next"),
    Key("logs.previous", "N", "previous_match", "Prev"),
    Key("logs.follow", "f", "toggle_follow", "Follow"),
    Key("logs.wrap", "w", "toggle_wrap", "Wrap"),
    Key("logs.save", "ctrl+s", "save", "Save"),
    Key("logs.top", "g,home", "top", "Top", show=False),
    Key("logs.end", "G,end", "end", "End", show=False),
    Key("logs.kill", "ctrl+k", "kill", "Kill", show=False),
    Key("logs.back", "escape", "back", "Back"),
)

FANOUT_KEYS = (
    Key("fanout.kill", "ctrl+k", "kill", "Kill"),
    Key("fanout.logs", "l", "logs", "Logs"),
    Key("fanout.back", "escape", "back", "Back"),
)

CREATE_KEYS = (
    Key("create.submit", "ctrl+s", "submit", "Submit"),
    Key("create.cancel", "escape", "cancel", "Cancel"),
)

FANOUT_SETUP_KEYS = (
    Key("fanout_setup.submit", "ctrl+s", "submit", "Start"),
    Key("fanout_setup.cancel", "escape", "cancel", "Cancel"),
)

CONFIRM_KEYS = (
    Key("confirm.yes", "y", "answer(True)", "Yes"),
    Key("confirm.no", "n,escape", "answer(False)", "No"),
)

HELP_KEYS = (Key("help.close", "escape,question_mark,q", "dismiss", "Close"),)

ALL_KEYS = (
    APP_KEYS
    + TASKS_KEYS
    + HOSTS_KEYS
    + DETAIL_KEYS
    + LOGS_KEYS
    + FANOUT_KEYS
    + CREATE_KEYS
    + FANOUT_SETUP_KEYS
    + CONFIRM_KEYS
    + HELP_KEYS
)
BINDING_IDS = frozenset(k.id for k in ALL_KEYS)


def keys_path() -> Path:
    """Where the user's key config lives (it need not exist)."""
    explicit = os.environ.get("DROVE_TUI_KEYS")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "drove-tui" / "keys.yaml"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Read the user's keymap; a missing file means no overrides."""
    path = path or keys_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read the key config ({err.strerror}).") from err
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: the key config is not UTF-8 text; fix or remove it.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "cannot be parsed"
        raise InvalidInput(
            f"{path}: not valid YAML{where} ({problem}); fix the file or remove it."
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{path}: expected a mapping of binding id to keys, e.g. 'tasks.kill: x'."
        )
    keymap: dict[str, str] = {}
    for binding_id, keys in data.items():
        if binding_id not in BINDING_IDS:
            raise InvalidInput(
                f"{path}: unknown binding id '{binding_id}'; the ids are listed in docs/tui.md."
            )
        if not isinstance(keys, str) or not keys.strip():
            raise InvalidInput(f"{path}: '{binding_id}' must be a key string such as 'ctrl+x'.")
        keymap[str(binding_id)] = keys.strip()
    return keymap
