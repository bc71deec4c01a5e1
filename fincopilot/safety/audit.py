"""Tamper-evident audit log: every event appended in a keyed hash chain, with signed anchors kept outside it.

Each row holds `seq, ts, request_id, event, payload` (canonical JSON), `prev_hash` and
`hash = HMAC-SHA256(audit key, prev_hash + canonical(seq, ts, request_id, event, payload))`. A one-row
`audit_head` table, updated in the same transaction, remembers the last seq and hash, so deleting the newest
rows is detected too. `verify()` walks the chain and names the first row that was edited, deleted, inserted
or reordered.

The key lives outside the database: `$FINCOPILOT_AUDIT_KEY`, else `home()/keys/audit.key` (created with mode
0600 on first use). Without it nobody can append a forged row with a valid hash, or re-hash a rewritten tail.
What a keyed chain alone cannot show is a log deleted, emptied or cut back with its head moved: `anchor()`
(`fincopilot audit anchor`) writes a signed checkpoint (row count, head hash) to a separate file, to be copied
to external storage, and `verify()` fails when an anchor says the log held more, or other rows, than it does.

Where: the embedded default is a DuckDB file (`home()/audit.duckdb`); with a database URL it is PostgreSQL,
one linear chain for every replica (appends serialised by an advisory lock; `prev_hash` is unique, so two
rows can never extend the same head).

Concurrency (DuckDB): a thread lock serialises writers in a process, and a file lock (`audit.lock`, the
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
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fincopilot.errors import FinCopilotError, NotFoundError
from fincopilot.log import current_request_id
from fincopilot.paths import home
from fincopilot.state.db import Result, database_url, state_db

GENESIS = "0" * 64
_IDLE_CLOSE_S = 0.25  # let go of the file this long after the last event
_MAX_HOLD_S = 2.0  # and at the latest after this long, even under a steady stream of events
_LOCK_TIMEOUT_S = 60.0
_MAX_FIELD_CHARS = 100_000
_BATCH = 5000
_ANCHOR_DOMAIN = b"fincopilot-audit-anchor:"


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
    anchors_checked: int = 0
    warning: str | None = None


class Anchor(BaseModel):
    """A signed checkpoint of the log's head, kept outside the database (`fincopilot audit anchor`)."""

    v: int = 1
    seq: int
    hash: str
    ts: str
    log: str
    sig: str = ""

    def body(self) -> str:
        return json.dumps([self.v, self.seq, self.hash, self.ts, self.log], separators=(",", ":"))


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


# --- the key, outside the database ------------------------------------------------------------------------
def audit_key_path() -> Path:
    return home() / "keys" / "audit.key"


_keys: dict[str, bytes] = {}


def audit_key() -> bytes:
    """The HMAC key: `$FINCOPILOT_AUDIT_KEY`, else `home()/keys/audit.key` (made with mode 0600 if missing).
    Replicas sharing a database must share the key (the variable, or the same file mounted read-only)."""
    env = os.environ.get("FINCOPILOT_AUDIT_KEY")
    if env:
        if len(env) < 32:
            raise AuditError(
                "FINCOPILOT_AUDIT_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)"
            )
        return env.encode("utf-8")
    path = audit_key_path()
    cached = _keys.get(str(path))
    if cached is not None and path.exists():
        return cached
    if not path.exists():
        _create_key(path)
    key = path.read_text(encoding="utf-8").strip().encode("utf-8")
    if len(key) < 32:
        raise AuditError(f"audit key {path} is shorter than 32 characters; restore it from your key backup")
    _keys[str(path)] = key
    return key


def _create_key(path: Path) -> None:
    """Write a new key whole, then link it into place: a concurrent reader (thread or process) sees no key
    file or the complete key, never a half-written one; the first writer wins."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another writer's key is in place: use it
    finally:
        tmp.unlink(missing_ok=True)


def row_hash(
    prev_hash: str,
    seq: int,
    ts: str,
    request_id: str | None,
    event: str,
    payload: str,
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 of (previous hash, canonical row) under the audit key."""
    canonical = json.dumps([seq, ts, request_id, event, payload], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key or audit_key(), (prev_hash + canonical).encode("utf-8"), hashlib.sha256).hexdigest()


