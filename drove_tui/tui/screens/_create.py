"""Create a task: a spec file (path with completion) or pasted YAML/JSON, a timeout, submit.

Validation problems are shown inline, one per line, each with its field path, exactly as the
loaders word them; the task is created only when the spec is valid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Static, TextArea

from drove_tui.errors import DroveError, InvalidInput
from drove_tui.loaders.spec_file import LoadedSpec, load_spec, load_spec_text
from drove_tui.models.durations import Duration
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.tui.keymap import CREATE_KEYS, bindings
from drove_tui.tui.rows import task_key

if TYPE_CHECKING:
    from drove_tui.tui.app import DroveApp


def complete_path(value: str) -> str | None:
    """The first file or folder whose name starts with the last part of `value`.

    Folders get a trailing '/', so pressing tab again descends into them. Hidden names are
    offered only once a '.' has been typed.
    """
    folder, slash, prefix = value.rpartition("/")
    base = Path(os.path.expanduser(folder)) if slash else Path(".")
    if slash and not folder:
        base = Path("/")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return None
    for name in names:
        if name.startswith(prefix) and (prefix or not name.startswith(".")):
            suffix = "/" if (base / name).is_dir() else ""
            return f"{folder}{slash}{name}{suffix}"
    return None


class PathSuggester(Suggester):
    """Suggests paths from the files on disk as the user types."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        """See complete_path."""
        return complete_path(value)


def load_input(path: str, text: str) -> LoadedSpec:
    """The spec from the path if one is given, else from the pasted text."""
    if path.strip():
        return load_spec(path.strip())
    if text.strip():
        return load_spec_text(text, "pasted spec")
    raise InvalidInput("Give a spec file path or paste a spec (YAML or JSON).")


def op_spec_for(loaded: LoadedSpec, timeout: str) -> ClusterOpSpec | None:
    """The operation spec: the file's own, with the timeout field applied if filled in."""
    if not timeout.strip():
        return loaded.op_spec
    try:
        duration = Duration(timeout)
    except ValueError as err:
        raise InvalidInput(f"timeout: {err}.") from err
    base = loaded.op_spec or ClusterOpSpec()
    return base.model_copy(update={"timeout": duration})


class FormScreen(ModalScreen[None]):
    """A dialog around a spec path field: it starts focused, enter or the first button
    submits, esc or the other button cancels, problems are listed in `#errors`."""

    @property
    def drove(self) -> DroveApp:
        return cast("DroveApp", self.app)

    @staticmethod
    def timeout_and_buttons(submit: str) -> ComposeResult:
        """The form's last rows: the operation timeout, then submit and cancel buttons."""
        yield Label("Operation timeout (empty: the file's, else 5 minutes)")
        yield Input(placeholder="5 minutes", id="timeout")
        with Horizontal(id="buttons"):
            yield Button(f"{submit} (ctrl+s)", variant="primary", id="submit")
            yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def show_errors(self, err: DroveError) -> None:
        """Show the problem and each detail (field path first) under the form."""
        self.query_one("#errors", Static).update(error_markup(err))

    def action_submit(self) -> None:
        raise NotImplementedError


class CreateScreen(FormScreen):
    """The create dialog; on success it opens the new task's detail."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*CREATE_KEYS)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="create"):
            yield Label("[b]Create a task[/b]")
            yield Static(id="errors")
            yield Label("Spec file (tab completes)")
            yield Input(placeholder="examples/hello.yaml", suggester=PathSuggester(), id="path")
            yield Label("…or paste the spec (YAML or JSON)")
            yield TextArea(id="text", language=None, soft_wrap=False)
            yield from self.timeout_and_buttons("Submit")

    def action_submit(self) -> None:
        path = self.query_one("#path", Input).value
        text = self.query_one("#text", TextArea).text
        timeout = self.query_one("#timeout", Input).value
        try:
            loaded = load_input(path, text)
            op_spec = op_spec_for(loaded, timeout)
        except DroveError as err:
            self.show_errors(err)
            return
        self.query_one("#errors", Static).update("[dim]submitting…[/]")
        self.run_worker(self._submit(loaded, op_spec), group="create", exit_on_error=False)

    async def _submit(self, loaded: LoadedSpec, op_spec: ClusterOpSpec | None) -> None:
        from drove_tui.tui.screens._detail import DetailScreen

        drove = self.drove
        try:
            record = await drove.backend.submit(loaded.spec, op_spec=op_spec)
        except DroveError as err:
            self.show_errors(err)
            return
        key = task_key(record.app, record.task_id)
        # The engine's event may not have arrived yet; the detail needs the row now.
        drove.note_task(record)
        self.dismiss(None)
        drove.push_screen(DetailScreen(key))


def error_markup(err: DroveError) -> str:
    """A form's error text: the problem, then each detail (field path first)."""
    lines = [f"[b red]{err.args[0] if err.args else err}[/]"]
    lines += [f"[red]  • {d}[/]" for d in getattr(err, "details", [])]
    return "\n".join(lines)
