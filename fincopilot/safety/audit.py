"""Tamper-evident audit log: every event appended to DuckDB (`home()/audit.duckdb`) in a hash chain.

Each row holds `seq, ts, request_id, event, payload` (canonical JSON), `prev_hash` and
`hash = sha256(prev_hash + canonical(seq, ts, request_id, event, payload))`. A one-row `audit_head` table,
updated in the same transaction, remembers the last seq and hash, so deleting the newest rows is detected
too. `verify()` walks the chain and names the first row that was edited, deleted, inserted or reordered.

Concurrency: a thread lock serialises writers in a process, and a file lock (`audit.lock`, the
`filelock` package) serialises processes. DuckDB lets only one process open a file for writing, so a
process keeps its connection (and the file lock) only while events keep coming, and lets go after a short
idle period or a maximum hold time, so the CLI and other processes get their turn.

What is stored: events as they happened inside the bank (on premises), including the real client values
an advisor typed. The log is the record a supervisor audits, so it is not desensitized; it never leaves
the machine. What an external backend received is desensitized (see `desensitize.py`) and the `route` /
`desensitize` events say so (with counts per kind, not the values).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fincopilot.errors import FinCopilotError, NotFoundError

GENESIS = "0" * 64
_IDLE_CLOSE_S = 0.25  # let go of the file this long after the last event
_MAX_HOLD_S = 2.0     # and at the latest after this long, even under a steady stream of events
_LOCK_TIMEOUT_S = 60.0
_MAX_FIELD_CHARS = 100_000


class AuditError(FinCopilotError):
    """The audit log could not be written or read."""


class AuditRow(BaseModel):
    seq: int
    ts: str
    request_id: str | None
    event: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyReport(BaseModel):
    """Result of `verify()`: ok, how many rows were checked, and the first problem found."""

    ok: bool
    count: int
    head_seq: int | None = None
    head_hash: str | None = None
    first_bad_seq: int | None = None
    problem: str | None = None


# --- canonical forms ------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (Path, bytes)):
        return str(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return repr(value)


def _clip(value: Any) -> Any:
    # Bound what one event can store (a whole report pasted into a payload), marking the cut.
    if isinstance(value, str) and len(value) > _MAX_FIELD_CHARS:
        return value[:_MAX_FIELD_CHARS] + f"…[{len(value) - _MAX_FIELD_CHARS} chars cut]"
    if isinstance(value, Mapping):
        return {str(k): _clip(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clip(v) for v in value]
    return value


def canonical_payload(payload: Mapping[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept, non-JSON values converted."""
    plain = json.loads(json.dumps(payload, default=_jsonable, ensure_ascii=False))
    return json.dumps(_clip(plain), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str, seq: int, ts: str, request_id: str | None, event: str, payload: str) -> str:
    canonical = json.dumps([seq, ts, request_id, event, payload], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


# --- storage ------------------------------------------------------------------------------------------------
def audit_path() -> Path:
    from fincopilot.paths import home

    return Path(os.environ.get("FINCOPILOT_AUDIT_DB", home() / "audit.duckdb"))


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, ts VARCHAR NOT NULL, request_id VARCHAR, "
    "event VARCHAR NOT NULL, payload VARCHAR NOT NULL, prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash VARCHAR NOT NULL)",
)


