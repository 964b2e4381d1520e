"""The status line: inventory, store, hosts online, tasks by state, recovery banner."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from drove_tui.models.states import TaskState

# Short labels keep the whole line inside 80 columns.
SHORT = {
    TaskState.PENDING: ("PEND", "yellow"),
    TaskState.PROVISIONING: ("PROV", "cyan"),
    TaskState.PROVISIONING_FAILED: ("PFAIL", "red"),
    TaskState.STARTING: ("START", "cyan"),
    TaskState.RUNNING: ("RUN", "cyan"),
    TaskState.RUN_COMPLETED: ("DONE", "cyan"),
    TaskState.DEPROVISIONING: ("DEPROV", "cyan"),
    TaskState.STOPPED: ("STOP", "green"),
    TaskState.LOST: ("LOST", "magenta"),
    TaskState.UNKNOWN: ("UNK", "bold bright_black"),
}


def state_counts(counts: Counter[TaskState]) -> Text:
    """'RUN 3 STOP 10 ...' for the states that have tasks, in lifecycle order."""
    text = Text()
    for state, (label, style) in SHORT.items():
        n = counts.get(state, 0)
        if n:
            text.append(f"{label} ", style=style)
            text.append(f"{n} ")
    return text if text else Text("no tasks", style="dim")


class StatusLine(Static):
    """Two lines at the top of every main view (three while recovery is in progress)."""

    DEFAULT_CSS = """
    StatusLine { height: 2; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    StatusLine.-recovering { height: 3; }
    """

    _shown = ""

    def on_mount(self) -> None:
        # The app owns the figures; a view pushed later must not wait for the next change.
        paint = getattr(self.app, "paint_status", None)
        if paint is not None:
            paint(self)

    def show(
        self,
        *,
        inventory: str,
        store: str,
        online: int,
        hosts: int,
        counts: Counter[TaskState],
        recovering: bool,
    ) -> None:
        """Redraw the line from these figures."""
        # Two lines so that everything fits at 80 columns: where, then what.
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("drove-tui ", style="bold")
        text.append("inventory ", style="dim")
        text.append(f"{inventory}  ")
        text.append("store ", style="dim")
        text.append(f"{store}\n")
        text.append("hosts ")
        text.append(f"{online}/{hosts}", style="green" if online == hosts else "yellow")
        text.append(" │ ")
        text.append_text(state_counts(counts))
        if recovering:
            text.append("\n")
            text.append(
                " RECOVERING: tasks stay UNKNOWN until their hosts are polled again ",
                style="bold black on yellow",
            )
        # Repaint only when the words change; a fixed height means no new layout either.
        if text.plain != self._shown:
            self._shown = text.plain
            # Only a change of height needs a new layout (which repaints the whole screen).
            resized = self.has_class("-recovering") != recovering
            self.set_class(recovering, "-recovering")
            self.update(text, layout=resized)
