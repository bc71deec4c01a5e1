"""Who owns each thread, and which stateless OpenAI conversation maps to which thread.

The runner's checkpointer keeps the conversation itself; this index keeps what it cannot know: the
principal who started the thread (so advisors see only their own threads and a reviewer is never the
asker), the key that asked, and the hash of an OpenAI `messages` prefix → thread id (so a client that
resends the whole history continues the same thread). Every thread gets its owner when it is created,
by the server (the caller's principal) or by the CLI (the local operator's principal).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from fincopilot.errors import InputError
from fincopilot.state.db import state_db

CLI_KEY_ID = "-"  # thread_owners.key_id of threads started on the command line (no API key)
THREAD_ID_RULE = "thread id must be 1-100 letters, digits or . _ : -"
_THREAD_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_COLUMNS = "thread_id, key_id, name, model, title, created_at, updated_at, principal_id"


class InvalidThreadId(InputError):
    """A thread id breaks the one rule every interface applies (`THREAD_ID_RULE`)."""


def check_thread_id(thread_id: object) -> str:
    """`thread_id` when it is 1-100 letters, digits or `. _ : -`; else InvalidThreadId."""
    if not isinstance(thread_id, str) or not _THREAD_ID_RE.fullmatch(thread_id):
        raise InvalidThreadId(THREAD_ID_RULE)
    return thread_id


class ThreadOwner(BaseModel):
    thread_id: str
    principal_id: str
    key_id: str
    name: str
    model: str
    title: str
    created_at: str
    updated_at: str


def conversation_hash(key_id: str, model: str, messages: list[tuple[str, str]]) -> str:
    """Stable hash of (asker, model, user/assistant messages); whitespace at the ends of each text ignored."""
    payload = json.dumps([key_id, model, [[r, c.strip()] for r, c in messages]], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ThreadIndex:
    """Thread ownership and the OpenAI conversation map, in the state database."""

    def __init__(self, path: Path | None = None):
        self.db = state_db(path)

    def claim(
        self, thread_id: str, principal_id: str, key_id: str, name: str, model: str, title: str
    ) -> ThreadOwner:
        """Record the owner of a new thread (first writer wins) and bump `updated_at` when the caller is
        the owner; returns the owner, who may be someone else: callers compare principal ids."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db.transaction() as tx:
            tx.execute(
                f"INSERT INTO thread_owners ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (thread_id) DO NOTHING",
                (thread_id, key_id, name, model, title[:80], now, now, principal_id),
            )
            tx.execute(
                "UPDATE thread_owners SET updated_at=? WHERE thread_id=? AND principal_id=?",
                (now, thread_id, principal_id),
            )
        owner = self.owner(thread_id)
        assert owner is not None
        return owner

    def owner(self, thread_id: str) -> ThreadOwner | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM thread_owners WHERE thread_id=?", (thread_id,)).one()
        return self._owner(row) if row else None

    def threads(self, principal_id: str | None = None, limit: int = 1000) -> list[ThreadOwner]:
        """Threads newest first; only those owned by `principal_id` when given."""
        if principal_id is None:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM thread_owners ORDER BY updated_at DESC LIMIT ?", (limit,)
            ).rows
        else:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM thread_owners WHERE principal_id=? ORDER BY updated_at DESC LIMIT ?",
                (principal_id, limit),
            ).rows
        return [self._owner(r) for r in rows]

    def remember(self, prefix_hash: str, thread_id: str) -> None:
        self.db.execute(
            "INSERT INTO conversations VALUES (?, ?) ON CONFLICT (prefix_hash) "
            "DO UPDATE SET thread_id = excluded.thread_id",
            (prefix_hash, thread_id),
        )

    def lookup(self, prefix_hash: str) -> str | None:
        row = self.db.execute("SELECT thread_id FROM conversations WHERE prefix_hash=?", (prefix_hash,)).one()
        return row[0] if row else None

    def forget(self, thread_ids: list[str]) -> int:
        """Drop the owner rows and conversation map entries of `thread_ids` (retention); returns owners removed."""
        removed = 0
        with self.db.transaction() as tx:
            for tid in thread_ids:
                removed += tx.execute("DELETE FROM thread_owners WHERE thread_id=?", (tid,)).rowcount
                tx.execute("DELETE FROM conversations WHERE thread_id=?", (tid,))
        return removed

    def forget_runs(self, thread_ids: list[str]) -> int:
        """Drop the finished run records (and their events) of `thread_ids`; returns runs removed."""
        removed = 0
        with self.db.transaction() as tx:
            for tid in thread_ids:
                ids = [
                    r[0]
                    for r in tx.execute(
                        "SELECT request_id FROM runs WHERE thread_id=? AND status<>'running'", (tid,)
                    ).rows
                ]
                for rid in ids:
                    tx.execute("DELETE FROM run_events WHERE request_id=?", (rid,))
                removed += tx.execute(
                    "DELETE FROM runs WHERE thread_id=? AND status<>'running'", (tid,)
                ).rowcount
        return removed

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def _owner(row: tuple) -> ThreadOwner:
        return ThreadOwner(
            thread_id=row[0],
            key_id=row[1],
            name=row[2],
            model=row[3],
            title=row[4],
            created_at=row[5],
            updated_at=row[6],
            principal_id=row[7],
        )