def sign_anchor(anchor: Anchor, key: bytes | None = None) -> str:
    return hmac.new(
        key or audit_key(), _ANCHOR_DOMAIN + anchor.body().encode("utf-8"), hashlib.sha256
    ).hexdigest()


# --- storage ------------------------------------------------------------------------------------------------
def audit_path() -> Path:
    return Path(os.environ.get("FINCOPILOT_AUDIT_DB", home() / "audit.duckdb"))


_SCHEMA = (
    (
        "CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, ts VARCHAR NOT NULL, request_id VARCHAR, "
        "event VARCHAR NOT NULL, payload VARCHAR NOT NULL, prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL)"
    ),
    "CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash VARCHAR NOT NULL)",
)


class _DuckTx:
    """The `Tx` interface (`execute` → Result, `lock`) over a DuckDB connection."""

    engine = "duckdb"

    def __init__(self, con):
        self._con = con

    def execute(self, sql: str, params: tuple | list = ()) -> Result:
        cur = self._con.execute(sql, list(params))
        return Result(list(cur.fetchall()) if cur.description else [], -1)

    def lock(self, name: str) -> None:  # the store's thread and file locks already serialise writers
        return None


class _Store:
    """One audit file: a connection held while busy, under a thread lock and a cross-process file lock."""

    def __init__(self, path: Path):
        from filelock import FileLock

        self.path = path
        self.where = str(path)
        self.lock = threading.RLock()
        self.file_lock = FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT_S, thread_local=False)
        self.con = None
        self.pid = 0
        self.opened_at = 0.0
        self.last_used = 0.0
        self.timer: threading.Timer | None = None

    def exists(self) -> bool:
        return self.path.exists()

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
        except Exception as err:  # noqa: BLE001 - filelock.Timeout and OS errors
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

    @contextmanager
    def transaction(self, *, hold: bool = True) -> Iterator[_DuckTx]:
        """One transaction holding both locks; keep the connection briefly for the next event if `hold`."""
        import duckdb

        with self.lock:
            con = self._open()
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield _DuckTx(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            except duckdb.Error as err:
                raise AuditError(f"audit log {self.path}: {err}") from None
            finally:
                self.last_used = time.monotonic()
                if not hold or self.last_used - self.opened_at > _MAX_HOLD_S:
                    self.close()
                else:
                    self._schedule(_IDLE_CLOSE_S)


def key_fingerprint(key: bytes) -> str:
    """Names the key without revealing it: HMAC of a fixed label."""
    return hmac.new(key, b"fincopilot-audit-key-fingerprint", hashlib.sha256).hexdigest()[:32]


_checked_keys: set[tuple[str, str]] = set()


class _PgStore:
    """The audit chain in the PostgreSQL state database (tables made by migrations 4 and 5)."""

    def __init__(self):
        self.db = state_db()
        self.where = f"PostgreSQL {self.db.where}"

    def check_key(self) -> None:
        """The first replica records its key's fingerprint; a replica with another key may not append (its rows
        would never verify): a loud error instead of a silently broken chain."""
        mine = key_fingerprint(audit_key())
        if (self.db.target, mine) in _checked_keys:
            return
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO audit_meta VALUES (1, ?) ON CONFLICT (id) DO NOTHING", (mine,))
            theirs = tx.execute("SELECT key_fingerprint FROM audit_meta WHERE id = 1").rows[0][0]
        if theirs != mine:
            raise AuditError(
                "this process's audit key differs from the key the shared audit log is written with "
                f"(fingerprint {mine[:12]}… vs {theirs[:12]}…): give every replica the same "
                "FINCOPILOT_AUDIT_KEY"
            )
        _checked_keys.add((self.db.target, mine))

    def exists(self) -> bool:
        return True

    @contextmanager
    def transaction(self, *, hold: bool = True) -> Iterator[Any]:
        with self.db.transaction() as tx:
            tx.lock("audit")  # one linear chain across replicas
            yield tx

    def close(self) -> None:
        return None


_stores: dict[str, _Store] = {}
_stores_lock = threading.Lock()


def _store(path: Path | None = None) -> _Store | _PgStore:
    """The log to use: the DuckDB file `path` when given, else PostgreSQL when a database URL is set, else the
    default DuckDB file."""
    if path is None and database_url():
        return _PgStore()
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
        request_id = current_request_id()
    body = canonical_payload(payload)
    ts = datetime.now(UTC).isoformat(timespec="microseconds")
    key = audit_key()
    store = _store()
    if isinstance(store, _PgStore):
        store.check_key()
    with store.transaction() as tx:
        head = tx.execute("SELECT seq, hash FROM audit_head WHERE id = 1").one()
        if head is None:  # new log, or the head row was removed: continue from the last row
            head = tx.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").one() or (0, GENESIS)
        seq, prev = int(head[0]) + 1, head[1]
        digest = row_hash(prev, seq, ts, request_id, event, body, key)
        tx.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)", (seq, ts, request_id, event, body, prev, digest)
        )
        tx.execute(
            "INSERT INTO audit_head VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
            "hash = excluded.hash",
            (seq, digest),
        )
    return seq


