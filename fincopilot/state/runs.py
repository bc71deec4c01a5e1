"""The run ledger: every server run holds a lease, renewed by a heartbeat, and records its events.

    ledger = RunLedger(replica="host-a:1234")
    rec, new = ledger.begin(request_id=..., principal_id=..., idempotency_key="k1", thread_id=..., ...)
    ledger.heartbeat_many({rec.request_id})  # every lease_s / 3 while it runs; returns the ones lost
    ledger.record_event(rec.request_id, event_json)
    ledger.finish(rec.request_id, "done")

A replica that dies stops renewing; once `lease_until` passes, another replica `take_over`s the run (one
wins: the update is conditional) and continues it from its last checkpoint. A client retrying with the same
idempotency key finds the run (`by_key`) and gets its one result: replayed when finished, followed while it
runs. A thread runs one request at a time across all replicas (a unique index on running runs per thread).
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from pydantic import BaseModel

from fincopilot.errors import FinCopilotError
from fincopilot.state.db import StateDB, state_db

_COLUMNS = (
    "request_id, principal_id, idempotency_key, thread_id, model, kind, input, status, replica, "
    "lease_until, attempts, created_at, updated_at"
)


def lease_seconds() -> float:
    """How long a lease lasts without a heartbeat (`$FINCOPILOT_LEASE_S`, default 15 s)."""
    return float(os.environ.get("FINCOPILOT_LEASE_S", "15"))


def replica_name() -> str:
    """This process as a replica: `$FINCOPILOT_REPLICA`, else `host:pid`."""
    return os.environ.get("FINCOPILOT_REPLICA") or f"{socket.gethostname()}:{os.getpid()}"


class ThreadBusy(FinCopilotError):
    """The thread is already running a request (on this or another replica)."""


class RunRecord(BaseModel):
    request_id: str
    principal_id: str
    idempotency_key: str | None
    thread_id: str
    model: str
    kind: str
    input: dict[str, Any]
    status: str
    replica: str | None
    lease_until: float
    attempts: int
    created_at: float
    updated_at: float


def _record(row: tuple) -> RunRecord:
    names = [c.strip() for c in _COLUMNS.split(",")]
    data = dict(zip(names, row, strict=True))
    data["input"] = json.loads(data["input"])
    return RunRecord(**data)


class RunLedger:
    """Runs, leases and recorded events in the state database."""

    def __init__(
        self, db: StateDB | None = None, *, replica: str | None = None, lease_s: float | None = None
    ):
        self.db = db or state_db()
        self.replica = replica or replica_name()
        self.lease_s = lease_s if lease_s is not None else lease_seconds()

    def begin(
        self,
        *,
        request_id: str,
        principal_id: str,
        idempotency_key: str | None,
        thread_id: str,
        model: str,
        kind: str,
        input: dict[str, Any],
    ) -> tuple[RunRecord, bool]:
        """Start a run holding the lease: (record, True); or the existing run with this idempotency key:
        (it, False). ThreadBusy when the thread is running another request."""
        now = time.time()
        inserted = self.db.execute(
            f"INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, 1, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                request_id,
                principal_id,
                idempotency_key,
                thread_id,
                model,
                kind,
                json.dumps(input),
                self.replica,
                now + self.lease_s,
                now,
                now,
            ),
        ).rowcount
        if inserted:
            return self.get(request_id), True
        existing = self.by_key(principal_id, idempotency_key) if idempotency_key else None
        if existing is not None:
            return existing, False
        raise ThreadBusy(f"thread {thread_id} is already answering a request; wait for it to finish")

    def get(self, request_id: str) -> RunRecord | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM runs WHERE request_id=?", (request_id,)).one()
        return _record(row) if row else None

    def by_key(self, principal_id: str, idempotency_key: str) -> RunRecord | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM runs WHERE principal_id=? AND idempotency_key=?",
            (principal_id, idempotency_key),
        ).one()
        return _record(row) if row else None

    def heartbeat_many(self, request_ids: set[str]) -> set[str]:
        """Renew every lease in `request_ids` in one transaction; returns those no longer ours."""
        now, gone = time.time(), set()
        if not request_ids:
            return gone
        with self.db.transaction() as tx:
            for rid in sorted(request_ids):
                if (
                    tx.execute(
                        "UPDATE runs SET lease_until=?, updated_at=? WHERE request_id=? AND replica=? "
                        "AND status='running'",
                        (now + self.lease_s, now, rid, self.replica),
                    ).rowcount
                    != 1
                ):
                    gone.add(rid)
        return gone

    def take_over(self, request_id: str) -> bool:
        """Claim a running run whose lease expired; True for the one replica that wins."""
        now = time.time()
        return (
            self.db.execute(
                "UPDATE runs SET replica=?, lease_until=?, attempts=attempts+1, updated_at=? "
                "WHERE request_id=? AND status='running' AND lease_until < ?",
                (self.replica, now + self.lease_s, now, request_id, now),
            ).rowcount
            == 1
        )

    def expired(self, limit: int = 20) -> list[RunRecord]:
        """Running runs whose lease has passed (their replica died), oldest first."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM runs WHERE status='running' AND lease_until < ? "
            "ORDER BY lease_until LIMIT ?",
            (time.time(), limit),
        ).rows
        return [_record(r) for r in rows]

    def finish(self, request_id: str, status: str) -> bool:
        """Mark the run `done` or `failed` if this replica still holds it."""
        return (
            self.db.execute(
                "UPDATE runs SET status=?, updated_at=? WHERE request_id=? AND replica=? AND status='running'",
                (status, time.time(), request_id, self.replica),
            ).rowcount
            == 1
        )

    def record_event(self, request_id: str, body: str) -> None:
        with self.db.transaction() as tx:
            tx.lock(f"run:{request_id}")
            n = tx.execute(
                "SELECT COALESCE(MAX(n), -1) + 1 FROM run_events WHERE request_id=?", (request_id,)
            ).rows[0][0]
            tx.execute("INSERT INTO run_events VALUES (?, ?, ?)", (request_id, n, body))

    def events(self, request_id: str, after: int = -1) -> list[tuple[int, str]]:
        """(n, event JSON) recorded for the run after index `after`."""
        return [
            (int(r[0]), r[1])
            for r in self.db.execute(
                "SELECT n, body FROM run_events WHERE request_id=? AND n > ? ORDER BY n", (request_id, after)
            ).rows
        ]
