"""The hosts view: health, capacity per NUMA node, live tasks; probe, trust, fan-out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drove_tui.errors import DroveError
from drove_tui.tui.keymap import HOSTS_KEYS, bindings
from drove_tui.tui.rows import Cell, HostRow
from drove_tui.tui.screens._list import ListScreen
from drove_tui.tui.widgets import Column, RowTable

# At 80 columns the optional ones give way; at 160 every column shows in full.
COLUMNS = (
    Column("mark", " ", 1),
    Column("host", "HOST", 8),
    Column("state", "STATE", 11),
    Column("tags", "TAGS", 12, optional=True),
    Column("cores", "CORES per NUMA node", 23),
    Column("memory", "MEMORY", 11),
    Column("tasks", "TASKS", 5, right=True),
    Column("docker", "DOCKER", 8, optional=True),
    Column("probe", "PROBED", 6, optional=True),
    Column("reason", "REASON", 10, fill=True),
)


class HostsScreen(ListScreen):
    """Every host of the inventory; space marks hosts for a fan-out."""

    BINDINGS = bindings(*HOSTS_KEYS)
    COLUMNS = COLUMNS
    TABLE_ID = "hosts"
    FILTER_HINT = "filter: host name, state, tag"

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[str] = set()

    def _cells(self, name: str) -> Sequence[Cell]:
        row = self.drove.host_rows.get(name)
        return row.cells(self.drove.clock(), name in self.marked) if row else ()

    def rows(self) -> Mapping[str, HostRow]:
        return self.drove.host_rows

    def order_rows(self) -> None:
        """Hosts keep inventory order."""
        self.table.set_order([n for n in self.drove.host_rows if n in self.filter.keys])

    def filter_changed(self, text: str) -> None:
        self.rebuild()  # a handful of hosts: filter them all again

    def data_changed(self, task_keys: set[str], host_names: set[str]) -> None:
        """Host rows show live task counts, so any change repaints the visible rows."""
        if not self.is_current:
            self.stale = True
            return
        if host_names:
            self.rebuild()
        else:
            self.table.refresh()

    # ---- actions ----------------------------------------------------------------------
    def action_mark(self) -> None:
        name = self.table.cursor_key
        if name is None:
            return
        self.marked.symmetric_difference_update({name})
        self.table.refresh_row(name)
        self.table.cursor += 1

    def action_probe(self) -> None:
        name = self.table.cursor_key
        if name:
            self.drove.run_backend(lambda: self.drove.backend.probe(name), done=f"Probed {name}.")

    def action_probe_all(self) -> None:
        self.drove.run_backend(lambda: self.drove.backend.probe(""), done="Probed all hosts.")

    def action_trust(self) -> None:
        name = self.table.cursor_key
        if name:
            self._trust(name)

    def _trust(self, name: str) -> None:
        from drove_tui.tui.screens._confirm import ConfirmScreen

        drove = self.drove

        async def ask() -> None:
            try:
                fp = await drove.backend.host_key(name)
            except DroveError as err:
                drove.notify(str(err), severity="error", timeout=8)
                return

            def answered(yes: bool | None) -> None:
                if yes:
                    drove.run_backend(
                        lambda: drove.backend.trust(name, fp),
                        done=f"Trusted the key of {name}.",
                    )

            drove.push_screen(
                ConfirmScreen(
                    f"Trust the host key of {name}?\n\n{fp}\n\n"
                    "Compare it with the key on the host (ssh-keygen -lf) before you accept.",
                    "Trust",
                ),
                answered,
            )

        self.run_worker(ask(), group="trust", exit_on_error=False)

    def on_row_table_selected(self, event: RowTable.Selected) -> None:
        """Enter on a host: its full status, including a reason too long for the column and
        each of another store's containers (the hosts view only counts them: '+N')."""
        row = self.drove.host_rows.get(event.key)
        if row is None:
            return
        self.notify("\n".join(row.detail()), timeout=10, markup=False)

    def selected_hosts(self) -> list[str]:
        """Marked hosts, else the host under the cursor."""
        if self.marked:
            return [n for n in self.drove.host_rows if n in self.marked]
        name = self.table.cursor_key
        return [name] if name else []

    def action_fanout(self) -> None:
        from drove_tui.tui.screens._fanout import FanoutSetupScreen

        self.app.push_screen(FanoutSetupScreen(self.selected_hosts()))
