"""Helpers for the safety tests: configs with real HTTP backends, the known-clients database."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from fincopilot.config import Settings, parse_settings
from fincopilot.models.gateway import Gateway
from fincopilot.models.router import Router
from fincopilot.safety.pii import canonical_value, find_pii
from fincopilot.safety.resilience import HealthRegistry

CLIENTS = [
    ("C-1042", "Zhang Wei", "张伟"),
    ("C-2077", "Wang Fang", "王芳"),
    ("C-3310", "Li Na", "李娜"),
    ("C-4400", "Alice Morgan", "艾丽斯"),
    ("C-5501", "Robert Chen", "陈罗伯"),
]


def make_clients_db(path: Path) -> Path:
    """A domain database with a `clients` table shaped like tools/data.py's (name_en, name_zh)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE IF NOT EXISTS clients (client_id VARCHAR PRIMARY KEY, name_en VARCHAR, name_zh VARCHAR)"
    )
    con.executemany("INSERT OR REPLACE INTO clients VALUES (?, ?, ?)", CLIENTS)
    con.close()
    return path


def backend(
    id: str, *, kind: str = "openai", residency: str = "external", base_url: str | None = None, **fields: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": id,
        "kind": kind,
        "model": "capture" if kind == "openai" else "scripted",
        "residency": residency,
        "max_retries": 0,
        "timeout_s": 20,
    }
    options = fields.pop("options", {})
    if base_url:
        options["base_url"] = base_url
    spec["options"] = options
    spec.update(fields)
    return spec


def settings_of(*backends: dict[str, Any], default: str | None = None, **extra: Any) -> Settings:
    return parse_settings(
        {"default_backend": default or backends[0]["id"], "backends": list(backends), **extra}, "test config"
    )


def gateway_for(cfg: Settings, **kw: Any) -> Gateway:
    """A gateway with its own breaker/limiter state (tests must not share health)."""
    return Gateway(
        Router(cfg),
        health=HealthRegistry(cfg.resilience.breaker_failures, cfg.resilience.breaker_cooldown_s),
        **kw,
    )


def leaked(secrets: list[str], bodies: list[dict]) -> list[str]:
    """Secrets found in what was sent: verbatim, or in canonical form (digits without separators, folded names)."""
    out = []
    for body in bodies:
        for msg in body.get("messages", []):
            content = msg.get("content") or ""
            squashed = re.sub(r"[\s\-()]", "", content)
            folded = " ".join(content.split()).casefold()
            for secret in secrets:
                kinds = {m.kind for m in find_pii(secret, [secret])} or {"name"}
                keys = {canonical_value(k, secret) for k in kinds}
                if secret in content or any(k and (k in squashed or k in folded) for k in keys):
                    out.append(secret)
    return sorted(set(out))
