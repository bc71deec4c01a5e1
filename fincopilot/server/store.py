"""Server-side bookkeeping next to the runner's checkpoints: who started each thread, and which stateless
OpenAI conversation maps to which thread.

The runner's checkpointer keeps the conversation itself; this file only keeps what the runner cannot know:
the API key that asked (so a reviewer can never be the asker, and advisors only see their own threads),
and the hash of an OpenAI `messages` prefix → thread id (so a client that resends the whole history
continues the same thread).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from fincopilot.server.keys import open_server_db


class ThreadOwner(BaseModel):
    thread_id: str
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
    """Thread ownership and the OpenAI conversation map (SQLite, default `home()/server.sqlite`)."""

    def __init__(self, path: Path | None = None):
        self.path, self._conn = open_server_db(path)
        self._lock = threading.Lock()
        self._conn.execute(
            """CREATE TABLE IF NOT EXISTS thread_owners (
                 thread_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL,
                 title TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"""
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS conversations (prefix_hash TEXT PRIMARY KEY, thread_id TEXT NOT NULL)"
        )

    def claim(self, thread_id: str, key_id: str, name: str, model: str, title: str) -> ThreadOwner:
        """Record the asker of a new thread (first writer wins) and bump `updated_at`; returns the owner."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO thread_owners VALUES (?, ?, ?, ?, ?, ?, ?)",
                (thread_id, key_id, name, model, title[:80], now, now),
            )
            self._conn.execute("UPDATE thread_owners SET updated_at=? WHERE thread_id=?", (now, thread_id))
        owner = self.owner(thread_id)
        assert owner is not None
        return owner

    def owner(self, thread_id: str) -> ThreadOwner | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM thread_owners WHERE thread_id=?", (thread_id,)).fetchone()
        return self._owner(row) if row else None

    def threads(self, key_id: str | None = None) -> list[ThreadOwner]:
        """Threads newest first; only those started by `key_id` when given."""
        with self._lock:
            if key_id is None:
                rows = self._conn.execute("SELECT * FROM thread_owners ORDER BY updated_at DESC").fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT * FROM thread_owners WHERE key_id=? ORDER BY updated_at DESC", (key_id,)
                ).fetchall()
        return [self._owner(r) for r in rows]

    def remember(self, prefix_hash: str, thread_id: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO conversations VALUES (?, ?)", (prefix_hash, thread_id))

    def lookup(self, prefix_hash: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT thread_id FROM conversations WHERE prefix_hash=?", (prefix_hash,)
            ).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _owner(row: tuple) -> ThreadOwner:
        return ThreadOwner(thread_id=row[0], key_id=row[1], name=row[2], model=row[3], title=row[4],
                           created_at=row[5], updated_at=row[6])
