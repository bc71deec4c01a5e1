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


@pytest.fixture(scope="session")
def llama_server():
    """A REAL OpenAI-compatible HTTP server (llama.cpp's C++ server from xllamacpp) on 127.0.0.1 serving the
    embedded SmolLM2 GGUF. Yields its base URL (`http://127.0.0.1:PORT/v1`). Skipped without xllamacpp.
    """
    import time

    import httpx

    xllamacpp = pytest.importorskip("xllamacpp")
    from fincopilot.models.backends.llamacpp import default_threads, gguf_path

    params = xllamacpp.CommonParams()
    params.model.path = gguf_path("embedded:smollm2-135m")
    params.model_alias = {"smollm2"}
    params.n_ctx = 4096
    params.n_parallel = 4
    params.kv_unified = True
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = default_threads()
    params.verbosity = -1
    server = xllamacpp.Server(params)  # listens on a free 127.0.0.1 port as soon as it is built
    base_url = f"{server.listening_address}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"llama.cpp server at {base_url} did not answer within 60 s")
        time.sleep(0.2)
    yield base_url
    del server


@pytest.fixture(scope="module")
def db_file(tmp_path_factory):
    """A domain DuckDB file made by `data init`, one per test module."""
    from fincopilot.tools import data

    path = tmp_path_factory.mktemp("domain") / "bank.duckdb"
    data.init_db(path)
    return path


@pytest.fixture
def db(db_file, monkeypatch):
    """The module's database as the default database of this test."""
    monkeypatch.setenv("FINCOPILOT_DB", str(db_file))
    return db_file


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's binaries) on a loopback port for the session; skips, saying why,
    where none can start (tests/pg_helpers.py)."""
    from pg_helpers import PostgresServer

    server, why = PostgresServer.start()
    if server is None:
        pytest.skip(why)
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server, monkeypatch):
    """A fresh PostgreSQL database for one test, set as FINCOPILOT_DATABASE_URL (the state backend)."""
    from fincopilot.safety import audit
    from fincopilot.state import db

    url = postgres_server.create_database()
    monkeypatch.setenv("FINCOPILOT_DATABASE_URL", url)
    yield url
    audit.flush()
    db.close_all()
    postgres_server.drop_database(url)
