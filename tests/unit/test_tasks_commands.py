"""`drove-tui tasks ...` through the real CLI entry point, against a real store file."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from drove_tui.cli import main
from drove_tui.commands import task_actions as tasks_command
from drove_tui.engine.events import LogLine
from drove_tui.engine.logs import LogStore
from drove_tui.engine.store import SqliteStore
from drove_tui.models.states import TaskResult, TaskState
from drove_tui.models.task import TaskRecord
from tests.task_records import task_record

S = TaskState
DAY = 86400.0


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with a running, a failed, a pending (other app) and a long-finished task."""
    monkeypatch.delenv("DROVE_TUI_STATE", raising=False)
    path = tmp_path / "state.db"
    store = SqliteStore.open(path)
    now = time.time()
    store.create_task(
        task_record("run1", S.RUNNING, host="h1", numa_node=0, cores=[1], started_at=now - 30)
    )
    store.create_task(
        task_record(
            "fail1",
            S.STOPPED,
            host="h2",
            numa_node=0,
            cores=[0],
            result=TaskResult.from_exit_code(3),
            error="Task instance exited with status: 3",
            started_at=now - 50,
            finished_at=now - 40,
        )
    )
    store.create_task(
        task_record("wait1", S.PENDING, app="other", reason="no host has 1 free core")
    )
    store.create_task(
        task_record(
            "old1",
            S.STOPPED,
            result=TaskResult.from_exit_code(0),
            created_at=now - 10 * DAY,
            finished_at=now - 9 * DAY,
        )
    )
    store.close()
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_a_table_of_every_task_oldest_first(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "tasks", "list", "--state", str(state))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "APP", "TASK", "STATE", "HOST", "CORES", "MEMORY", "CREATED", "DURATION", "RESULT",
    ]  # fmt: skip
    assert [line.split()[1] for line in lines[1:]] == ["old1", "run1", "fail1", "wait1"]
    fail_line = next(line for line in lines if "fail1" in line)
    assert "FAILED/3" in fail_line and "h2" in fail_line and "10.0s" in fail_line


def test_list_state_name_filters_and_a_path_is_the_state_file(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "tasks", "list", "--state", "running", "--state", str(state))
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["run1"]
    # The state file may also come before the subcommand, as for every other command.
    code, out, _ = _run(capsys, "--state", str(state), "tasks", "list", "--state", "STOPPED")
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["old1", "fail1"]


def test_list_filters_by_app_and_prints_taskinfo_json(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "tasks", "list", "--state", str(state), "--app", "other", "--json")
    assert code == 0
    infos = json.loads(out)
    assert [(i["sourceAppName"], i["taskId"], i["state"]) for i in infos] == [
        ("other", "wait1", "PENDING")
    ]


def test_list_refuses_two_state_files(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "tasks", "list", "--state", str(state), "--state", "/x/y.db")
    assert code == 2
    assert "two state files" in err


def test_list_of_missing_store_is_empty_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "none" / "state.db"
    code, out, _ = _run(capsys, "tasks", "list", "--state", str(path), "--json")
    assert (code, json.loads(out)) == (0, [])
    assert not path.parent.exists()


