"""Versioned schema migrations for the state database (SQLite or PostgreSQL).

Each migration has a version, a name and its statements (written once for both engines, or one list per
engine). `schema_version` records what was applied; `upgrade()` applies the rest in order, in one
transaction under a lock, so replicas starting together apply each migration once. It runs when a process
first opens the database and by `fincopilot db upgrade`. Never edit a released migration: add a new one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fincopilot.errors import FinCopilotError

if TYPE_CHECKING:
    from fincopilot.state.db import StateDB


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    both: tuple[str, ...] = ()
    postgres: tuple[str, ...] = field(default=())


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "api keys, thread owners, conversations",
        both=(
            """CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, role TEXT NOT NULL,
             name TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT)""",
            """CREATE TABLE IF NOT EXISTS thread_owners (thread_id TEXT PRIMARY KEY, key_id TEXT NOT NULL,
             name TEXT NOT NULL, model TEXT NOT NULL, title TEXT NOT NULL, created_at TEXT NOT NULL,
             updated_at TEXT NOT NULL)""",
            "CREATE TABLE IF NOT EXISTS conversations (prefix_hash TEXT PRIMARY KEY, thread_id TEXT NOT NULL)",
        ),
    ),
    Migration(
        2,
        "principals: a stable id per person, carried by keys and thread owners",
        both=(
            """CREATE TABLE principals (principal_id TEXT PRIMARY KEY, handle TEXT NOT NULL UNIQUE,
             display_name TEXT NOT NULL, created_at TEXT NOT NULL)""",
            "ALTER TABLE api_keys ADD COLUMN principal_id TEXT",
            "UPDATE api_keys SET principal_id = 'p-key-' || key_id WHERE principal_id IS NULL",
            """INSERT INTO principals SELECT 'p-key-' || key_id, 'key:' || key_id, name, created_at FROM api_keys WHERE true
             ON CONFLICT DO NOTHING""",
            "ALTER TABLE thread_owners ADD COLUMN principal_id TEXT",
            "UPDATE thread_owners SET principal_id = 'p-key-' || key_id WHERE principal_id IS NULL",
            "CREATE INDEX thread_owners_by_principal ON thread_owners (principal_id, updated_at)",
        ),
    ),
    Migration(
        3,
        "runs: leases, heartbeats, idempotency keys, recorded events",
        both=(
            """CREATE TABLE runs (request_id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, idempotency_key TEXT,
             thread_id TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL, input TEXT NOT NULL,
             status TEXT NOT NULL, replica TEXT, lease_until DOUBLE PRECISION NOT NULL,
             attempts INTEGER NOT NULL DEFAULT 1, created_at DOUBLE PRECISION NOT NULL,
             updated_at DOUBLE PRECISION NOT NULL)""",
            "CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (principal_id, idempotency_key)",
            "CREATE UNIQUE INDEX runs_one_running_per_thread ON runs (thread_id) WHERE status = 'running'",
            "CREATE INDEX runs_by_lease ON runs (status, lease_until)",
            """CREATE TABLE run_events (request_id TEXT NOT NULL, n INTEGER NOT NULL, body TEXT NOT NULL,
             PRIMARY KEY (request_id, n))""",
        ),
    ),
    Migration(
        4,
        "audit chain (PostgreSQL; the embedded default keeps it in DuckDB)",
        postgres=(
            """CREATE TABLE audit (seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, request_id TEXT, event TEXT NOT NULL,
             payload TEXT NOT NULL, prev_hash TEXT NOT NULL UNIQUE, hash TEXT NOT NULL)""",
            "CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)",
            "CREATE INDEX audit_by_request ON audit (request_id)",
        ),
    ),
    Migration(
        5,
        "audit key fingerprint (every replica must append with the same key)",
        postgres=("CREATE TABLE audit_meta (id INTEGER PRIMARY KEY, key_fingerprint TEXT NOT NULL)",),
    ),
)


class MigrationError(FinCopilotError):
    """A migration failed; the message names it."""


def applied(db: StateDB) -> list[tuple[int, str, str]]:
    """(version, name, applied_at) of every applied migration."""
    _ensure_table(db)
    return [
        tuple(r)
        for r in db.execute(  # type: ignore[misc]
            "SELECT version, name, applied_at FROM schema_version ORDER BY version"
        ).rows
    ]


def _ensure_table(db: StateDB) -> None:
    with db.transaction() as tx:
        tx.lock("migrate")
        tx.execute("""CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                        applied_at TEXT NOT NULL)""")


def upgrade(db: StateDB) -> list[Migration]:
    """Apply the migrations `db` lacks, in order, in one locked transaction; returns those applied."""
    _ensure_table(db)
    done: list[Migration] = []
    with db.transaction() as tx:
        tx.lock("migrate")
        have = {r[0] for r in tx.execute("SELECT version FROM schema_version").rows}
        for m in MIGRATIONS:
            if m.version in have:
                continue
            for stmt in m.both + (m.postgres if db.engine == "postgres" else ()):
                try:
                    tx.execute(stmt)
                except Exception as err:  # noqa: BLE001 - any driver error: name the migration, roll back
                    raise MigrationError(
                        f"migration {m.version} ({m.name}) failed on {db.engine}: {err}"
                    ) from None
            tx.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                (m.version, m.name, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
            )
            done.append(m)
    return done


def latest() -> int:
    return MIGRATIONS[-1].version
