"""The SQLite store: one file, WAL, every state change one compare-and-set transaction."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drove_tui.engine.store.base import IllegalTransition, TaskExists, TaskNotTerminal
from drove_tui.engine.store.sqlite_file import open_connection, unreadable
from drove_tui.errors import StoreError, TaskNotFound
from drove_tui.models.spec import TaskSpec
from drove_tui.models.states import TERMINAL, TaskResult, TaskState, TaskStatus, can_move
from drove_tui.models.task import TaskRecord, Transition

# TaskRecord attributes stored in a column of the same name.
_PLAIN = frozenset(
    {
        "instance_id",
        "op_timeout_s",
        "host",
        "numa_node",
        "memory_mb",
        "container_id",
        "error",
        "owner",
        "lease_until",
        "pin_host",
        "log_path",
        "kill_requested_at",
        "started_at",
        "finished_at",
        "updated_at",
    }
)
_TERMINAL_NAMES = tuple(sorted(str(s) for s in TERMINAL))
# SQL for "the task is live"; its parameters are _TERMINAL_NAMES.
_LIVE = f"state NOT IN ({', '.join('?' for _ in _TERMINAL_NAMES)})"
# Once STOPPED or LOST nothing is left to own; PROVISIONING_FAILED still has a cleanup step.
_RELEASE_ON = frozenset({TaskState.STOPPED, TaskState.LOST})
_SPEC_CACHE = 20_000
_datasync = getattr(os, "fdatasync", os.fsync)  # fdatasync where there is one (not macOS)


class SqliteStore:
    """The default Store (see base.Store for the rules every method keeps)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, store_id: str) -> None:
        self._conn = conn
        self._path = path
        self._store_id = store_id
        # One connection per store object; the lock keeps threads (asyncio.to_thread callers)
        # from interleaving statements of two transactions on it.
        self._lock = threading.RLock()
        # Parsed specs by their stored JSON: parsing dominates reading a task, and the front
        # doors list every task every few seconds. A spec is immutable, so sharing is safe.
        self._specs: dict[str, TaskSpec] = {}
        # Deferred sync (see defer_sync): commits made, and how many of them are on disk.
        self._deferred = False
        self._committed = 0
        self._synced = 0
        self._wal: int | None = None  # a descriptor of the WAL file, for fsync
        self._sync_failed: StoreError | None = None

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout_s: float = 10.0) -> SqliteStore:
        """Open (or create, 0600) the store at ``path``; StoreError when it cannot be trusted."""
        conn, store_id = open_connection(Path(path), busy_timeout_s)
        return cls(conn, Path(path), store_id)

    @property
    def store_id(self) -> str:
        """Random id of this store (container label drove.owner)."""
        return self._store_id

    @property
    def path(self) -> str:
        """The state file."""
        return str(self._path)

    # -- tasks ---------------------------------------------------------------------------

    def create_task(self, record: TaskRecord) -> None:
        """Insert a new task and its creation transition; TaskExists if the pair is taken."""
        row = _row_of(record)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            existing = conn.execute(
                "SELECT state FROM tasks WHERE app = ? AND task_id = ?",
                (record.app, record.task_id),
            ).fetchone()
            if existing is not None:
                raise TaskExists(
                    f"Task already exists: {record.app}/{record.task_id} is in the store "
                    f"({existing[0]}); delete it first with "
                    f"`drove-tui tasks delete {record.app} {record.task_id}` to reuse the id."
                )
            conn.execute(f"INSERT INTO tasks ({columns}) VALUES ({marks})", tuple(row.values()))  # noqa: S608 (column names are ours)
            self._log(
                conn, record, None, record.state, record.reason or "created", record.created_at
            )

    def get_task(self, app: str, task: str) -> TaskRecord | None:
        """The task, or None."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM tasks WHERE app = ? AND task_id = ?", (app, task)
            ).fetchone()
        return None if row is None else _record_of(row, self._spec_of(row))

    def list_tasks(
        self,
        *,
        state: TaskState | None = None,
        app: str | None = None,
        updated_after: float | None = None,
        kill_requested: bool = False,
    ) -> list[TaskRecord]:
        """Tasks in creation order, optionally filtered by state, app, last update, and
        whether a kill was asked for."""
        where: list[str] = ["kill_requested_at IS NOT NULL"] if kill_requested else []
        params: list[Any] = []
        for clause, value in (
            ("state = ?", None if state is None else str(state)),
            ("app = ?", app),
            ("updated_at > ?", updated_after),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = "SELECT * FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [_record_of(row, self._spec_of(row)) for row in rows]

    def transition(
        self,
        app: str,
        task: str,
        expected: TaskState,
        new: TaskState,
        reason: str,
        *,
        expected_owner: str | None = None,
        **fields: Any,
    ) -> bool:
        """Compare-and-set ``expected -> new`` with ``fields``, and log it, in one transaction.

        False when the task is no longer ``expected`` (or no longer held by
        ``expected_owner`` when given) or is gone. IllegalTransition for a forbidden move.
        """
        if not can_move(expected, new):
            raise IllegalTransition(
                f"Task {app}/{task} cannot move from {expected} to {new} (docs/states.md)."
            )
        now = float(fields.pop("updated_at", time.time()))
        values = _columns_of(fields)
        if new is TaskState.RUNNING and "started_at" not in values:
            values["started_at"] = now
        if new in TERMINAL and "finished_at" not in values:
            values["finished_at"] = now
        if new in _RELEASE_ON:
            values.setdefault("owner", None)
            values.setdefault("lease_until", None)
        values.update(state=str(new), reason=reason, updated_at=now)
        with self._write() as conn:
            instance = self._cas(conn, app, task, expected, expected_owner, values)
            if instance is None:
                return False
            self._log_row(conn, app, task, instance, expected, new, reason, now)
            return True

    def update_fields(
        self,
        app: str,
        task: str,
        expected: TaskState,
        *,
        expected_owner: str | None = None,
        **fields: Any,
    ) -> bool:
        """Set ``fields`` without a state change, only if the task is still ``expected``."""
        values = _columns_of(fields)
        values.setdefault("updated_at", time.time())
        with self._write() as conn:
            return self._cas(conn, app, task, expected, expected_owner, values) is not None

    def history(self, app: str, task: str) -> list[Transition]:
        """Every applied transition, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT at, from_state, to_state, reason FROM transitions "
                "WHERE app = ? AND task_id = ? ORDER BY id",
                (app, task),
            ).fetchall()
        return [
            Transition(
                at=row["at"],
                from_state=None if row["from_state"] is None else TaskState(row["from_state"]),
                to_state=TaskState(row["to_state"]),
                reason=row["reason"],
            )
            for row in rows
        ]

    def delete_task(self, app: str, task: str) -> None:
        """Forget a terminal task and its history, so that its id can be used again."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT state FROM tasks WHERE app = ? AND task_id = ?", (app, task)
            ).fetchone()
            if row is None:
                raise TaskNotFound(
                    f"No task found with app {app} and task id {task} in {self.path}."
                )
            if row["state"] not in _TERMINAL_NAMES:
                raise TaskNotTerminal(
                    f"Task {app}/{task} is {row['state']}; only a finished task "
                    f"({', '.join(_TERMINAL_NAMES)}) can be deleted: kill it first with "
                    f"`drove-tui tasks kill {app} {task}`."
                )
            self._forget(conn, [(app, task)])

    def prune(self, older_than_s: float, *, now: float | None = None) -> int:
        """Delete terminal tasks that finished more than ``older_than_s`` ago."""
        cutoff = (time.time() if now is None else now) - older_than_s
        marks = ", ".join("?" for _ in _TERMINAL_NAMES)
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT app, task_id FROM tasks WHERE state IN ({marks}) "  # noqa: S608
                "AND COALESCE(finished_at, updated_at) < ?",
                (*_TERMINAL_NAMES, cutoff),
            ).fetchall()
            self._forget(conn, [(row["app"], row["task_id"]) for row in rows])
        return len(rows)

    # -- leases --------------------------------------------------------------------------

    def acquire(
        self, app: str, task: str, owner: str, ttl_s: float, *, now: float | None = None
    ) -> bool:
        """Take the lease if it is free, lapsed, or already ``owner``'s."""
        at = time.time() if now is None else now
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE tasks SET owner = ?, lease_until = ? WHERE app = ? AND task_id = ? "
                "AND (owner IS NULL OR owner = ? OR lease_until IS NULL OR lease_until < ?)",
                (owner, at + ttl_s, app, task, owner, at),
            )
            return cursor.rowcount == 1

    def renew(
        self,
        owner: str,
        keys: Iterable[tuple[str, str]],
        ttl_s: float,
        *,
        now: float | None = None,
    ) -> int:
        """Extend ``owner``'s lease on each of ``keys`` that is still live; returns how many."""
        at = time.time() if now is None else now
        with self._write() as conn:
            cursor = conn.executemany(
                "UPDATE tasks SET lease_until = ? WHERE app = ? AND task_id = ? "  # noqa: S608
                f"AND owner = ? AND {_LIVE}",
                [(at + ttl_s, app, task, owner, *_TERMINAL_NAMES) for app, task in keys],
            )
            return max(cursor.rowcount, 0)

    def release(self, app: str, task: str, owner: str) -> bool:
        """Give the lease back; only its owner can."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE tasks SET owner = NULL, lease_until = NULL "
                "WHERE app = ? AND task_id = ? AND owner = ?",
                (app, task, owner),
            )
            return cursor.rowcount == 1

    # -- kill requests -------------------------------------------------------------------

    def request_kill(self, app: str, task: str, *, now: float | None = None) -> bool:
        """Record that the operator asked to kill the task (the first request's time is kept);
        False when the task is terminal or gone."""
        at = time.time() if now is None else now
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE tasks SET kill_requested_at = COALESCE(kill_requested_at, ?) "  # noqa: S608
                f"WHERE app = ? AND task_id = ? AND {_LIVE}",
                (at, app, task, *_TERMINAL_NAMES),
            )
            return cursor.rowcount == 1

    def kill_requests(self, owner: str) -> list[tuple[str, str]]:
        """Keys of the live tasks ``owner`` holds that someone asked to kill."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT app, task_id FROM tasks WHERE owner = ? "  # noqa: S608
                f"AND kill_requested_at IS NOT NULL AND {_LIVE}",
                (owner, *_TERMINAL_NAMES),
            ).fetchall()
        return [(row["app"], row["task_id"]) for row in rows]

    # -- housekeeping --------------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """SQLite's full integrity check: ``["ok"]`` when the file is sound."""
        with self._read() as conn:
            return [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL when the last one closes), every
        commit on disk first."""
        try:
            self.flush()
        finally:
            with self._lock:
                self._conn.close()
                if self._wal is not None:
                    os.close(self._wal)
                    self._wal = None

    # -- durability ----------------------------------------------------------------------

    def defer_sync(self) -> None:
        """From now on, commits return before they are on disk, and `flush` puts them there.

        For the engine, whose event loop must not stop for an fsync per transition: it
        flushes before every step of a task that acts on a host, before it reports a kill
        request or a finished task, and when it closes (Engine.durable: one sync serves every
        commit made before it). A power cut can then undo only moves that nothing was done
        on or told yet; a killed process loses nothing. A store not in WAL mode keeps its
        full sync."""
        with self._lock:
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                return
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._deferred = True

    @property
    def committed(self) -> int:
        """How many commits that changed something were made with their sync deferred."""
        return self._committed

    @property
    def synced(self) -> int:
        """How many of those are known to be on disk."""
        return self._synced

    def flush(self) -> None:
        """Put every commit made so far on disk: the WAL's data synced, as SQLite's own full
        sync does (a no-op unless sync is deferred). After one failure every later call
        fails too: a failed sync may have dropped the data it was to write, so a second
        one that succeeds proves nothing. Thread-safe."""
        with self._lock:
            if self._sync_failed is not None:
                raise self._sync_failed
            target = self._committed
            if target <= self._synced:
                return
            try:
                if self._wal is None:
                    self._wal = self._open_wal()
                _datasync(self._wal)
            except OSError as err:
                self._sync_failed = StoreError(
                    f"State file {self._path}: cannot sync it to disk ({err}); drove-tui "
                    "stops changing it. Check the disk, then start drove-tui again."
                )
                raise self._sync_failed from err
            self._synced = target

    def _open_wal(self) -> int:
        """A descriptor of the WAL, which SQLite keeps beside the real file (a symbolic link
        to the store is followed), and its folder synced once so that a new WAL's name is on
        disk too. WAL mode keeps the file (one inode) while a connection is open."""
        main = self._conn.execute("PRAGMA database_list").fetchone()[2] or str(self._path)
        wal = os.path.realpath(main) + "-wal"
        folder = os.open(os.path.dirname(wal), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return os.open(wal, os.O_RDONLY | os.O_CLOEXEC)

    # -- internals -----------------------------------------------------------------------

    def _spec_of(self, row: sqlite3.Row) -> TaskSpec:
        text: str = row["spec_json"]
        spec = self._specs.get(text)
        if spec is None:
            if len(self._specs) >= _SPEC_CACHE:
                self._specs.clear()
            try:
                spec = TaskSpec.model_validate_json(text)
            except ValidationError as err:
                # Written by a drove-tui with other spec rules, or edited by hand.
                raise StoreError(
                    f"State file {self._path} holds task {row['app']}/{row['task_id']} whose "
                    f"spec does not load ({err.errors()[0]['msg']}); delete it with `drove-tui "
                    f"tasks delete {row['app']} {row['task_id']}` once it has finished."
                ) from None
            self._specs[text] = spec
        return spec

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as err:
                raise unreadable(self._path, err) from err

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
        # instead of one failing on a read-to-write upgrade.
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise unreadable(self._path, err) from err
            try:
                before = self._conn.total_changes
                yield self._conn
                self._conn.execute("COMMIT")
                if self._deferred and self._conn.total_changes != before:
                    self._committed += 1
            except BaseException as err:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if isinstance(err, sqlite3.Error):
                    raise unreadable(self._path, err) from err
                raise

    @staticmethod
    def _cas(
        conn: sqlite3.Connection,
        app: str,
        task: str,
        expected: TaskState,
        expected_owner: str | None,
        values: dict[str, Any],
    ) -> str | None:
        """The one compare-and-set UPDATE; the task's instance id when applied, else None."""
        sets = ", ".join(f"{column} = ?" for column in values)
        sql = f"UPDATE tasks SET {sets} WHERE app = ? AND task_id = ? AND state = ?"  # noqa: S608
        params: list[Any] = [*values.values(), app, task, str(expected)]
        if expected_owner is not None:
            sql += " AND owner = ?"
            params.append(expected_owner)
        row = conn.execute(sql + " RETURNING instance_id", params).fetchone()
        return None if row is None else str(row[0])

    @classmethod
    def _log(
        cls,
        conn: sqlite3.Connection,
        record: TaskRecord,
        old: TaskState | None,
        new: TaskState,
        reason: str,
        at: float,
    ) -> None:
        cls._log_row(conn, record.app, record.task_id, record.instance_id, old, new, reason, at)

    @staticmethod
    def _log_row(
        conn: sqlite3.Connection,
        app: str,
        task: str,
        instance: str,
        old: TaskState | None,
        new: TaskState,
        reason: str,
        at: float,
    ) -> None:
        conn.execute(
            "INSERT INTO transitions (app, task_id, instance_id, at, from_state, to_state, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (app, task, instance, at, None if old is None else str(old), str(new), reason),
        )

    @staticmethod
    def _forget(conn: sqlite3.Connection, keys: list[tuple[str, str]]) -> None:
        conn.executemany("DELETE FROM tasks WHERE app = ? AND task_id = ?", keys)
        conn.executemany("DELETE FROM transitions WHERE app = ? AND task_id = ?", keys)


