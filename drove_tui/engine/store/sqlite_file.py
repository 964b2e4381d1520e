"""Opening the SQLite state file safely: create it private, refuse anything we cannot trust.

A store that cannot be read is an error, never a fresh start: a fresh store would forget the
tasks still running on the hosts. So an existing file is only ever opened, checked and (if
older) migrated; it is never replaced, truncated or written before it has passed the checks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import stat
from pathlib import Path

from drove_tui.engine.store.migrations import (
    CURRENT_VERSION,
    MIGRATIONS,
    Migration,
    migrate,
    schema_version,
)
from drove_tui.errors import StoreError

SQLITE_HEADER = b"SQLite format 3\x00"
MOVE_ASIDE = "drove-tui will not replace it; move it aside or give another file with --state"


def open_connection(
    path: Path, busy_timeout_s: float, migrations: tuple[Migration, ...] = MIGRATIONS
) -> tuple[sqlite3.Connection, str]:
    """A checked, migrated connection to the store at ``path`` (created if missing), and
    the store's id. Raises StoreError with one sentence when the file cannot be trusted."""
    path = Path(os.path.abspath(path))
    if not _exists(path):
        _create(path, busy_timeout_s, migrations)
    _check_file(path)
    conn = _connect(path, busy_timeout_s)
    try:
        store_id = _check_and_migrate(conn, path, migrations)
        # WAL lets readers (the TUI) and a writer (a headless run) share the file; FULL makes
        # every commit survive a power cut, not only a killed process, until an engine defers
        # its syncs (SqliteStore.defer_sync) to flush them in batches.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as err:
        conn.close()
        raise unreadable(path, err) from err
    except BaseException:
        conn.close()
        raise
    return conn, store_id


def unreadable(path: Path, err: sqlite3.Error) -> StoreError:
    """The StoreError for an SQLite failure on ``path``."""
    text = str(err)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"State file {path} is locked by another drove-tui process that does not let go; "
            "wait for it to finish or give another file with --state."
        )
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return StoreError(f"State file {path} is corrupt ({text}); {MOVE_ASIDE}.")
    return StoreError(f"State file {path} cannot be used ({text}); check it, or {MOVE_ASIDE}.")


def _exists(path: Path) -> bool:
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise StoreError(f"State file {path} cannot be checked ({err.strerror}).") from err
    return True


def _check_file(path: Path) -> None:
    """Refuse a directory, a non-file, an empty file, or a file that is not SQLite."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise StoreError(
                f"State path {path} is a directory; give the path of a file with --state."
            )
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"State path {path} is not a regular file; {MOVE_ASIDE}.")
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except PermissionError as err:
        raise StoreError(
            f"State file {path} cannot be read (permission denied); check its owner and mode."
        ) from err
    except OSError as err:
        raise StoreError(f"State file {path} cannot be read ({err.strerror}).") from err
    if not header:
        # An empty file may be a store that was truncated: starting afresh would forget tasks.
        raise StoreError(f"State file {path} is empty (truncated?); {MOVE_ASIDE}.")
    if header != SQLITE_HEADER:
        raise StoreError(f"State file {path} is not a drove-tui store (not SQLite); {MOVE_ASIDE}.")


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    # mode=rw: never let SQLite create a missing file behind our back (that is _create's job).
    uri = path.as_uri() + "?mode=rw"
    try:
        conn = sqlite3.connect(
            uri, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as err:
        raise unreadable(path, err) from err
    conn.row_factory = sqlite3.Row
    return conn


def _check_and_migrate(
    conn: sqlite3.Connection, path: Path, migrations: tuple[Migration, ...]
) -> str:
    version = schema_version(conn)
    latest = migrations[-1].version if migrations else CURRENT_VERSION
    if version is None:
        raise StoreError(
            f"State file {path} is an SQLite file but not a drove-tui store; {MOVE_ASIDE}."
        )
    if version > latest:
        raise StoreError(
            f"State file {path} was written by a newer drove-tui (schema {version}, this one "
            f"knows up to {latest}); upgrade drove-tui to use it."
        )
    problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise StoreError(f"State file {path} is corrupt ({problems[0]}); {MOVE_ASIDE}.")
    if version < latest:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated it while we waited for the write lock.
            migrate(conn, secrets.token_hex(8), migrations)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    return str(row[0])


def _create(path: Path, busy_timeout_s: float, migrations: tuple[Migration, ...]) -> None:
    """Build a new store beside ``path`` and link it into place, so that no process ever sees a
    half-made store (and two processes creating at once end up sharing one)."""
    _make_private_dirs(path.parent)
    temp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.fchmod(fd, 0o600)
        os.close(fd)
        conn = _connect(temp, busy_timeout_s)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            migrate(conn, secrets.token_hex(8), migrations)
            conn.execute("COMMIT")
        finally:
            conn.close()
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)  # fails if another process got there first: use theirs
    except PermissionError as err:
        raise StoreError(
            f"State file {path} cannot be created (permission denied in {path.parent}); "
            "give a writable path with --state."
        ) from err
    except OSError as err:
        raise StoreError(f"State file {path} cannot be created ({err.strerror}).") from err
    except sqlite3.Error as err:
        raise unreadable(temp, err) from err
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _make_private_dirs(directory: Path) -> None:
    """Create missing directories 0700: the store holds specs and results of other people."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(item, 0o700)
            os.chmod(item, 0o700)
