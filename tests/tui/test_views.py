"""What an operator can do in each view, driven by a Pilot against the deterministic fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_engine import FakeEngine, frozen_clock, make_container, make_record
from pilot_helpers import screen_text, until
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea

from drove_tui.models.host import ManagedContainer
from drove_tui.models.states import TaskState
from drove_tui.tui.app import DroveApp
from drove_tui.tui.rows import foreign_line
from drove_tui.tui.screens import (
    END_OF_LOG,
    ConfirmScreen,
    CreateScreen,
    DetailScreen,
    FanoutScreen,
    HelpScreen,
    HostsScreen,
    LogsScreen,
    TasksScreen,
)
from drove_tui.tui.widgets import LogView, RowTable, StatusLine

SIZE = (120, 36)


def make_app(engine: FakeEngine | None = None, **kw: object) -> DroveApp:
    return DroveApp(engine or FakeEngine(), clock=frozen_clock, **kw)  # type: ignore[arg-type]


def table(app: DroveApp) -> RowTable:
    return app.screen.query_one(RowTable)


def text_of(widget: Static) -> str:
    return str(widget.render())


def spec_text(task_id: str) -> str:
    """A valid one-core spec of app `demo`."""
    return (
        f"sourceAppName: demo\ntaskId: {task_id}\nexecutable: {{url: busybox}}\n"
        "resources: [{type: CPU, count: 1}, {type: MEMORY, sizeInMB: 64}]\n"
    )


async def open_create(pilot: Pilot[int]) -> CreateScreen:
    await pilot.press("c")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CreateScreen)
    return screen


async def test_filter_by_state_shows_only_matching_tasks() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"state:RUNNING")
        await pilot.pause()
        assert sorted(table(app).order) == ["billing/invoice-run", "ml/train-small"]
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert len(table(app).order) == 12


async def test_sort_cycles_columns_and_reverse_flips_order() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")  # created -> app
        await pilot.pause()
        order = table(app).order
        assert order[0].startswith("billing/") and order[-1].startswith("search/")
        await pilot.press("S")
        await pilot.pause()
        assert table(app).order == list(reversed(order))


async def test_burst_of_events_is_applied_in_one_flush() -> None:
    engine = FakeEngine()
    app = make_app(engine, flush_interval=3600)  # only explicit flushes
    async with app.run_test(size=SIZE) as pilot:
        for i in range(500):
            engine.emit(make_record("burst", f"t{i}", TaskState.RUNNING, ran=None))
        await pilot.pause()
        assert "burst/t0" not in app.tasks  # nothing applied before the flush
        views_told: list[int] = []
        screen = app.screen
        original = screen.data_changed  # type: ignore[attr-defined]
        screen.data_changed = lambda keys, hosts: (
            views_told.append(len(keys)),
            original(keys, hosts),
        )  # type: ignore[attr-defined]
        app.flush()
        await pilot.pause()
        assert views_told == [500]
        assert len(table(app).order) == 512


async def test_changed_task_updates_its_row_in_place() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        before = list(table(app).order)
        old = engine.records[("search", "warmup")]
        engine.emit(old.model_copy(update={"state": TaskState.PROVISIONING, "host": "host2"}))
        await until(
            pilot, lambda: app.tasks["search/warmup"].record.state is TaskState.PROVISIONING
        )
        assert app.tasks["search/warmup"].record.state is TaskState.PROVISIONING
        assert table(app).order == before  # sorted by creation: nothing moved
        assert "PROVISIONING" in str(table(app).cells("search/warmup"))


async def test_kill_asks_naming_task_and_host_then_kills() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        table(app).move_to("billing/invoice-run")
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        question = text_of(app.screen.query_one("#question", Static))
        assert "billing/invoice-run" in question and "host1" in question
        await pilot.press("y")
        await until(pilot, lambda: bool(engine.killed))
        assert engine.killed == [("billing", "invoice-run")]


async def test_kill_cancelled_does_nothing() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        table(app).move_to("billing/invoice-run")
        await pilot.press("ctrl+k", "n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert engine.killed == []


async def test_rebound_kill_key_from_config_opens_the_confirmation() -> None:
    app = make_app(keymap={"tasks.kill": "x"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)


async def test_describe_shows_allocation_timeline_and_masked_spec() -> None:
    app = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        table(app).move_to("billing/tax-export")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        await pilot.pause()
        shown = screen_text(app)
        assert "NUMA node 0, cores 0, 256 MB" in shown
        assert "<masked>" in shown and "hunter2" not in shown
        assert "FAILED, exit code 3" in shown
        assert "placed on host1" in shown  # the timeline


async def test_logs_search_highlights_and_jumps_between_matches() -> None:
    app = make_app(
        FakeEngine(log_lines=[f"line {i}" + (" ERROR" if i % 7 == 0 else "") for i in range(100)])
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, LogsScreen)
                and len(app.screen.query_one(LogView).lines) >= 100
            ),
        )
        assert isinstance(app.screen, LogsScreen)
        view = app.screen.query_one(LogView)
        assert len(view.lines) >= 100
        await pilot.press("slash", *"error", "enter")
        await pilot.pause()
        assert len(view.matches) == 15
        assert view.matches[view.current_match] == 0
        await pilot.press("n")
        assert view.matches[view.current_match] == 7
        await pilot.press("N", "N")
        assert view.matches[view.current_match] == 98
        assert not view.follow  # jumping to a match pauses following


async def test_logs_follow_pause_wrap_and_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = FakeEngine(log_lines=["x" * 300, "short"])
    engine.follow_logs = True
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        table(app).move_to("billing/invoice-run")
        await pilot.press("l")
        await until(pilot, lambda: len(app.screen.query_one(LogView).lines) >= 2)
        view = app.screen.query_one(LogView)
        await pilot.press("f")
        assert not view.follow
        await pilot.press("w")
        assert view.wrap and view.virtual_size.height > 2
        await pilot.press("G")
        assert view.follow
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = (tmp_path / "billing-invoice-run.log").read_text()
        assert saved.splitlines()[:2] == ["x" * 300, "short"]


async def test_a_finished_log_counts_and_saves_its_output_not_the_end_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(FakeEngine(log_lines=["first", "second"]))
    async with app.run_test(size=SIZE) as pilot:
        table(app).move_to("billing/invoice-run")
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await until(pilot, lambda: screen.end_shown)
        assert screen.log_view.lines[-1][0] == END_OF_LOG
        title = str(screen.query_one("#log-title", Static).render())
        assert "· 2 lines ·" in title
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = (tmp_path / "billing-invoice-run.log").read_text()
        assert saved == "first\nsecond\n"


async def test_log_buffer_stays_bounded() -> None:
    app = make_app(FakeEngine(log_lines=[f"l{i}" for i in range(5000)]))
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(LogsScreen("billing/invoice-run", max_lines=1000))
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await until(pilot, lambda: screen.received >= 5000)
        view = app.screen.query_one(LogView)
        texts = [text for text, _ in view.lines]
        assert len(texts) <= 1000
        assert "l4999" in texts and "l3999" not in texts  # the newest kept, the oldest dropped


async def test_create_with_invalid_spec_lists_field_paths(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("sourceAppName: demo\ntaskId: t1\nexecutable: {url: busybox}\nresources: []\n")
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_create(pilot)
        form.query_one("#path", Input).value = str(spec)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "resources" in screen_text(app)
        assert engine.submitted == []


async def test_create_from_pasted_yaml_lands_on_the_new_tasks_detail() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_create(pilot)
        form.query_one("#text", TextArea).text = spec_text("pasted")
        form.query_one("#timeout", Input).value = "2 minutes"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.key == "demo/pasted"
        spec, op_spec, _ = engine.submitted[0]
        assert spec.task_id == "pasted"
        assert op_spec is not None and op_spec.timeout.seconds == 120


async def test_bad_timeout_is_shown_inline_not_submitted() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_create(pilot)
        form.query_one("#text", TextArea).text = spec_text("t")
        form.query_one("#timeout", Input).value = "soon"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "timeout: 'soon' is not a duration" in screen_text(app)
        assert engine.submitted == []


async def test_fan_out_submits_one_pinned_task_per_marked_host(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(spec_text("job"))
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.screen, HostsScreen)
        await pilot.press("space", "space")  # marks host1 and host2
        await pilot.press("f")
        await pilot.pause()
        app.screen.query_one("#path", Input).value = str(spec)
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: isinstance(app.screen, FanoutScreen) and len(engine.submitted) == 2
        )
        assert isinstance(app.screen, FanoutScreen)
        pinned = sorted((s.task_id, host) for s, _, host in engine.submitted)
        assert pinned == [("job-host1", "host1"), ("job-host2", "host2")]
        assert table(app).order == ["demo/job-host1", "demo/job-host2"]


async def test_trust_confirmation_shows_the_fingerprint() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        table(app).move_to("host3")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert "SHA256:47DEQ" in text_of(app.screen.query_one("#question", Static))
        await pilot.press("y")
        await until(pilot, lambda: bool(engine.trusted))
        assert engine.trusted == [("host3", "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")]


async def test_probe_key_probes_the_host_under_the_cursor() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "down", "p")
        await until(pilot, lambda: bool(engine.probed))
        assert engine.probed == ["host2"]


async def test_help_lists_every_binding_of_the_current_view() -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        for binding_id in ("logs.search", "logs.next", "logs.wrap", "logs.save", "app.quit"):
            assert binding_id in shown


async def test_status_line_shows_recovery_banner_while_recovering() -> None:
    engine = FakeEngine(recovering=True)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "RECOVERING" in text_of(app.screen.query_one(StatusLine))
        engine.is_recovering = False
        engine.emit(make_record("x", "y", TaskState.PENDING, host=None))
        await until(pilot, lambda: "RECOVERING" not in text_of(app.screen.query_one(StatusLine)))
        assert "RECOVERING" not in text_of(app.screen.query_one(StatusLine))


async def test_command_palette_offers_the_views_actions() -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Filter", "Describe", "Logs", "Kill", "Create", "Help"} <= titles


def foreign_on_host2() -> list[ManagedContainer]:
    """Three running containers of another store on host2, and one that has exited."""
    other = "other-store"
    return [
        make_container("etl", "nightly", [2, 3], 0, memory_mb=1024, owner=other),
        make_container("etl", "hourly", [6], 1, owner=other),
        make_container("web", "smoke", [7], 1, owner=other),
        make_container("etl", "done", [], 0, running=False, owner=other),
    ]


async def test_hosts_view_counts_another_stores_running_containers_as_foreign() -> None:
    engine = FakeEngine()
    engine.foreign_boxes = {"host2": foreign_on_host2()}
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, HostsScreen))
        rows = {line.split()[0]: line for line in screen_text(app).splitlines() if line.split()}
        assert "+3" in rows["host2"]  # what the operator sees: the exited one holds no task
        assert "+" not in rows["host1"]
        assert app.host_rows["host2"].tasks_text().endswith("+3")
        assert "+" not in app.host_rows["host1"].tasks_text()


async def test_host_detail_lists_each_foreign_container() -> None:
    engine = FakeEngine()
    engine.foreign_boxes = {"host2": foreign_on_host2()}
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: isinstance(app.screen, HostsScreen))
        told: list[str] = []
        app.notify = lambda message, **_: told.append(message)  # type: ignore[assignment,method-assign]
        table(app).move_to("host2")
        await pilot.press("enter")
        await until(pilot, lambda: bool(told))
        shown = told[0].splitlines()
        assert "4 placed by another drove-tui store (3 running)" in shown[3]
        assert shown[4:] == [  # running first, by name; then the exited one
            "  drove-etl-hourly (etl/hourly): cores 6 on NUMA 1, 256M, running",
            "  drove-etl-nightly (etl/nightly): cores 2,3 on NUMA 0, 1024M, running",
            "  drove-web-smoke (web/smoke): cores 7 on NUMA 1, 256M, running",
            "  drove-etl-done (etl/done): cores - on NUMA 0, 256M, exited 0",
        ]


def test_foreign_container_without_task_labels_shows_its_name_only() -> None:
    box = make_container("", "", [0], 0, owner="other").model_copy(update={"name": "stray"})
    assert foreign_line(box) == "  stray: cores 0 on NUMA 0, 256M, running"


def type_at_once(app: DroveApp, text: str) -> None:
    """Queue every key of `text` before the app handles any, as one read of the terminal (a
    fast typist, a paste) delivers them: no pause in which a focus change could settle."""
    names = {"/": "slash", ":": "colon", " ": "space", "-": "minus"}
    for char in text:
        app.post_message(events.Key(names.get(char, char), char))


@pytest.mark.parametrize(
    ("view", "typed"),
    [
        # 's' would sort the tasks, 't' ask to trust a host key, if they missed the box.
        pytest.param("1", "state:run", id="tasks"),
        pytest.param("2", "tag:zone", id="hosts"),
    ],
)
async def test_keys_typed_right_after_slash_land_in_the_filter(view: str, typed: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(view)
        await pilot.pause()
        screen = app.screen
        type_at_once(app, "/" + typed)
        await pilot.pause()
        assert app.screen is screen  # no binding of the view ran (trust opens a dialog)
        assert screen.query_one("#filter", Input).value == typed
        if isinstance(screen, TasksScreen):
            assert screen.sort_by == "created"


async def test_a_slash_typed_in_the_open_filter_is_text() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        type_at_once(app, "/billing/invoice")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "billing/invoice"


async def test_keys_typed_right_after_slash_land_in_the_log_search() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        screen = app.screen
        view = screen.query_one(LogView)
        follow, wrap = view.follow, view.wrap
        # 'f' would pause following and 'w' wrap lines if they missed the box.
        type_at_once(app, "/from w/f")
        await pilot.pause()
        assert screen.query_one("#search", Input).value == "from w/f"
        assert (view.follow, view.wrap) == (follow, wrap)


async def test_a_slash_in_the_create_dialog_is_text_not_the_filter_behind_it() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_create(pilot)
        await pilot.press(*"/tmp/x")
        assert form.query_one("#path", Input).value == "/tmp/x"
        assert app.screen is form
