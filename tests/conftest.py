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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server():
    """A REAL OpenAI-compatible server (llama-cpp-python) on 127.0.0.1 serving the embedded SmolLM2 GGUF.

    Yields its base URL (`http://127.0.0.1:PORT/v1`). Skipped when llama-cpp-python[server] is missing.
    """
    import importlib.util
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip("llama-cpp-python[server] is not installed (pip install 'fincopilot[dev]')")
    from fincopilot.models.backends.transformers import resolve_model_ref

    folder, gguf = resolve_model_ref("embedded:smollm2-135m")
    port = _free_port()
    log_file = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"fincopilot-llama-server-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(Path(folder) / gguf), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "2048"],
        stdout=log_file, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama-cpp-python server exited with {proc.returncode}; see {log_file.name}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama-cpp-python server did not start within 120 s; see {log_file.name}")
            time.sleep(0.3)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()


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
