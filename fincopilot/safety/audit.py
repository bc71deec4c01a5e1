"""Audit log (placeholder interface; the hash-chained DuckDB implementation lands with issue 8)."""

from __future__ import annotations

from typing import Any


def record(event: str, *, request_id: str | None = None, **payload: Any) -> None:
    """Append one audit event for `request_id`."""