def _to_row(r: tuple) -> AuditRow:
    try:
        payload = json.loads(r[4])
    except (TypeError, json.JSONDecodeError):
        payload = {"_unparseable": r[4]}
    return AuditRow(
        seq=r[0],
        ts=r[1],
        request_id=r[2],
        event=r[3],
        payload=payload if isinstance(payload, dict) else {"_value": payload},
        prev_hash=r[5],
        hash=r[6],
    )


def rows(
    request_id: str | None = None,
    *,
    event: str | None = None,
    limit: int | None = None,
    path: Path | None = None,
) -> list[AuditRow]:
    """Audit rows in sequence order, optionally for one request and/or one event type."""
    store = _store(path)
    if not store.exists():
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
    with store.transaction() as tx:
        return [_to_row(r) for r in tx.execute(sql, params).rows]


def trail(request_id: str, *, path: Path | None = None) -> list[AuditRow]:
    """A request's full trail; NotFoundError naming the id when the log has nothing for it."""
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > 200:
        raise NotFoundError(f"invalid request id {str(request_id)[:60]!r}")
    found = rows(request_id, path=path)
    if not found:
        raise NotFoundError(f"no audit events for request {request_id!r} in {_store(path).where}")
    return found


def _iter_chain(tx) -> Iterator[tuple]:
    after = 0
    while True:
        batch = tx.execute(
            "SELECT seq, ts, request_id, event, payload, prev_hash, hash FROM audit WHERE seq > ? "
            f"ORDER BY seq LIMIT {_BATCH}",
            (after,),
        ).rows
        yield from batch
        if len(batch) < _BATCH:
            return
        after = batch[-1][0]


def _walk(tx, key: bytes, want: set[int]) -> tuple[VerifyReport, dict[int, str]]:
    """Check every link and HMAC, then the head; also return the hashes of the rows in `want`."""
    head = tx.execute("SELECT seq, hash FROM audit_head WHERE id = 1").one()
    expected, prev, count, seen = 1, GENESIS, 0, {}

    def bad(seq: int, problem: str) -> tuple[VerifyReport, dict[int, str]]:
        return VerifyReport(
            ok=False,
            count=count,
            first_bad_seq=seq,
            problem=problem,
            head_seq=head[0] if head else None,
            head_hash=head[1] if head else None,
        ), seen

    for seq, ts, rid, event, payload, prev_hash, digest in _iter_chain(tx):
        if seq > expected:
            return bad(expected, f"row {expected} is missing (deleted): the next row is {seq}")
        if seq < expected:
            return bad(seq, f"row {seq} appears more than once (inserted or duplicated)")
        if prev_hash != prev:
            return bad(seq, f"row {seq} does not link to row {seq - 1} (rows deleted, inserted or reordered)")
        if not hmac.compare_digest(row_hash(prev_hash, seq, ts, rid, event, payload, key), digest):
            return bad(
                seq,
                f"row {seq} ({event}) does not match its keyed hash: edited, reordered or forged "
                "without the audit key",
            )
        if seq in want:
            seen[seq] = digest
        prev, expected, count = digest, expected + 1, count + 1
    last = expected - 1
    if head is None:
        if count:
            return bad(last, "the log head is missing (audit_head row deleted)")
    elif head[0] > last:
        return bad(
            last + 1, f"rows {last + 1}..{head[0]} are missing (deleted): the log head records {head[0]}"
        )
    elif head[0] < last or head[1] != prev:
        return bad(head[0], f"the log head (row {head[0]}) does not match the last row {last}")
    return VerifyReport(
        ok=True, count=count, head_seq=head[0] if head else None, head_hash=head[1] if head else None
    ), seen


