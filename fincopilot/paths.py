"""Where FinCopilot keeps its state: `$FINCOPILOT_HOME`, default `~/.fincopilot`."""

from __future__ import annotations

import os
from pathlib import Path

from fincopilot.errors import ConfigError


def home() -> Path:
    """The state folder (database, audit log, checkpoints, routing table, adapters), created on demand."""
    path = Path(os.environ.get("FINCOPILOT_HOME", Path.home() / ".fincopilot")).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"cannot create the state folder {path} (FINCOPILOT_HOME): {err.strerror or err}; "
            "set FINCOPILOT_HOME to a writable folder"
        ) from None
    return path


def db_path() -> Path:
    """The domain DuckDB file (`fincopilot data init` creates it)."""
    return Path(os.environ.get("FINCOPILOT_DB", home() / "fincopilot.duckdb"))
