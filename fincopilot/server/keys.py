"""API keys with roles, stored hashed in SQLite under `home()`.

A key looks like `fck_<key id>_<secret>`. Only the key id, the role, a name and the SHA-256 of the whole
key are stored; the plaintext is shown once, when the key is created. The key id is public (it names the
key in lists, audit records and revocations); the secret has 192 bits of entropy, so a plain SHA-256 (no
salt, no slow KDF) is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from fincopilot.errors import InputError, NotFoundError
from fincopilot.paths import home

Role = Literal["advisor", "compliance_officer"]
ROLES: tuple[str, ...] = ("advisor", "compliance_officer")
_KEY_RE = re.compile(r"^fck_([0-9a-f]{8})_([A-Za-z0-9_-]{20,64})$")
_NAME_RE = re.compile(r"^[\w .@'-]{1,80}$", re.UNICODE)


class ApiKey(BaseModel):
    """A stored key (never its plaintext)."""

    key_id: str
    role: Role
    name: str
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def identity(self) -> str:
        """How a person appears in audit records: `name (key id)`."""
        return f"{self.name} ({self.key_id})"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_server_db(path: Path | None = None) -> tuple[Path, sqlite3.Connection]:
    """The server's SQLite file (default `home()/server.sqlite`), shared by keys and threads; WAL, autocommit."""
    path = Path(path) if path else home() / "server.sqlite"
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return path, conn


def hash_key(key: str) -> str:
    """SHA-256 hex digest of the full key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Create, verify, list and revoke API keys. Thread-safe; one SQLite file (default `home()/server.sqlite`)."""

    def __init__(self, path: Path | None = None):
        self.path, self._conn = open_server_db(path)
        self._lock = threading.Lock()
        self._conn.execute(
            """CREATE TABLE IF NOT EXISTS api_keys (
                 key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL,
                 created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT)"""
        )

    # --- management -------------------------------------------------------------------------
    def create(self, role: str, name: str | None = None) -> tuple[ApiKey, str]:
        """Make a new key; returns the stored record and the plaintext key (the only time it exists)."""
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        name = (name or "").strip() or role
        if not _NAME_RE.match(name):
            raise InputError("key name must be 1-80 letters, digits, spaces or . @ ' - _")
        with self._lock:
            while True:
                key_id = secrets.token_hex(4)
                if self._conn.execute("SELECT 1 FROM api_keys WHERE key_id=?", (key_id,)).fetchone() is None:
                    break
            plaintext = f"fck_{key_id}_{secrets.token_urlsafe(24)}"
            record = ApiKey(key_id=key_id, role=role, name=name, created_at=_now())  # type: ignore[arg-type]
            self._conn.execute(
                "INSERT INTO api_keys (key_id, key_hash, role, name, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_id, hash_key(plaintext), role, name, record.created_at),
            )
        return record, plaintext

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id; it stops working at once. Revoking twice is an error naming the date."""
        key = self.get(key_id)
        if key.revoked_at:
            raise InputError(f"key {key_id} was already revoked at {key.revoked_at}")
        with self._lock:
            self._conn.execute("UPDATE api_keys SET revoked_at=? WHERE key_id=?", (_now(), key_id))
        return self.get(key_id)

    def get(self, key_id: str) -> ApiKey:
        if not re.fullmatch(r"[0-9a-f]{8}", key_id or ""):
            raise InputError(f"malformed key id {key_id!r}: expected 8 hex digits (see `fincopilot keys list`)")
        with self._lock:
            row = self._conn.execute(
                "SELECT key_id, role, name, created_at, revoked_at, last_used_at FROM api_keys WHERE key_id=?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no API key with id {key_id}")
        return self._record(row)

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key_id, role, name, created_at, revoked_at, last_used_at FROM api_keys ORDER BY created_at"
            ).fetchall()
        return [self._record(r) for r in rows]

    # --- verification -----------------------------------------------------------------------
    def verify(self, key: str | None) -> ApiKey | None:
        """The active key record for a presented plaintext key, or None (unknown, malformed or revoked)."""
        match = _KEY_RE.match((key or "").strip())
        if not match:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT key_id, role, name, created_at, revoked_at, last_used_at, key_hash FROM api_keys "
                "WHERE key_id=?",
                (match.group(1),),
            ).fetchone()
            # compare_digest: the comparison time does not reveal how much of the hash matched
            if row is None or row[4] is not None or not hmac.compare_digest(row[6], hash_key(key.strip())):
                return None
            self._conn.execute("UPDATE api_keys SET last_used_at=? WHERE key_id=?", (_now(), row[0]))
        return self._record(row[:6])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _record(row: tuple) -> ApiKey:
        return ApiKey(key_id=row[0], role=row[1], name=row[2], created_at=row[3], revoked_at=row[4],
                      last_used_at=row[5])
