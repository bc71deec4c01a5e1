"""The state database: embedded SQLite (the default) or PostgreSQL (one setting), behind one small interface.

    db = state_db()                 # home()/server.sqlite, or PostgreSQL when a database URL is set
    db.execute("SELECT role FROM api_keys WHERE key_id=?", (key_id,)).one()
    with db.transaction() as tx:    # one transaction; `tx.lock(name)` serialises it across replicas
        tx.lock("audit")
        tx.execute("INSERT ...", (...))

The URL comes from `$FINCOPILOT_DATABASE_URL`, else `database_url` in the config file. SQL is written once,
with `?` placeholders and statements both engines accept (`INSERT ... ON CONFLICT`); the PostgreSQL side
turns `?` into psycopg's `%s`. Versioned migrations (`fincopilot.state.migrations`) run when a database is
first opened in a process, and by `fincopilot db upgrade`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fincopilot.config import settings
from fincopilot.errors import ConfigError, FinCopilotError
from fincopilot.paths import home
from fincopilot.state.migrations import upgrade

Engine = Literal["sqlite", "postgres"]
POOL_MAX_SIZE = 16


class StateError(FinCopilotError):
    """The state database could not be reached or used."""


def database_url() -> str | None:
    """The PostgreSQL URL from `$FINCOPILOT_DATABASE_URL` or the config's `database_url`; None: embedded files."""
    url = os.environ.get("FINCOPILOT_DATABASE_URL")
    if url is None:
        url = settings().database_url
    url = (url or "").strip()
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"database_url must be a postgresql:// URL, got {redact(url)!r}")
    return url


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"


@dataclass
class Result:
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = 0

    def one(self) -> tuple | None:
        return self.rows[0] if self.rows else None


class Tx:
    """One open transaction; `execute` takes `?` placeholders on either engine."""

    def __init__(self, cursor: Any, engine: Engine):
        self._cur, self.engine = cursor, engine

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        if self.engine == "postgres":
            sql = sql.replace("?", "%s")
        cur = self._cur.execute(sql, tuple(params))
        rows = cur.fetchall() if cur.description else []
        return Result(list(map(tuple, rows)), cur.rowcount)

    def lock(self, name: str) -> None:
        """Serialise this transaction against every other holding `name` (PostgreSQL advisory lock; SQLite
        transactions are already serialised by `BEGIN IMMEDIATE`)."""
        if self.engine == "postgres":
            self._cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"fincopilot:{name}",))


class StateDB:
    """A SQLite file or a PostgreSQL pool; thread-safe. Use `state_db()` rather than building one."""

    def __init__(self, engine: Engine, target: str):
        self.engine, self.target = engine, target
        self._lock = threading.RLock()
        self._sqlite: sqlite3.Connection | None = None
        self._pool: Any = None
        if engine == "sqlite":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=30)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA busy_timeout=30000")
        else:
            self._pool = _pg_pool(target, {"autocommit": True})
        upgrade(self)

    @property
    def where(self) -> str:
        return self.target if self.engine == "sqlite" else redact(self.target)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self._sqlite is not None:
            with self._lock:
                self._sqlite.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(self._sqlite, "sqlite")
                except BaseException:
                    self._sqlite.execute("ROLLBACK")
                    raise
                self._sqlite.execute("COMMIT")
            return
        import psycopg

        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield Tx(cur, "postgres")
        except psycopg.OperationalError as err:
            raise StateError(f"PostgreSQL at {self.where}: {err}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """One statement in its own transaction."""
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def size_bytes(self) -> int:
        """How big the database is on disk (file + WAL, or `pg_database_size`)."""
        if self.engine == "sqlite":
            return sum(
                p.stat().st_size for p in (Path(self.target), Path(self.target + "-wal")) if p.exists()
            )
        return int(self.execute("SELECT pg_database_size(current_database())").rows[0][0])

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _pg_pool(url: str, kwargs: dict[str, Any]) -> Any:
    try:
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise ConfigError(
            "database_url is set but psycopg is not installed: pip install 'psycopg[binary,pool]'"
        ) from None
    import psycopg

    try:  # one direct attempt first: a wrong host or password fails at once, with the server's reason
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as err:
        raise StateError(f"cannot connect to PostgreSQL at {redact(url)}: {str(err).strip()}") from None
    pool = ConnectionPool(url, min_size=1, max_size=POOL_MAX_SIZE, kwargs=kwargs, open=False)
    try:
        pool.open(wait=True, timeout=30)
    except Exception as err:  # noqa: BLE001 - psycopg_pool.PoolTimeout and connection errors
        pool.close()
        raise StateError(f"cannot connect to PostgreSQL at {redact(url)}: {err}") from None
    return pool


_open: dict[tuple[int, str], StateDB] = {}
_open_lock = threading.Lock()


def state_db(path: Path | None = None) -> StateDB:
    """The process's state database: PostgreSQL when a URL is set, else the SQLite file `path`
    (default `home()/server.sqlite`). One instance per target and process."""
    url = database_url()
    engine: Engine = "postgres" if url else "sqlite"
    target = url or str(Path(path) if path else home() / "server.sqlite")
    key = (os.getpid(), target)
    with _open_lock:
        db = _open.get(key)
        if db is None or (db._sqlite is None and db._pool is None):
            db = _open[key] = StateDB(engine, target)
        return db


def close_all() -> None:
    """Close every open state database of this process (tests, shutdown)."""
    with _open_lock:
        dbs = list(_open.values())
        _open.clear()
    for db in dbs:
        db.close()


def checkpoint_saver(sqlite_path: Path) -> tuple[Any, str]:
    """LangGraph's checkpointer: the official PostgresSaver when a URL is set, else SqliteSaver on
    `sqlite_path`. Returns (saver, engine)."""
    url = database_url()
    if url:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        pool = _pg_pool(url, {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
        saver = PostgresSaver(pool)
        with pool.connection() as conn:  # PostgresSaver.setup runs its own migrations: one replica at a time
            conn.execute("SELECT pg_advisory_lock(hashtext('fincopilot:checkpoint-setup'))")
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('fincopilot:checkpoint-setup'))")
        return saver, "postgres"
    from langgraph.checkpoint.sqlite import SqliteSaver

    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(sqlite_path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")  # readers (thread views) never block a running graph
    saver = SqliteSaver(conn)
    saver.setup()
    return saver, "sqlite"