def _columns_of(fields: dict[str, Any]) -> dict[str, Any]:
    """TaskRecord attribute values -> column values (JSON for lists, result split in two)."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _PLAIN:
            values[name] = value
        elif name == "cores":
            values["cores_json"] = json.dumps(list(value))
        elif name == "result":
            result: TaskResult | None = value
            values["result_status"] = None if result is None else str(result.status)
            values["exit_code"] = None if result is None else result.exit_code
        elif name == "spec":
            values["spec_json"] = _spec_json(value)
        else:
            raise ValueError(f"the store has no task field {name!r}")
    return values


def _spec_json(spec: TaskSpec) -> str:
    # Secrets never reach the disk: the spec is masked here, whatever the caller passed.
    return json.dumps(spec.masked().to_drove_json(), sort_keys=True)


def _row_of(record: TaskRecord) -> dict[str, Any]:
    fields = {name: getattr(record, name) for name in (*_PLAIN, "cores", "result", "spec")}
    row = {
        "app": record.app,
        "task_id": record.task_id,
        "state": str(record.state),
        "reason": record.reason,
        "created_at": record.created_at,
    }
    row.update(_columns_of(fields))
    return row


def _record_of(row: sqlite3.Row, spec: TaskSpec) -> TaskRecord:
    result = None
    if row["result_status"] is not None:
        result = TaskResult(status=TaskStatus(row["result_status"]), exit_code=row["exit_code"])
    return TaskRecord(
        app=row["app"],
        task_id=row["task_id"],
        instance_id=row["instance_id"],
        state=TaskState(row["state"]),
        spec=spec,
        op_timeout_s=row["op_timeout_s"],
        host=row["host"],
        numa_node=row["numa_node"],
        cores=json.loads(row["cores_json"]),
        memory_mb=row["memory_mb"],
        container_id=row["container_id"],
        result=result,
        error=row["error"],
        reason=row["reason"],
        owner=row["owner"],
        lease_until=row["lease_until"],
        pin_host=row["pin_host"],
        log_path=row["log_path"],
        kill_requested_at=row["kill_requested_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )
