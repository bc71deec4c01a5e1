"""The documented deployment (deploy/): docker cannot run on this machine, so the compose file, the nginx
configuration and the config files are checked for what the deployment relies on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from fincopilot.config import parse_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_compose_has_postgres_two_replicas_a_proxy_and_vllm():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "migrate", "replica-a", "replica-b", "proxy", "vllm"} <= set(services)
    a, b = services["replica-a"], services["replica-b"]
    for replica in (a, b):
        env = replica["environment"]
        assert (
            env["FINCOPILOT_DATABASE_URL"].startswith("postgresql://")
            and "@postgres:5432/" in env["FINCOPILOT_DATABASE_URL"]
        )
        assert "FINCOPILOT_AUDIT_KEY" in env and replica["command"][:2] == ["fincopilot", "serve"]
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert a["environment"]["FINCOPILOT_DATABASE_URL"] == b["environment"]["FINCOPILOT_DATABASE_URL"]
    assert a["environment"]["FINCOPILOT_REPLICA"] != b["environment"]["FINCOPILOT_REPLICA"]
    assert "db upgrade" in " ".join(services["migrate"]["command"])
    assert services["vllm"]["profiles"] == ["gpu"] and services["postgres"]["image"].startswith("postgres:")


def test_nginx_balances_both_replicas_and_streams_events():
    conf = (DEPLOY / "nginx.conf").read_text()
    assert re.findall(r"server (replica-[ab]):8000", conf) == ["replica-a", "replica-b"]
    assert "proxy_buffering off" in conf and "proxy_read_timeout 3600s" in conf


def test_deploy_configs_validate():
    for name in ("fincopilot.toml", "fincopilot-gpu.toml"):
        settings = parse_settings(tomllib.loads((DEPLOY / name).read_text()), name)
        assert settings.backends
    gpu = parse_settings(tomllib.loads((DEPLOY / "fincopilot-gpu.toml").read_text()))
    assert gpu.backend("vllm-local").options["base_urls"] == ["http://vllm:8000/v1"]
