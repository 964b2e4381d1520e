"""A task's output, live: search, pause/follow, wrap, save, top/end.

A worker reads the engine's log stream into a plain list; a 100 ms timer hands whatever
arrived to the view in one batch, so a flood of lines costs a few repaints a second.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from drove_tui.errors import DroveError
from drove_tui.models.states import TaskState
from drove_tui.tui.keymap import LOGS_KEYS, bindings
from drove_tui.tui.screens._list import open_box
from drove_tui.tui.widgets import LogView, StatusLine

if TYPE_CHECKING:
    from drove_tui.tui.app import DroveApp

NOT_STARTED = frozenset(
    {TaskState.PENDING, TaskState.PROVISIONING, TaskState.STARTING, TaskState.UNKNOWN}
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """One printable line: tabs expanded, other control characters (colours, \\r) removed."""
    return _CONTROL.sub("", text.rstrip("\n").expandtabs(8))


END_OF_LOG = "── end of log ──"


class LogsScreen(Screen[None]):
    """Follows one task's log."""

    BINDINGS = bindings(*LOGS_KEYS)

    def __init__(self, key: str, *, tail: int | None = 10_000, max_lines: int = 50_000) -> None:
        super().__init__()
        self.key = key
        self.tail = tail
        self.max_lines = max_lines
        self.pending: list[tuple[str, bool]] = []
        self.ended = False
        self.received = 0
        self.end_shown = False  # the view's last line is the end-of-log marker, not output
        self.changed = asyncio.Event()

    @property
    def drove(self) -> DroveApp:
        return cast("DroveApp", self.app)

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        yield Static(id="log-title")
        yield LogView(max_lines=self.max_lines)
        yield Input(placeholder="search the log (enter: go, n/N: next/previous)", id="search")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.drove.views.append(self)
        self.query_one("#search", Input).display = False
        self.log_view.focus()
        self._update_title()
        self._read()
        self.set_interval(0.1, self.flush)

    def on_unmount(self) -> None:
        if self in self.drove.views:
            self.drove.views.remove(self)

    def on_screen_resume(self) -> None:
        self.drove.refresh_status()

    def _read(self) -> None:
        app_name, _, task_id = self.key.partition("/")
        backend = self.drove.backend

        async def reader() -> None:
            try:
                while True:
                    got = 0
                    async for line in backend.logs(app_name, task_id, follow=True, tail=self.tail):
                        got += 1
                        self.pending.append((clean(line.text), line.stream == "stderr"))
                    # A task that has not started yet has no output; wait for it to start
                    # instead of showing an empty, finished log.
                    if got or not self._not_started():
                        break
                    self.changed.clear()
                    await self.changed.wait()
            except DroveError as err:
                self.pending.append((f"[drove-tui] {err}", True))
            self.ended = True

        self.run_worker(reader(), group="logs", exit_on_error=False)

    def _not_started(self) -> bool:
        row = self.drove.tasks.get(self.key)
        return row is not None and row.record.state in NOT_STARTED

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None:
        """Wake the reader when this task moves (it may have started)."""
        if self.key in task_keys:
            self.changed.set()
            self._update_title()

    def flush(self) -> None:
        """Hand the lines that arrived since the last tick to the view in one batch."""
        if self.pending:
            batch, self.pending = self.pending, []
            self.received += len(batch)
            self.log_view.append(batch)
            self._update_title()
        elif self.ended:
            self.ended = False
            self.log_view.append([(END_OF_LOG, False)])
            self.end_shown = True
            self._update_title()

    def _output_lines(self) -> int:
        """Lines of output in the view (the end-of-log marker is not one)."""
        return len(self.log_view.lines) - (1 if self.end_shown else 0)

    def _update_title(self) -> None:
        view = self.log_view
        row = self.drove.tasks.get(self.key)
        state = row.record.state.value if row else "?"
        host = row.record.host if row and row.record.host else "-"
        flags = ["FOLLOW" if view.follow else "PAUSED"]
        if view.wrap:
            flags.append("WRAP")
        if view.pattern is not None:
            at = view.current_match + 1 if view.current_match >= 0 else 0
            flags.append(f"match {at}/{len(view.matches)}")
        title = Text(self.key, style="bold")
        title.append(f" on {host} ({state}) · {self._output_lines()} lines · " + " · ".join(flags))
        # One line high always (app.tcss): no layout pass, which would repaint the whole
        # screen ten times a second during a flood.
        self.query_one("#log-title", Static).update(title, layout=False)

    # ---- actions ----------------------------------------------------------------------
    def action_search(self) -> None:
        open_box(self, self.query_one("#search", Input))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.log_view.search(event.value)
        self._update_title()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.log_view.search(event.value)
        self.log_view.jump_match(1)
        if not event.value:
            event.input.display = False
        self.log_view.focus()
        self._update_title()

    def action_next_match(self) -> None:
        self.log_view.jump_match(1)
        self._update_title()

    def action_previous_match(self) -> None:
        self.log_view.jump_match(-1)
        self._update_title()

    def action_toggle_follow(self) -> None:
        self.log_view.set_follow(not self.log_view.follow)
        self._update_title()

    def action_toggle_wrap(self) -> None:
        self.log_view.set_wrap(not self.log_view.wrap)
        self._update_title()

    def action_top(self) -> None:
        self.log_view.set_follow(False)
        self.log_view.scroll_home(animate=False)
        self._update_title()

    def action_end(self) -> None:
        self.log_view.set_follow(True)
        self._update_title()

    def action_save(self) -> None:
        path = Path.cwd() / f"{self.key.replace('/', '-')}.log"
        text = self.log_view.text()
        if self.end_shown:
            text = text.removesuffix(END_OF_LOG + "\n")
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as err:
            self.notify(f"Cannot save the log to {path}: {err.strerror}.", severity="error")
            return
        self.notify(f"Saved {self._output_lines()} lines to {path}.")

    def action_kill(self) -> None:
        self.drove.confirm_kill(self.key)

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus:
            search.display = False
            self.log_view.focus()
            return
        self.app.pop_screen()
