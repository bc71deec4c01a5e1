"""Principals: the stable identity of a person, carried by their API keys and owning their threads.

A principal has an id (`p-<uuid>`), a unique *handle* and a display name. Decisions about who someone is
(self-review, thread ownership) compare principal ids, never display names. The handle is normalized so
that variants of one name ("ann lee", "Ann  Lee", "LEE, Ann", full-width letters, zero-width characters)
resolve to the same principal: two keys created for name variants are one person, and cannot approve each
other's answers. Two different people with the same name get distinct handles (`--principal ann.lee@bank`).
The local operator of the CLI is the principal with handle `local:<OS user>`.
"""

from __future__ import annotations

import getpass
import re
import unicodedata
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel

from fincopilot.errors import InputError, NotFoundError
from fincopilot.state.db import StateDB

_SEPARATORS = re.compile(r"[\s.,;_\-·]+")


class Principal(BaseModel):
    principal_id: str
    handle: str
    display_name: str
    created_at: str


def normalize_handle(text: str) -> str:
    """NFKC, case-folded, format characters removed, tokens split on spaces/punctuation and sorted."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    if folded.startswith(("local:", "key:")):
        return folded.strip()
    tokens = [t for t in _SEPARATORS.split(folded) if t]
    if not tokens:
        raise InputError(f"principal handle {text!r} is empty once normalized")
    return " ".join(sorted(tokens))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Principals:
    """Look up or create principals in the state database."""

    def __init__(self, db: StateDB):
        self.db = db

    def get(self, principal_id: str) -> Principal:
        row = self.db.execute(
            "SELECT principal_id, handle, display_name, created_at FROM principals WHERE principal_id=?",
            (principal_id,),
        ).one()
        if row is None:
            raise NotFoundError(f"no principal {principal_id!r} (see `fincopilot keys list`)")
        return Principal(principal_id=row[0], handle=row[1], display_name=row[2], created_at=row[3])

    def by_handle(self, handle: str) -> Principal | None:
        row = self.db.execute(
            "SELECT principal_id, handle, display_name, created_at FROM principals WHERE handle=?",
            (normalize_handle(handle),),
        ).one()
        return (
            Principal(principal_id=row[0], handle=row[1], display_name=row[2], created_at=row[3])
            if row
            else None
        )

    def ensure(self, handle: str, display_name: str) -> tuple[Principal, bool]:
        """The principal with this (normalized) handle, created if new; returns (principal, created)."""
        norm = normalize_handle(handle)
        new_id = "p-" + uuid.uuid4().hex
        inserted = self.db.execute(
            "INSERT INTO principals VALUES (?, ?, ?, ?) ON CONFLICT (handle) DO NOTHING",
            (new_id, norm, display_name, _now()),
        ).rowcount
        found = self.by_handle(norm)
        assert found is not None
        return found, bool(inserted) and found.principal_id == new_id

    def resolve(self, ref: str, display_name: str) -> tuple[Principal, bool]:
        """`ref` is a principal id (`p-...`, must exist) or a handle (looked up or created)."""
        if ref.startswith("p-"):
            return self.get(ref), False
        return self.ensure(ref, display_name)


def local_operator_handle() -> str:
    """The handle of whoever runs the CLI on this machine: `local:<OS user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"local:{user}"


def local_operator(db: StateDB) -> Principal:
    """The local operator's principal (created on first use)."""
    handle = local_operator_handle()
    return Principals(db).ensure(handle, f"{handle[6:]} (local operator)")[0]
