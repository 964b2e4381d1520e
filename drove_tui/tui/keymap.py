"""Key bindings by id, so a user can rebind any of them in a config file.

The file is `$XDG_CONFIG_HOME/drove-tui/keys.yaml` (else `~/.config/...`), or the path in
DROVE_TUI_KEYS. It maps binding ids to keys, e.g. `{tasks.kill: "ctrl+x", logs.search: "f"}`;
several keys may be given comma-separated. Every id is listed in docs/tui.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding, BindingType

from drove_tui.errors import InvalidInput
from drove_tui.loaders.source import parse, read_text


@dataclass(frozen=True)
class Key:
    """One bindable action: its id, default keys, the action it runs and its footer label."""

    id: str
    keys: str
    action: str
    label: str
    show: bool = True
    # Checked when the key arrives, before the keys typed after it are handed on: for the
    # keys that open a text box, so the next keystroke already lands in the box.
    priority: bool = False


def bindings(*keys: Key) -> list[BindingType]:
    """Textual bindings for the given keys, each carrying its id for the keymap."""
    return [
        Binding(k.keys, k.action, k.label, show=k.show, id=k.id, priority=k.priority) for k in keys
    ]


def list_view(view: str, *keys: Key) -> tuple[Key, ...]:
    """A list view's keys: `/` filters first, `esc` clears the filter last."""
    return (
        Key(f"{view}.filter", "slash", "filter", "Filter", priority=True),
        *keys,
        Key(f"{view}.clear", "escape", "clear_filter", "Clear filter", show=False),
    )


def form(view: str, submit: str) -> tuple[Key, ...]:
    """A dialog's keys: `ctrl+s` submits (labelled `submit`), `esc` cancels."""
    return (
        Key(f"{view}.submit", "ctrl+s", "submit", submit),
        Key(f"{view}.cancel", "escape", "cancel", "Cancel"),
    )


# Shared by every view.
APP_KEYS = (
    Key("app.tasks", "1", "show_tasks", "Tasks", show=False),
    Key("app.hosts", "2", "show_hosts", "Hosts", show=False),
    Key("app.create", "c", "create", "Create"),
    Key("app.help", "question_mark", "help", "Help"),
    Key("app.quit", "q", "quit", "Quit"),
)

TASKS_KEYS = list_view(
    "tasks",
    Key("tasks.describe", "d", "describe", "Describe"),
    Key("tasks.logs", "l", "logs", "Logs"),
    Key("tasks.kill", "ctrl+k", "kill", "Kill"),
    Key("tasks.sort", "s", "sort_next", "Sort"),
    Key("tasks.reverse", "S", "sort_reverse", "Reverse", show=False),
)

HOSTS_KEYS = list_view(
    "hosts",
    Key("hosts.probe", "p", "probe", "Probe"),
    Key("hosts.probe_all", "r", "probe_all", "Refresh all", show=False),
    Key("hosts.trust", "t", "trust", "Trust key"),
    Key("hosts.mark", "space", "mark", "Mark", show=False),
    Key("hosts.fanout", "f", "fanout", "Fan-out"),
)

DETAIL_KEYS = (
    Key("detail.logs", "l", "logs", "Logs"),
    Key("detail.kill", "ctrl+k", "kill", "Kill"),
    Key("detail.back", "escape", "back", "Back"),
)

LOGS_KEYS = (
    Key("logs.search", "slash", "search", "Search", priority=True),
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

CREATE_KEYS = form("create", "Submit")
FANOUT_SETUP_KEYS = form("fanout_setup", "Start")

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
    """Read the user's keymap; a missing (or empty) file means no overrides.

    The file goes through the loaders' safe reader (size, binary, encoding, duplicate keys,
    alias bombs, nesting), so every problem is one sentence naming the file and the line.
    """
    path = path or keys_path()
    try:
        if path.stat().st_size == 0:
            return {}
    except FileNotFoundError:
        return {}
    except OSError:
        pass  # read_text below says what is wrong with it
    text, source = read_text(path, "key config")
    doc = parse(text, source)
    data = doc.data
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{source}: expected a mapping of binding id to keys, e.g. 'tasks.kill: x'."
        )
    keymap: dict[str, str] = {}
    for binding_id, keys in data.items():
        where = f"{source}:{doc.line_of((binding_id,)) or 1}"
        if binding_id not in BINDING_IDS:
            raise InvalidInput(
                f"{where}: unknown binding id '{binding_id}'; the ids are listed in docs/tui.md."
            )
        if not isinstance(keys, str) or not keys.strip():
            raise InvalidInput(f"{where}: '{binding_id}' must be a key string such as 'ctrl+x'.")
        keymap[str(binding_id)] = keys.strip()
    return keymap
