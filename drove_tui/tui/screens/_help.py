"""`?`: every binding of the view underneath, with its key and what it does."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from drove_tui.tui.keymap import HELP_KEYS, bindings


def binding_table(screen: Screen[Any]) -> Table:
    """A table of the active bindings (keymap applied) of a screen, the app's included."""
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("action")
    table.add_column("binding id", style="dim")
    rows: list[tuple[str, str, str]] = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description:
            continue
        display = screen.app.get_key_display(binding)
        rows.append((display or key, binding.description, binding.id or ""))
    for row in sorted(set(rows), key=lambda r: (r[2] == "", r[2], r[0])):
        table.add_row(*row)
    table.add_row("ctrl+p", "Command palette (every action)", "")
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the bindings of the view it was opened from."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*HELP_KEYS)

    def __init__(self, view: Screen[Any]) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        title = type(self.view).__name__.removesuffix("Screen")
        with VerticalScroll(id="help"):
            yield Static(f"[b]Keys of the {title} view[/b]  (esc closes)")
            yield Static(binding_table(self.view))
