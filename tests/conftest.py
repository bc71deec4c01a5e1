"""Shared fixtures. Every test runs with its own FINCOPILOT_HOME so state never leaks between tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """A fresh state folder per test (database, audit log, checkpoints, routing table)."""
    home = tmp_path / "fincopilot-home"
    monkeypatch.setenv("FINCOPILOT_HOME", str(home))
    monkeypatch.delenv("FINCOPILOT_CONFIG", raising=False)
    monkeypatch.delenv("FINCOPILOT_DB", raising=False)
    from fincopilot import config

    config.use_config(None)
    yield home
    config.use_config(None)


@pytest.fixture(scope="session")
def smollm2():
    """The real embedded SmolLM2-135M backend, loaded once per test session."""
    from fincopilot.config import settings
    from fincopilot.models.registry import build_backend

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return build_backend(settings().backend("smollm2-135m"))
