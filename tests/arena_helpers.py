"""Helpers for the arena/router tests: a config file with scripted FAKE backends (named as such)."""

from __future__ import annotations

import json
from pathlib import Path

QUIET = json.dumps({"flags": []})
# a FAKE compliance model that flags the word "fund" everywhere: verbatim, so it survives validation, but wrong
NOISY = json.dumps({"flags": [{"category": "misleading_claim", "quote": "fund"}]})


def write_config(folder: Path, *, extra: str = "", routing: str = "") -> Path:
    """TOML config: the embedded default plus scripted FAKE backends `fake-quiet`, `fake-noisy`, `fake-down`."""
    path = folder / "arena-test.toml"
    path.write_text(
        f"""
default_backend = "smollm2-135m"

[[backends]]
id = "smollm2-135m"
kind = "transformers"
model = "embedded:smollm2-135m"

[[backends]]
id = "fake-quiet"
kind = "scripted"
model = "scripted"
options = {{ replies = [{json.dumps(QUIET)}] }}

[[backends]]
id = "fake-noisy"
kind = "scripted"
model = "scripted"
cost_per_1k_tokens = 0.5
options = {{ replies = [{json.dumps(NOISY)}] }}

[[backends]]
id = "fake-down"
kind = "scripted"
model = "scripted"
max_retries = 0
options = {{ fail_times = 1000 }}
{extra}

[resilience]
retry_base_s = 0
retry_cap_s = 0
{routing}
""",
        encoding="utf-8",
    )
    return path


def use(path: Path) -> None:
    from fincopilot import config
    from fincopilot.models.registry import clear_instances

    config.use_config(path)
    clear_instances()


def scripted_calls(backend_id: str) -> int:
    from fincopilot.models.registry import get_backend

    b = get_backend(backend_id)
    inner = getattr(b, "_inner", None) or getattr(b, "inner", None) or b
    return len(getattr(inner, "calls", getattr(b, "calls", [])))
