"""The state file: where it lives, how it is created, and every way it is refused untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from drove_tui.engine.store.migrations import MIGRATIONS, Migration
from drove_tui.engine.store.sqlite import SqliteStore
from drove_tui.engine.store.sqlite_file import _create, open_connection
from drove_tui.errors import ExitCode, StoreError
from drove_tui.models.task import TaskRecord
from drove_tui.paths import resolve_state_path

RecordFactory = Callable[..., TaskRecord]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_path_prefers_option_then_env_then_xdg_then_home() -> None:
    env = {"DROVE_TUI_STATE": "/e/s.db", "XDG_STATE_HOME": "/x", "HOME": "/h"}
    assert resolve_state_path("/o/s.db", env) == Path("/o/s.db")
    assert resolve_state_path(None, env) == Path("/e/s.db")
    assert resolve_state_path(None, {**env, "DROVE_TUI_STATE": ""}) == Path("/x/drove-tui/state.db")
    assert resolve_state_path(None, {"HOME": "/h"}) == Path("/h/.local/state/drove-tui/state.db")
    # XDG: a relative XDG_STATE_HOME is invalid and ignored.
    assert resolve_state_path(None, {"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/state/drove-tui/state.db"
    )


def test_new_store_is_private_and_so_are_its_directory_and_wal(
    tmp_path: Path, make_record: RecordFactory
) -> None:
    path = tmp_path / "new" / "dir" / "state.db"
    old_umask = os.umask(0o022)  # the usual umask would give 0644 files and 0755 dirs
    store = SqliteStore.open(path)
    os.umask(old_umask)
    try:
        store.create_task(make_record())
        assert _mode(path) == 0o600
        assert _mode(path.parent) == 0o700
        assert _mode(path.parent.parent) == 0o700
        for side in ("-wal", "-shm"):
            side_file = Path(f"{path}{side}")
            assert side_file.exists()
            assert _mode(side_file) == 0o600
        journal = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert journal == "wal"
        assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    finally:
        store.close()


def test_reopened_store_keeps_its_id_and_tasks(
    state_path: Path, make_record: RecordFactory
) -> None:
    store = SqliteStore.open(state_path)
    store.create_task(make_record())
    first_id = store.store_id
    store.close()
    again = SqliteStore.open(state_path)
    try:
        assert again.store_id == first_id
        assert len(first_id) == 16
        assert again.get_task("app", "t1") is not None
    finally:
        again.close()


def test_creating_over_an_existing_store_keeps_the_existing_one(state_path: Path) -> None:
    # The race of two processes creating at once: the second one's link must not replace
    # the first one's store (it would forget its tasks).
    conn, store_id = open_connection(state_path, 1.0)
    conn.close()
    before = _digest(state_path)
    _create(state_path, 1.0, MIGRATIONS)
    assert _digest(state_path) == before
    conn, again = open_connection(state_path, 1.0)
    conn.close()
    assert again == store_id
    assert sorted(p.name for p in state_path.parent.iterdir()) == ["state.db"]


def _refused(path: Path, match: str) -> None:
    before = _digest(path) if path.is_file() else None
    with pytest.raises(StoreError, match=match) as caught:
        SqliteStore.open(path)
    assert caught.value.exit_code == ExitCode.STORE_ERROR
    assert str(path) in str(caught.value)
    if before is not None:
        assert _digest(path) == before
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_garbage_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(os.urandom(8192))
    _refused(path, "not a drove-tui store \\(not SQLite\\)")


def test_empty_file_is_refused_as_possibly_truncated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    _refused(path, "is empty")


def test_truncated_store_is_refused_untouched(state_path: Path, make_record: RecordFactory) -> None:
    store = SqliteStore.open(state_path)
    for i in range(300):
        store.create_task(make_record(f"t{i}", error="x" * 500))
    store.close()
    size = state_path.stat().st_size
    assert size > 8 * 4096
    with open(state_path, "r+b") as handle:
        handle.truncate(size // 2)
    _refused(state_path, "corrupt")


def test_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.mkdir()
    _refused(path, "is a directory")


def test_other_programs_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts (id INTEGER)")
    conn.commit()
    conn.close()
    _refused(path, "SQLite file but not a drove-tui store")


def test_store_from_a_newer_drove_tui_is_refused_untouched(state_path: Path) -> None:
    SqliteStore.open(state_path).close()
    conn = sqlite3.connect(state_path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    _refused(state_path, "newer drove-tui \\(schema 99")


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    # Root reads a file whatever its mode, so as root the refusal is checked from a process
    # that has dropped to `nobody`.
    home = Path(tempfile.mkdtemp(prefix="drove-unreadable-"))
    try:
        home.chmod(0o755)
        path = home / "state.db"
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
        path.chmod(0)
        before = _digest(path)
        if os.geteuid() != 0:
            _refused(path, "permission denied")
            return
        # The child drops to nobody and tries to open the store; the code modules are already
        # in memory, so only the state file itself is read with the lower rights.
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 3
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                SqliteStore.open(path)
            except StoreError as err:
                refused = "permission denied" in str(err) and str(path) in str(err)
                code = 0 if refused and err.exit_code == ExitCode.STORE_ERROR else 1
            except BaseException:
                code = 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "nobody could open an unreadable store"
        assert _digest(path) == before
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_older_store_is_migrated_and_keeps_its_tasks(
    state_path: Path, make_record: RecordFactory
) -> None:
    store = SqliteStore.open(state_path)
    store.create_task(make_record())
    store.close()
    next_version = MIGRATIONS[-1].version + 1
    note = Migration(next_version, "notes", ("ALTER TABLE tasks ADD COLUMN note TEXT",))
    conn, _ = open_connection(state_path, 1.0, (*MIGRATIONS, note))
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version[0] == str(next_version)
        rows = conn.execute("SELECT task_id, note FROM tasks").fetchall()
        assert [tuple(row) for row in rows] == [("t1", None)]
    finally:
        conn.close()


def test_store_held_by_a_writer_too_long_says_it_is_locked(
    state_path: Path, make_record: RecordFactory
) -> None:
    SqliteStore.open(state_path).close()
    holder = sqlite3.connect(state_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock for the whole attempt below
    try:
        store = SqliteStore.open(state_path, busy_timeout_s=0.05)
        try:
            with pytest.raises(StoreError, match="is locked by another drove-tui process"):
                store.create_task(make_record())
        finally:
            store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
