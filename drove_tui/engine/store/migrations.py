"""The SQLite schema as an ordered list of migrations; the version lives in table ``meta``.

A migration is never edited once released: a change to the schema is a new entry at the end.
All of them run inside one transaction, so a store is either at the old or the new version.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """Statements that take the schema from ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "tasks, transitions, host probes",
        (
            """CREATE TABLE tasks (
                app TEXT NOT NULL,
                task_id TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                state TEXT NOT NULL,
                spec_json TEXT NOT NULL,
                op_timeout_s REAL NOT NULL,
                host TEXT,
                numa_node INTEGER,
                cores_json TEXT NOT NULL DEFAULT '[]',
                memory_mb INTEGER NOT NULL DEFAULT 0,
                container_id TEXT,
                result_status TEXT,
                exit_code INTEGER,
                error TEXT,
                reason TEXT NOT NULL DEFAULT '',
                owner TEXT,
                lease_until REAL,
                pin_host TEXT,
                log_path TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                started_at REAL,
                finished_at REAL,
                PRIMARY KEY (app, task_id)
            )""",
            "CREATE INDEX tasks_by_state ON tasks (state)",
            "CREATE INDEX tasks_by_owner ON tasks (owner)",
            """CREATE TABLE transitions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                app TEXT NOT NULL,
                task_id TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                at REAL NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                reason TEXT NOT NULL
            )""",
            "CREATE INDEX transitions_by_task ON transitions (app, task_id, id)",
            # Unused since the engine keeps host statuses in memory only (a probe is fresh
            # within seconds; nothing read the rows back). Left in place rather than dropped:
            # dropping it would bump the schema and lock older drove-tui versions out of the
            # store for no gain. A later migration that changes the schema may drop it.
            """CREATE TABLE hosts (
                name TEXT PRIMARY KEY,
                status_json TEXT NOT NULL,
                last_ok REAL,
                checked_at REAL
            )""",
        ),
    ),
    Migration(
        2,
        "kill requests from other processes (issue #7)",
        (
            # When set, the operator asked (maybe from another process) to kill the task: its
            # owner honours it, and its result is CANCELLED whoever sees the exit.
            "ALTER TABLE tasks ADD COLUMN kill_requested_at REAL",
        ),
    ),
)

CURRENT_VERSION = MIGRATIONS[-1].version

# Marks a file as ours, so that another program's SQLite file is refused, not migrated.
APPLICATION_KEY = "application"
APPLICATION = "drove-tui"


def schema_version(conn: sqlite3.Connection) -> int | None:
    """The store's schema version; None when the file has no drove-tui ``meta`` table."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if row is None:
        return None
    found = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if found.get(APPLICATION_KEY) != APPLICATION:
        return None
    return int(found.get("schema_version", "0"))


def migrate(conn: sqlite3.Connection, store_id: str, migrations: tuple[Migration, ...]) -> None:
    """Bring an empty or older store up to the last migration; the caller holds a write
    transaction (BEGIN IMMEDIATE) and commits."""
    version = schema_version(conn)
    if version is None:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [(APPLICATION_KEY, APPLICATION), ("schema_version", "0"), ("store_id", store_id)],
        )
        version = 0
    for migration in migrations:
        if migration.version <= version:
            continue
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(migration.version),)
        )