class _Store:
    """One audit file: a connection held while busy, under a thread lock and a cross-process file lock."""

    def __init__(self, path: Path):
        from filelock import FileLock

        self.path = path
        self.lock = threading.RLock()
        self.file_lock = FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT_S, thread_local=False)
        self.con = None
        self.pid = 0
        self.opened_at = 0.0
        self.last_used = 0.0
        self.timer: threading.Timer | None = None

    def _open(self):
        import duckdb

        if self.con is not None and self.pid == os.getpid():
            return self.con
        if self.pid != os.getpid():  # forked child: the parent's handles are not ours
            self.con, self.timer = None, None
            from filelock import FileLock

            self.file_lock = FileLock(str(self.path) + ".lock", timeout=_LOCK_TIMEOUT_S, thread_local=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.file_lock.acquire()
        except Exception as err:  # filelock.Timeout and OS errors
            raise AuditError(f"audit log {self.path} is locked by another process ({err})") from None
        try:
            con = duckdb.connect(str(self.path))
            for stmt in _SCHEMA:
                con.execute(stmt)
        except duckdb.Error as err:
            self.file_lock.release()
            raise AuditError(f"cannot open audit log {self.path}: {err}") from None
        self.con, self.pid, self.opened_at = con, os.getpid(), time.monotonic()
        return con

    def close(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.con is not None and self.pid == os.getpid():
                try:
                    self.con.close()
                finally:
                    self.con = None
                    self.file_lock.release()

    def _idle_check(self) -> None:
        with self.lock:
            self.timer = None
            if self.con is None:
                return
            idle = time.monotonic() - self.last_used
            if idle >= _IDLE_CLOSE_S * 0.9:
                self.close()
            else:
                self._schedule(_IDLE_CLOSE_S - idle)

    def _schedule(self, delay: float) -> None:
        if self.timer is None:
            self.timer = threading.Timer(delay, self._idle_check)
            self.timer.daemon = True
            self.timer.start()

    def run(self, fn, *, hold: bool = True):
        """Run `fn(con)` holding both locks; keep the connection briefly for the next event if `hold`."""
        import duckdb

        with self.lock:
            con = self._open()
            try:
                return fn(con)
            except duckdb.Error as err:
                raise AuditError(f"audit log {self.path}: {err}") from None
            finally:
                self.last_used = time.monotonic()
                if not hold or self.last_used - self.opened_at > _MAX_HOLD_S:
                    self.close()
                else:
                    self._schedule(_IDLE_CLOSE_S)


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def _store(path: Path | None = None) -> _Store:
    p = (path or audit_path()).resolve()
    with _stores_lock:
        store = _stores.get(str(p))
        if store is None:
            store = _stores[str(p)] = _Store(p)
        return store


def flush() -> None:
    """Close every held audit connection now (other processes can open the files at once)."""
    with _stores_lock:
        stores = list(_stores.values())
    for s in stores:
        s.close()


atexit.register(flush)


# --- public API ---------------------------------------------------------------------------------------------
def record(event: str, *, request_id: str | None = None, **payload: Any) -> int:
    """Append one audit event for `request_id` (default: the request bound by `log.request_context`).

    Returns the row's sequence number. Raises AuditError when the log cannot be written: an action
    that cannot be audited must not happen silently.
    """
    if not isinstance(event, str) or not event.strip():
        raise AuditError("audit event name must be a non-empty string")
    if request_id is None:
        from fincopilot.log import current_request_id

        request_id = current_request_id()
    body = canonical_payload(payload)
    ts = datetime.now(timezone.utc).isoformat(timespec="microseconds")

    def append(con) -> int:
        head = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        if head is None:  # new log, or the head row was removed: continue from the last row
            last = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            head = last or (0, GENESIS)
        seq, prev = int(head[0]) + 1, head[1]
        digest = row_hash(prev, seq, ts, request_id, event, body)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)", [seq, ts, request_id, event, body, prev, digest])
            con.execute("INSERT OR REPLACE INTO audit_head VALUES (1, ?, ?)", [seq, digest])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return seq

    return _store().run(append)


def _to_row(r: tuple) -> AuditRow:
    try:
        payload = json.loads(r[4])
    except (TypeError, json.JSONDecodeError):
        payload = {"_unparseable": r[4]}
    return AuditRow(seq=r[0], ts=r[1], request_id=r[2], event=r[3], payload=payload if isinstance(payload, dict)
                    else {"_value": payload}, prev_hash=r[5], hash=r[6])


def rows(request_id: str | None = None, *, event: str | None = None, limit: int | None = None,
         path: Path | None = None) -> list[AuditRow]:
    """Audit rows in sequence order, optionally for one request and/or one event type."""
    target = path or audit_path()
    if not target.exists():
        return []
    where, params = [], []
    if request_id is not None:
        where.append("request_id = ?")
        params.append(request_id)
    if event is not None:
        where.append("event = ?")
        params.append(event)
    sql = "SELECT seq, ts, request_id, event, payload, prev_hash, hash FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_to_row(r) for r in _store(target).run(lambda con: con.execute(sql, params).fetchall())]


def trail(request_id: str, *, path: Path | None = None) -> list[AuditRow]:
    """A request's full trail; NotFoundError naming the id when the log has nothing for it."""
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > 200:
        raise NotFoundError(f"invalid request id {str(request_id)[:60]!r}")
    found = rows(request_id, path=path)
    if not found:
        raise NotFoundError(f"no audit events for request {request_id!r} in {path or audit_path()}")
    return found


def _iter_chain(con) -> Iterator[tuple]:
    cur = con.execute("SELECT seq, ts, request_id, event, payload, prev_hash, hash FROM audit ORDER BY seq")
    while batch := cur.fetchmany(2048):
        yield from batch


def verify(path: Path | None = None) -> VerifyReport:
    """Walk the hash chain; report the first edited, missing, inserted or reordered row (or OK with count)."""
    target = path or audit_path()
    if not target.exists():
        return VerifyReport(ok=True, count=0)

    def check(con) -> VerifyReport:
        head = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        expected, prev, count = 1, GENESIS, 0

        def bad(seq: int, problem: str) -> VerifyReport:
            return VerifyReport(ok=False, count=count, first_bad_seq=seq, problem=problem,
                                head_seq=head[0] if head else None, head_hash=head[1] if head else None)

        for seq, ts, rid, event, payload, prev_hash, digest in _iter_chain(con):
            if seq > expected:
                return bad(expected, f"row {expected} is missing (deleted): the next row is {seq}")
            if seq < expected:
                return bad(seq, f"row {seq} appears more than once (inserted or duplicated)")
            if prev_hash != prev:
                return bad(seq, f"row {seq} does not link to row {seq - 1} (rows deleted, inserted or reordered)")
            if row_hash(prev_hash, seq, ts, rid, event, payload) != digest:
                return bad(seq, f"row {seq} ({event}) does not match its hash: edited or reordered")
            prev, expected, count = digest, expected + 1, count + 1
        last = expected - 1
        if head is None:
            if count:
                return bad(last, "the log head is missing (audit_head row deleted)")
        elif head[0] > last:
            return bad(last + 1, f"rows {last + 1}..{head[0]} are missing (deleted): the log head records {head[0]}")
        elif head[0] < last or head[1] != prev:
            return bad(head[0], f"the log head (row {head[0]}) does not match the last row {last}")
        return VerifyReport(ok=True, count=count, head_seq=head[0] if head else None,
                            head_hash=head[1] if head else None)

    return _store(target).run(check, hold=False)
