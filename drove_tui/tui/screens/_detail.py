"""One task in full: spec (secrets masked), allocation, timeline, result, actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import yaml
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from drove_tui.models.task import TaskRecord, Transition
from drove_tui.tui.keymap import DETAIL_KEYS, bindings
from drove_tui.tui.rows import MEANING_STYLE, date_time, duration, meaning
from drove_tui.tui.widgets import StatusLine

if TYPE_CHECKING:
    from drove_tui.tui.app import DroveApp


def summary(record: TaskRecord, now: float) -> Table:
    """The task's headline facts and its allocation."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    state = Text(record.state.value, style=MEANING_STYLE[meaning(record)])
    if record.reason:
        state.append(f"  {record.reason}", style="dim")
    table.add_row("task", f"{record.app}/{record.task_id}")
    table.add_row("instance", record.instance_id)
    table.add_row("state", state)
    table.add_row("host", record.host or "- (not placed)")
    cores = ",".join(str(c) for c in record.cores) or "-"
    numa = "-" if record.numa_node is None else str(record.numa_node)
    table.add_row("allocation", f"NUMA node {numa}, cores {cores}, {record.memory_mb} MB")
    table.add_row("container", record.container_id or "-")
    table.add_row("created", date_time(record.created_at))
    table.add_row("started", date_time(record.started_at))
    end = record.finished_at or now
    ran = duration(end - record.started_at) if record.started_at else "-"
    table.add_row("finished", f"{date_time(record.finished_at)}  (ran {ran})")
    if record.result is not None:
        style = "green" if record.result.exit_code == 0 else "red"
        table.add_row(
            "result",
            Text(f"{record.result.status.value}, exit code {record.result.exit_code}", style),
        )
    if record.error:
        table.add_row("error", Text(record.error, style="red"))
    table.add_row("op timeout", f"{record.op_timeout_s:g} s")
    return table


def timeline(history: list[Transition]) -> Table:
    """Each transition with its time and reason."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("from")
    table.add_column("to", style="bold")
    table.add_column("reason")
    for t in history:
        table.add_row(
            date_time(t.at).removesuffix(" UTC"),
            t.from_state.value if t.from_state else "-",
            t.to_state.value,
            t.reason,
        )
    return table


def spec_text(record: TaskRecord) -> str:
    """The spec as YAML in Drove's field names (already masked by the store)."""
    # Empty lists and maps are Drove's defaults; leaving them out keeps the spec readable.
    data = {k: v for k, v in record.spec.masked().to_drove_json().items() if v not in ([], {})}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip()


class DetailScreen(Screen[None]):
    """Describes one task and follows its changes."""

    BINDINGS = bindings(*DETAIL_KEYS)

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    @property
    def drove(self) -> DroveApp:
        return cast("DroveApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with VerticalScroll(id="detail"):
            yield Static(id="body")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.drove.views.append(self)
        self.render_task()
        self.query_one("#detail").focus()

    def on_unmount(self) -> None:
        if self in self.drove.views:
            self.drove.views.remove(self)

    def on_screen_resume(self) -> None:
        self.render_task()
        self.drove.refresh_status()

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None:
        if self.key in task_keys and self.is_current:
            self.render_task()

    def render_task(self) -> None:
        """Draw the task from the app's latest record and the engine's history."""
        row = self.drove.tasks.get(self.key)
        body = self.query_one("#body", Static)
        if row is None:
            body.update(f"No task {self.key} in the store.")
            return
        record = row.record
        parts: list[RenderableType] = [
            summary(record, self.drove.clock()),
            Text("\nTimeline", style="bold underline"),
            timeline(self.drove.backend.history(record.app, record.task_id)),
            Text("\nSpec (secrets masked)", style="bold underline"),
            Text(spec_text(record)),
            Text("\nActions are in the footer; ? lists every key.", style="dim"),
        ]
        body.update(Group(*parts))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_logs(self) -> None:
        from drove_tui.tui.screens._logs import LogsScreen

        self.app.push_screen(LogsScreen(self.key))

    def action_kill(self) -> None:
        self.drove.confirm_kill(self.key)
