"""Fan-out: one task per selected host from one spec, watched together in a grouped view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from drove_tui.commands.fanout import fan_out_task_ids
from drove_tui.errors import DroveError, InvalidInput
from drove_tui.loaders.spec_file import load_spec
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.tui.keymap import FANOUT_KEYS, FANOUT_SETUP_KEYS, bindings
from drove_tui.tui.rows import MEANING_STYLE, Cell, meaning, task_key
from drove_tui.tui.screens._create import FormScreen, PathSuggester, op_spec_for
from drove_tui.tui.widgets import Column, RowTable, StatusLine
from drove_tui.tui.widgets._status import state_counts

if TYPE_CHECKING:
    from drove_tui.tui.app import DroveApp

COLUMNS = (
    Column("host", "HOST", 10),
    Column("task", "TASK", 22),
    Column("state", "STATE", 19),
    Column("exit", "EXIT", 4, right=True),
    Column("reason", "REASON", 16, fill=True),
)


class FanoutSetupScreen(FormScreen):
    """Which hosts (marked ones, or a pattern) and which spec."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*FANOUT_SETUP_KEYS)

    def __init__(self, hosts: Sequence[str]) -> None:
        super().__init__()
        self.hosts = list(hosts)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="create"):
            yield Label("[b]Fan-out: one task per host[/b]")
            yield Static(id="errors")
            yield Label("Hosts (pattern: names, globs, group, tag:x; comma-separated)")
            yield Input(",".join(self.hosts), id="hosts")
            yield Label("Spec file (tab completes); each task id gets -HOST appended")
            yield Input(placeholder="examples/hello.yaml", suggester=PathSuggester(), id="path")
            yield from self.timeout_and_buttons("Start")

    def action_submit(self) -> None:
        try:
            hosts = self.drove.backend.select_hosts(self.query_one("#hosts", Input).value)
            if not hosts:
                raise InvalidInput("hosts: the pattern matches no host of the inventory.")
            path = self.query_one("#path", Input).value.strip()
            if not path or path == "-":
                raise InvalidInput("Give the path of a spec file.")
            loaded = load_spec(path)
            op_spec = op_spec_for(loaded, self.query_one("#timeout", Input).value)
        except DroveError as err:
            self.show_errors(err)
            return
        ids = fan_out_task_ids(loaded.spec.task_id, hosts)
        keys = [task_key(loaded.spec.source_app_name, ids[h]) for h in hosts]
        self.dismiss(None)
        screen = FanoutScreen(keys)
        self.drove.push_screen(screen)
        for host in hosts:
            spec = loaded.spec.model_copy(update={"task_id": ids[host]})
            screen.start(spec, op_spec, host)


class FanoutScreen(Screen[None]):
    """The tasks of one fan-out, one row per host, with counts by state."""

    BINDINGS = bindings(*FANOUT_KEYS)

    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__()
        self.keys = list(keys)
        self.failed: dict[str, str] = {}  # key -> why the create failed
        self.host_of: dict[str, str] = {}

    @property
    def drove(self) -> DroveApp:
        return cast("DroveApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        yield Static(id="fanout-summary")
        yield RowTable(COLUMNS, self._cells, id="fanout")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.drove.views.append(self)
        table = self.query_one(RowTable)
        table.set_order(self.keys)
        table.focus()
        self._summarise()

    def on_unmount(self) -> None:
        if self in self.drove.views:
            self.drove.views.remove(self)

    def on_screen_resume(self) -> None:
        self.query_one(RowTable).refresh()
        self._summarise()

    def start(self, spec: TaskSpec, op_spec: ClusterOpSpec | None, host: str) -> None:
        """Submit one host's task in a worker; a refusal shows on that host's row."""
        key = task_key(spec.source_app_name, spec.task_id)
        self.host_of[key] = host

        async def submit() -> None:
            try:
                record = await self.drove.backend.submit(spec, op_spec=op_spec, pin_host=host)
            except DroveError as err:
                self.failed[key] = str(err)
                self.query_one(RowTable).refresh_row(key)
                self._summarise()
                return
            self.drove.note_task(record)

        self.run_worker(submit(), group="fanout", exit_on_error=False)

    def _cells(self, key: str) -> Sequence[Cell]:
        row = self.drove.tasks.get(key)
        host = self.host_of.get(key, "-")
        if row is None:
            why = self.failed.get(key)
            state = ("ERROR", "red") if why else ("SUBMITTING", "dim")
            return ((host, "bold"), (key, ""), state, ("", ""), (why or "", "red"))
        r = row.record
        exit_code = "" if r.result is None else str(r.result.exit_code)
        return (
            (r.host or r.pin_host or "-", "bold"),
            (r.task_id, ""),
            (r.state.value, MEANING_STYLE[meaning(r)]),
            (exit_code, "red" if exit_code not in ("", "0") else ""),
            (r.error or r.reason, "dim"),
        )

    def _summarise(self) -> None:
        counts = Counter(
            self.drove.tasks[k].record.state for k in self.keys if k in self.drove.tasks
        )
        text = Text(f" fan-out of {len(self.keys)} hosts: ", style="bold")
        text.append_text(state_counts(counts))
        if self.failed:
            text.append(f" ERROR {len(self.failed)}", style="red")
        self.query_one("#fanout-summary", Static).update(text)

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None:
        mine = task_keys.intersection(self.keys)
        if mine and self.is_current:
            table = self.query_one(RowTable)
            for key in mine:
                table.refresh_row(key)
            self._summarise()

    def action_kill(self) -> None:
        self.drove.confirm_kill(self.query_one(RowTable).cursor_key)

    def action_logs(self) -> None:
        from drove_tui.tui.screens._logs import LogsScreen

        key = self.query_one(RowTable).cursor_key
        if key:
            self.app.push_screen(LogsScreen(key))

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        from drove_tui.tui.screens._detail import DetailScreen

        self.app.push_screen(DetailScreen(event.key))