def test_state_file_from_environment_is_used(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DROVE_TUI_STATE", str(state))
    code, out, _ = _run(capsys, "tasks", "show", "app", "run1", "--json")
    assert code == 0
    assert json.loads(out)["state"] == "RUNNING"


def test_show_json_is_droves_taskinfo(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "tasks", "show", "app", "fail1", "--json", "--state", str(state))
    assert code == 0
    info = json.loads(out)
    assert info["taskResult"] == {"status": "FAILED", "exitCode": 3}
    assert info["errorMessage"] == "Task instance exited with status: 3"
    assert info["resources"][0] == {"type": "CPU", "cores": {"0": [0]}}


def test_show_human_names_state_reason_and_result(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "tasks", "show", "other", "wait1", "--state", str(state))
    assert code == 0
    assert "PENDING (no host has 1 free core)" in out
    assert "busybox:latest" in out


def test_show_of_unknown_task_exits_9_with_droves_message(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "tasks", "show", "app", "nope", "--state", str(state))
    assert code == 9
    assert out == ""
    assert "No task found with app app and task id nope" in err


def test_history_lists_transitions_oldest_first(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore.open(state)
    assert store.transition("app", "run1", S.RUNNING, S.RUN_COMPLETED, "exited with 0")
    store.close()
    code, out, _ = _run(capsys, "tasks", "history", "app", "run1", "--state", str(state), "--json")
    assert code == 0
    moves = json.loads(out)
    assert [(m["from"], m["to"]) for m in moves] == [
        (None, "RUNNING"),
        ("RUNNING", "RUN_COMPLETED"),
    ]
    assert moves[1]["reason"] == "exited with 0"
    code, out, _ = _run(capsys, "tasks", "history", "app", "run1", "--state", str(state))
    assert out.splitlines()[0].split() == ["TIME", "FROM", "TO", "REASON"]
    assert "exited with 0" in out.splitlines()[2]


def test_history_of_unknown_task_exits_9(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "tasks", "history", "app", "nope", "--state", str(state))[0] == 9


def _keep_output(state: Path, task: str) -> Path:
    logs = LogStore(Path(f"{state}.logs"))
    logs.write([LogLine("app", task, "stdout", "output", time.time())])
    assert logs.path("app", task).exists()
    return logs.path("app", task)


def test_delete_forgets_finished_task_and_refuses_a_live_one(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = _keep_output(state, "fail1")
    code, out, _ = _run(capsys, "tasks", "delete", "app", "fail1", "--state", str(state))
    assert (code, out) == (0, "deleted app fail1\n")
    assert not kept.exists()
    code, _, err = _run(capsys, "tasks", "delete", "app", "run1", "--state", str(state))
    assert code == 2
    assert "is RUNNING; only a finished task" in err
    assert _run(capsys, "tasks", "delete", "app", "fail1", "--state", str(state))[0] == 9
    store = SqliteStore.open(state)
    assert store.get_task("app", "run1") is not None
    store.close()


def test_prune_forgets_only_tasks_finished_before_the_duration(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_output = _keep_output(state, "old1")
    recent_output = _keep_output(state, "fail1")
    code, out, _ = _run(capsys, "tasks", "prune", "--older-than", "7d", "--state", str(state))
    assert (code, out) == (0, "pruned 1 finished task\n")
    assert not old_output.exists()
    assert recent_output.exists()
    code, out, _ = _run(capsys, "tasks", "list", "--state", str(state), "--json")
    assert sorted(i["taskId"] for i in json.loads(out)) == ["fail1", "run1", "wait1"]


def test_prune_refuses_a_bad_duration(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "tasks", "prune", "--older-than", "soon", "--state", str(state))
    assert code == 2
    assert "--older-than" in err


@pytest.mark.parametrize(
    "argv", [("list",), ("show", "app", "run1"), ("prune", "--older-than", "1d")]
)
def test_corrupt_store_exits_8_and_is_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, out, err = _run(capsys, "tasks", *argv, "--state", str(path))
    assert code == 8
    assert out == ""
    assert err.startswith(f"drove-tui: State file {path}")
    assert "Traceback" not in err
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


# -- commands that need the engine, against a scripted engine ------------------------------


class ScriptedEngine:
    """Answers like engine.Engine for one store, and remembers what it was asked."""

    def __init__(self, store_path: Path, final: TaskRecord | None = None) -> None:
        self.store_path = store_path
        self.final = final
        self.calls: list[str] = []

    def get(self, app: str, task: str) -> TaskRecord | None:
        store = SqliteStore.open(self.store_path)
        try:
            return store.get_task(app, task)
        finally:
            store.close()

    async def kill(self, app: str, task: str) -> TaskRecord:
        self.calls.append(f"kill {app} {task}")
        record = self.get(app, task)
        assert record is not None
        return record

    async def wait(self, app: str, task: str) -> TaskRecord:
        self.calls.append(f"wait {app} {task}")
        assert self.final is not None
        return self.final

    async def logs(
        self, app: str, task: str, *, follow: bool = False, tail: int | None = None
    ) -> AsyncIterator[LogLine]:
        self.calls.append(f"logs {app} {task} follow={follow} tail={tail}")
        now = time.time()
        yield LogLine(app, task, "stdout", "old line", now - 3600)
        yield LogLine(app, task, "stderr", "new error", now - 5)
        yield LogLine(app, task, "stdout", "new line", now - 1)


@pytest.fixture
def engine(state: Path, monkeypatch: pytest.MonkeyPatch) -> ScriptedEngine:
    scripted = ScriptedEngine(state)

    @asynccontextmanager
    async def opened(args: argparse.Namespace) -> AsyncIterator[ScriptedEngine]:
        yield scripted

    monkeypatch.setattr(tasks_command, "open_engine", opened)
    return scripted


def test_wait_on_finished_task_exits_with_its_code_without_the_engine(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "tasks", "wait", "app", "fail1", "--state", str(state))
    assert code == 3
    assert "STOPPED FAILED/3" in err
    assert engine.calls == []


def test_wait_on_live_task_waits_through_the_engine(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.final = task_record("run1", S.STOPPED, result=TaskResult.from_exit_code(0))
    code, out, _ = _run(capsys, "tasks", "wait", "app", "run1", "--json", "--state", str(state))
    assert code == 0
    assert json.loads(out)["taskResult"] == {"status": "SUCCESSFUL", "exitCode": 0}
    assert engine.calls == ["wait app run1"]


def test_wait_on_unknown_task_exits_9(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "tasks", "wait", "app", "nope", "--state", str(state))
    assert code == 9
    assert "No task found" in err


def test_kill_with_wait_returns_once_the_task_ended(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.final = task_record("run1", S.STOPPED, result=TaskResult.cancelled())
    code, _, err = _run(capsys, "tasks", "kill", "app", "run1", "--wait", "--state", str(state))
    assert code == 0
    assert engine.calls == ["kill app run1", "wait app run1"]
    assert "STOPPED CANCELLED/-1" in err


def test_kill_of_unknown_task_exits_9_without_killing(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "tasks", "kill", "app", "nope", "--state", str(state))[0] == 9
    assert engine.calls == []


@pytest.mark.parametrize(
    "ended", [S.STOPPED, S.LOST, S.PROVISIONING_FAILED, S.RUN_COMPLETED, S.DEPROVISIONING]
)
def test_kill_of_an_ended_task_is_refused_from_the_store_alone(
    ended: TaskState,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_engine(args: argparse.Namespace) -> None:
        raise AssertionError("tasks kill opened the engine (and so the hosts)")

    monkeypatch.setattr(tasks_command, "open_engine", no_engine)
    # An inventory that cannot even be read: the refusal must not need it.
    monkeypatch.setenv("DROVE_TUI_INVENTORY", str(state.parent / "no-such-inventory.yaml"))
    store = SqliteStore.open(state)
    store.create_task(task_record("ended1", ended, result=TaskResult.from_exit_code(0)))
    store.close()
    code, out, err = _run(capsys, "tasks", "kill", "app", "ended1", "--wait", "--state", str(state))
    assert (code, out) == (1, "")
    assert err == (
        f"drove-tui: Task app/ended1 has already ended (it is {ended}, result SUCCESSFUL/0); "
        "there is nothing to kill.\n"
    )


def test_logs_since_keeps_recent_lines_on_their_own_streams(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys,
        "tasks",
        "logs",
        "app",
        "run1",
        "--since",
        "10m",
        "--tail",
        "5",
        "--state",
        str(state),
    )
    assert code == 0
    assert (out, err) == ("new line\n", "new error\n")
    assert engine.calls == ["logs app run1 follow=False tail=5"]


def test_logs_json_is_one_object_per_line(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "tasks", "logs", "app", "run1", "-f", "--json", "--state", str(state)
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["stream"], line["text"]) for line in lines] == [
        ("stdout", "old line"),
        ("stderr", "new error"),
        ("stdout", "new line"),
    ]
    assert engine.calls == ["logs app run1 follow=True tail=None"]


def test_logs_of_a_finished_task_come_from_the_local_copy_without_the_engine(
    state: Path, engine: ScriptedEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    LogStore(Path(f"{state}.logs")).write(
        [
            LogLine("app", "fail1", "stdout", "first", now - 20),
            LogLine("app", "fail1", "stderr", "boom", now - 15),
            LogLine("app", "fail1", "stdout", "last", now - 10),
        ]
    )
    code, out, err = _run(
        capsys, "tasks", "logs", "app", "fail1", "--tail", "2", "--state", str(state)
    )
    assert (code, out, err) == (0, "last\n", "boom\n")
    assert engine.calls == []
    # --tail 0 is no line at all (it printed every line: a slice [-0:] is the whole list).
    code, out, err = _run(
        capsys, "tasks", "logs", "app", "fail1", "--tail", "0", "--state", str(state)
    )
    assert (code, out, err) == (0, "", "")


def test_logs_of_unknown_task_exits_9(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "tasks", "logs", "app", "nope", "--state", str(state))[0] == 9


def test_the_parsers_list_of_state_names_is_every_task_state() -> None:
    from drove_tui.commands.tasks import STATE_NAMES
    from drove_tui.models.states import TaskState

    assert STATE_NAMES.split(", ") == [s.value for s in TaskState]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC for the test (and back to what it was after)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("utc")
def test_list_and_history_tables_are_pinned_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    path = tmp_path / "state.db"
    store = SqliteStore.open(path)
    store.create_task(
        task_record(
            "a-much-longer-task",
            S.STOPPED,
            host="host1",
            cores=[2, 3],
            result=TaskResult.from_exit_code(0),
            created_at=at,
            started_at=at + 1,
            finished_at=at + 76,
        )
    )
    store.create_task(task_record("t2", S.PENDING, app="ci", memory_mb=0, created_at=at + 60))
    store.close()
    code, out, _ = _run(capsys, "tasks", "list", "--state", str(path))
    assert code == 0
    assert out == (
        "APP  TASK                STATE    HOST   CORES  MEMORY  CREATED              "
        "DURATION  RESULT\n"
        "app  a-much-longer-task  STOPPED  host1  2,3    64M     2023-11-14 22:13:20  "
        "1m15s     SUCCESSFUL/0\n"
        "ci   t2                  PENDING  -      -      -       2023-11-14 22:14:20  "
        "-         -\n"
    )
    code, out, _ = _run(
        capsys, "tasks", "history", "app", "a-much-longer-task", "--state", str(path)
    )
    assert out == (
        "TIME                 FROM  TO       REASON\n2023-11-14 22:13:20  -     STOPPED  created\n"
    )
