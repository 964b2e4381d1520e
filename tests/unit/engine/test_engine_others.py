"""Tasks another process changes on the same state file reach this engine's subscribers (the
terminal app shows a `--run` from another terminal); tasks driven here are not told twice."""

from __future__ import annotations

from pathlib import Path

from test_engine_kill_requests import created, engine

from drove_tui.engine.events import TaskChanged
from drove_tui.models.states import TaskState

S = TaskState


async def test_another_processs_task_is_published_once_per_change(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    eng = engine(path)
    events = eng.subscribe()
    other = engine(path)  # another process on the same file (its own connection)
    try:
        record = created(other, "theirs", state=S.PENDING)
        assert await eng.others.look() == 1
        event = events._queue.get_nowait()
        assert isinstance(event, TaskChanged) and event.record.key == record.key
        assert await eng.others.look() == 0  # nothing new: nothing said again
        other.store.transition("app", "theirs", S.PENDING, S.PROVISIONING, "placed", host="h1")
        assert await eng.others.look() == 1
        assert events._queue.get_nowait().record.state is S.PROVISIONING  # type: ignore[union-attr]
    finally:
        eng.store.close()
        other.store.close()


async def test_tasks_driven_here_are_left_to_the_engine_itself(tmp_path: Path) -> None:
    eng = engine(tmp_path / "state.db")
    try:
        record = created(eng, "mine", state=S.PENDING)
        eng.runners._tasks[record.key] = None  # type: ignore[assignment]  # driven here
        assert await eng.others.look() == 0
    finally:
        eng.runners._tasks.clear()
        eng.store.close()
