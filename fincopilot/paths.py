"""Where FinCopilot keeps its state: `$FINCOPILOT_HOME`, default `~/.fincopilot`."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The state folder (database, audit log, checkpoints, routing table, adapters), created on demand."""
    path = Path(os.environ.get("FINCOPILOT_HOME", Path.home() / ".fincopilot")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path() -> Path:
    """The domain DuckDB file (`fincopilot data init` creates it)."""
    return Path(os.environ.get("FINCOPILOT_DB", home() / "fincopilot.duckdb"))
