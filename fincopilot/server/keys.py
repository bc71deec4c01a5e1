"""API keys with roles, stored hashed in the state database (SQLite under `home()`, or PostgreSQL).

A key looks like `fck_<key id>_<secret>`. Only the key id, the role, a name, the key's principal and the
SHA-256 of the whole key are stored; the plaintext is shown once, when the key is created. The key id is
public (it names the key in lists, audit records and revocations); the secret has 192 bits of entropy, so a
plain SHA-256 (no salt, no slow KDF) is enough: there is nothing to brute-force.

Every key carries a principal id (`fincopilot.state.principals`): the person behind it. Self-review and
thread ownership are decided on principal ids, never on display names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from fincopilot.errors import InputError, NotFoundError
from fincopilot.state.db import state_db
from fincopilot.state.principals import Principal, Principals

Role = Literal["advisor", "compliance_officer"]
ROLES: tuple[str, ...] = ("advisor", "compliance_officer")
_KEY_RE = re.compile(r"^fck_([0-9a-f]{8})_([A-Za-z0-9_-]{20,64})$")
_NAME_RE = re.compile(r"^[\w .@'-]{1,80}$", re.UNICODE)
_COLUMNS = "key_id, role, name, created_at, revoked_at, last_used_at, principal_id"


class ApiKey(BaseModel):
    """A stored key (never its plaintext)."""

    key_id: str
    role: Role
    name: str
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None
    principal_id: str

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def identity(self) -> str:
        """How a person appears in audit records: `name (key id)`."""
        return f"{self.name} ({self.key_id})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def hash_key(key: str) -> str:
    """SHA-256 hex digest of the full key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Create, verify, list and revoke API keys. Thread-safe; the state database (default
    `home()/server.sqlite`, or PostgreSQL when a database URL is configured)."""

    def __init__(self, path: Path | None = None):
        self.db = state_db(path)
        self.path = Path(self.db.target) if self.db.engine == "sqlite" else None
        self.principals = Principals(self.db)

    # --- management -------------------------------------------------------------------------
    def create(self, role: str, name: str | None = None, principal: str | None = None) -> tuple[ApiKey, str]:
        """Make a new key; returns the stored record and the plaintext key (the only time it exists).

        `principal` is a principal id (`p-...`) or a handle (e.g. an e-mail); without it the normalized
        name is the handle, so keys for "ann lee" and "Ann Lee" are one principal. A key without a name
        gets a principal of its own.
        """
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        given = (name or "").strip()
        name = given or role
        if not _NAME_RE.match(name):
            raise InputError("key name must be 1-80 letters, digits, spaces or . @ ' - _")
        while True:
            key_id = secrets.token_hex(4)
            if self.db.execute("SELECT 1 FROM api_keys WHERE key_id=?", (key_id,)).one() is None:
                break
        handle = principal or (given if given else f"key:{key_id}")
        owner, _ = self.principals.resolve(handle, name)
        plaintext = f"fck_{key_id}_{secrets.token_urlsafe(24)}"
        record = ApiKey(
            key_id=key_id,
            role=role,
            name=name,
            created_at=_now(),  # type: ignore[arg-type]
            principal_id=owner.principal_id,
        )
        self.db.execute(
            "INSERT INTO api_keys (key_id, key_hash, role, name, created_at, principal_id) VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, hash_key(plaintext), role, name, record.created_at, owner.principal_id),
        )
        return record, plaintext

    def principal(self, key: ApiKey) -> Principal:
        return self.principals.get(key.principal_id)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id; it stops working at once. Revoking twice is an error naming the date."""
        key = self.get(key_id)
        if key.revoked_at:
            raise InputError(f"key {key_id} was already revoked at {key.revoked_at}")
        self.db.execute("UPDATE api_keys SET revoked_at=? WHERE key_id=?", (_now(), key_id))
        return self.get(key_id)

    def get(self, key_id: str) -> ApiKey:
        if not re.fullmatch(r"[0-9a-f]{8}", key_id or ""):
            raise InputError(
                f"malformed key id {key_id!r}: expected 8 hex digits (see `fincopilot keys list`)"
            )
        row = self.db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id=?", (key_id,)).one()
        if row is None:
            raise NotFoundError(f"no API key with id {key_id}")
        return self._record(row)

    def list(self) -> list[ApiKey]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").rows
        return [self._record(r) for r in rows]

    # --- verification -----------------------------------------------------------------------
    def verify(self, key: str | None) -> ApiKey | None:
        """The active key record for a presented plaintext key, or None (unknown, malformed or revoked)."""
        match = _KEY_RE.match((key or "").strip())
        if not match:
            return None
        row = self.db.execute(
            f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_id=?", (match.group(1),)
        ).one()
        # compare_digest: the comparison time does not reveal how much of the hash matched
        if row is None or row[4] is not None or not hmac.compare_digest(row[7], hash_key(key.strip())):
            return None
        self.db.execute("UPDATE api_keys SET last_used_at=? WHERE key_id=?", (_now(), row[0]))
        return self._record(row[:7])

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def _record(row: tuple) -> ApiKey:
        return ApiKey(
            key_id=row[0],
            role=row[1],
            name=row[2],
            created_at=row[3],
            revoked_at=row[4],
            last_used_at=row[5],
            principal_id=row[6],
        )
