"""The openai backend against a REAL OpenAI-compatible server (llama.cpp's, from xllamacpp, on 127.0.0.1), plus
failure modes against real sockets: a server that never answers, and a port nobody listens on."""

from __future__ import annotations

import socket
import threading
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, StringConstraints

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError
from fincopilot.models.backends.openai import OpenAIBackend
from fincopilot.models.messages import messages
from fincopilot.models.registry import build_backend


class Rating(BaseModel):
    risk: Literal["low", "medium", "high"]
    drivers: list[Annotated[str, StringConstraints(min_length=1, max_length=24)]] = Field(max_length=3)
    summary: str = Field(min_length=1, max_length=60)
    score: int = Field(ge=0, le=100)


def spec(base_url: str, **fields) -> BackendSpec:
    options = {"base_url": base_url, **fields.pop("options", {})}
    return BackendSpec(id="local-llama", kind="openai", model="smollm2", options=options, **fields)


def test_plain_round_trip(llama_server):
    backend = build_backend(spec(llama_server, max_concurrency=2))
    done = backend.complete(messages("What is a bond? One sentence."), max_tokens=16)
    assert done.text.strip() and done.backend_id == "local-llama" and done.model == "smollm2"
    assert done.usage.prompt_tokens > 0 and 0 < done.usage.completion_tokens <= 16
    assert done.finish_reason in ("stop", "length")


def test_a_seed_reaches_the_server_and_makes_a_sample_reproducible(llama_server):
    backend = build_backend(spec(llama_server))
    prompt = messages("Write one sentence about a bond fund.")
    texts = [backend.complete(prompt, max_tokens=24, temperature=1.0, seed=s).text for s in (1, 1, 1, 2, 3)]
    assert texts[1] == texts[2]  # the server's prompt cache is warm from the first call on
    assert len(set(texts[2:])) >= 2  # other seeds, other samples


def test_structured_round_trip_auto_mode(llama_server):
    backend = build_backend(spec(llama_server, max_concurrency=2))
    prompts = [
        "Rate the risk of the HY-7 high-yield bond fund; its default rate rose to 3.1%.",
        "客户C-1042的信用评分为712，请评估风险。",
        "A money market fund yielding 1.9% with daily liquidity.",
        "该公司资产负债率从45%上升到72%。",
    ]
    system = "Reply with JSON: risk (low|medium|high), drivers (short phrases), summary, score (0-100)."
    results = backend.complete_batch(
        [messages(p, system=system) for p in prompts], schema=Rating, max_tokens=100
    )
    assert [type(r.parsed) for r in results] == [Rating] * len(prompts)
    # llama.cpp's C++ server honours response_format json_schema: auto mode settled on it
    assert backend.structured_mode == "json_schema"


def test_structured_explicit_json_object_mode(llama_server):
    backend = build_backend(spec(llama_server, options={"structured_mode": "json_object"}))
    done = backend.complete(messages("Rate a 10-year government bond."), schema=Rating, max_tokens=100)
    assert isinstance(done.parsed, Rating) and done.finish_reason == "stop"


def test_stream_round_trip(llama_server):
    backend = build_backend(spec(llama_server))
    pieces = list(backend.stream(messages("Name two kinds of bonds."), max_tokens=16))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_http_error_status_is_a_backend_error(llama_server):
    backend = build_backend(spec(llama_server.removesuffix("/v1") + "/nope", max_retries=0))
    with pytest.raises(BackendError, match="HTTP 404"):
        backend.complete(messages("hi"), max_tokens=4)


@pytest.fixture()
def silent_server():
    """A TCP server that accepts connections and never answers; yields (base_url, accepted list)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1", accepted
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def test_timeout_against_a_server_that_never_answers(silent_server):
    base_url, accepted = silent_server
    backend = build_backend(spec(base_url, timeout_s=0.5, max_retries=1))
    with pytest.raises(BackendTimeout, match=r"did not answer within timeout_s=0.5 after 1 retries"):
        backend.complete(messages("hello"), max_tokens=4)
    assert len(accepted) == 2  # the first attempt and one retry (with the client's backoff between)


def test_nobody_listening_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    backend = build_backend(spec(f"http://127.0.0.1:{port}/v1", max_retries=0, timeout_s=2))
    with pytest.raises(BackendUnavailable, match=f"cannot reach http://127.0.0.1:{port}/v1"):
        backend.complete(messages("hello"), max_tokens=4)


def test_config_errors_are_clear(monkeypatch):
    monkeypatch.delenv("FINCOPILOT_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="FINCOPILOT_TEST_KEY"):
        OpenAIBackend(spec("http://127.0.0.1:1/v1", options={"api_key_env": "FINCOPILOT_TEST_KEY"}))
    with pytest.raises(ConfigError, match="structured_mode"):
        OpenAIBackend(spec("http://127.0.0.1:1/v1", options={"structured_mode": "yaml"}))
    monkeypatch.setenv("FINCOPILOT_TEST_KEY", "sk-test")
    assert (
        OpenAIBackend(spec("http://127.0.0.1:1/v1", options={"api_key_env": "FINCOPILOT_TEST_KEY"}))._api_key
        == "sk-test"
    )