def anchors_path() -> Path:
    """Where `anchor()` appends and `verify()` reads anchors: `$FINCOPILOT_AUDIT_ANCHORS`, else
    `home()/audit-anchors.jsonl`. Copy each new line to storage the database's operators cannot rewrite."""
    return Path(os.environ.get("FINCOPILOT_AUDIT_ANCHORS", home() / "audit-anchors.jsonl"))


def read_anchors(path: Path | None = None) -> list[Anchor | str]:
    """The anchors in `path`, in order; a line that does not parse is returned as its problem (a string)."""
    target = path or anchors_path()
    if not target.exists():
        return []
    out: list[Anchor | str] = []
    for n, line in enumerate(target.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(Anchor.model_validate_json(line))
            except ValueError:
                out.append(f"anchor line {n} of {target} is not a valid anchor")
    return out


def _check_anchors(
    report: VerifyReport, anchors: list[Anchor | str], seen: dict[int, str], key: bytes
) -> VerifyReport:
    for n, anchor in enumerate(anchors, 1):
        if isinstance(anchor, str):
            return report.model_copy(update={"ok": False, "problem": anchor})
        if not hmac.compare_digest(sign_anchor(anchor, key), anchor.sig):
            return report.model_copy(
                update={
                    "ok": False,
                    "problem": f"anchor {n} ({anchor.ts}) is not signed by the audit key: forged or edited",
                }
            )
        if report.count < anchor.seq:
            return report.model_copy(
                update={
                    "ok": False,
                    "first_bad_seq": report.count + 1,
                    "problem": f"the log holds {report.count} rows but anchor {n} ({anchor.ts}) says it held "
                    f"{anchor.seq}: the log was deleted, emptied or truncated",
                }
            )
        if anchor.seq and seen.get(anchor.seq) != anchor.hash:
            return report.model_copy(
                update={
                    "ok": False,
                    "first_bad_seq": anchor.seq,
                    "problem": f"row {anchor.seq} differs from anchor {n} ({anchor.ts}): the log was rewritten",
                }
            )
    return report.model_copy(update={"anchors_checked": len(anchors)})


def verify(path: Path | None = None, *, anchors: Path | None = None) -> VerifyReport:
    """Walk the keyed chain, then check it against every signed anchor: OK with the count, or the first
    edited, missing, inserted, reordered or forged row, or a log that holds less than an anchor says."""
    key = audit_key()
    found = read_anchors(anchors)
    want = {a.seq for a in found if isinstance(a, Anchor)}
    store = _store(path)
    if store.exists():
        with store.transaction(hold=False) as tx:
            report, seen = _walk(tx, key, want)
    else:
        report, seen = VerifyReport(ok=True, count=0), {}
    if not report.ok:
        return report
    report = _check_anchors(report, found, seen, key)
    if report.ok and not found:
        report.warning = (
            "no anchors: a deleted, emptied or truncated log cannot be told from a new one; run "
            "`fincopilot audit anchor` regularly and keep the lines outside this machine"
        )
    return report


def anchor(out: Path | None = None) -> Anchor:
    """Sign the current head (after verifying the chain) and append it to the anchors file; AuditError when
    the chain is broken (a broken log must not be anchored)."""
    report = verify(anchors=out)
    if not report.ok:
        raise AuditError(f"not anchoring a broken log: {report.problem}")
    a = Anchor(
        seq=report.head_seq or 0,
        hash=report.head_hash or GENESIS,
        ts=datetime.now(UTC).isoformat(timespec="seconds"),
        log=_store().where,
    )
    a.sig = sign_anchor(a)
    target = out or anchors_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(a.model_dump_json() + "\n")
    return a
