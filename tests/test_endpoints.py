"""One `openai` backend over several endpoints (issue 15, model-serving scale): least-outstanding-requests
balancing, passive and active health checks, failover to the next endpoint, all through the official `openai`
client against real HTTP servers on 127.0.0.1. The servers are scripted FAKE OpenAI-compatible servers
(FastAPI; they echo a fixed reply after an optional delay) so the balancing, not a model, is measured."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from server_fakes import LiveServer, free_port

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendUnavailable
from fincopilot.models.endpoints import EndpointPool
from fincopilot.models.messages import messages
from fincopilot.models.registry import build_backend


def fake_openai_server(name: str, delay_s: float = 0.0) -> tuple[FastAPI, list[str]]:
    """A scripted FAKE OpenAI-compatible server: answers `name` after `delay_s`; records each request."""
    app, seen = FastAPI(), []

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": "served", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat() -> dict:
        seen.append(name)
        await asyncio.sleep(delay_s)
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "served",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": name}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    return app, seen


def backend_for(urls: list[str], **options):
    spec = BackendSpec(
        id="vllm-pool",
        kind="openai",
        model="served",
        max_concurrency=16,
        timeout_s=5,
        max_retries=0,
        options={"base_urls": urls, **options},
    )
    return build_backend(spec)


def test_least_outstanding_requests_sends_more_to_the_faster_endpoint():
    slow_app, slow_seen = fake_openai_server("slow", delay_s=0.4)
    fast_app, fast_seen = fake_openai_server("fast", delay_s=0.0)
    with LiveServer(slow_app) as slow, LiveServer(fast_app) as fast:
        backend = backend_for([slow.url + "/v1", fast.url + "/v1"])
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda i: backend.complete(messages(f"q{i}"), max_tokens=4).text, range(40))
            )
    assert sorted(set(answers)) == ["fast", "slow"] and len(answers) == 40
    assert len(fast_seen) > 2 * len(slow_seen) > 0  # round-robin would split 20/20
    snap = backend.endpoints.snapshot()
    assert all(e["outstanding"] == 0 and e["healthy"] for e in snap)


def test_a_dead_endpoint_is_skipped_probed_and_readmitted():
    app, _ = fake_openai_server("alive")
    dead_port = free_port()
    with LiveServer(app) as alive:
        backend = backend_for(
            [f"http://127.0.0.1:{dead_port}/v1", alive.url + "/v1"], endpoint_cooldown_s=0.5
        )
        answers = [backend.complete(messages("hi"), max_tokens=4).text for _ in range(6)]
        assert answers == ["alive"] * 6
        dead = next(e for e in backend.endpoints.snapshot() if str(dead_port) in e["url"])
        assert dead["failures"] == 1 and not dead["healthy"]  # marked down once, then skipped
        revived_app, revived_seen = fake_openai_server("revived")
        with LiveServer(revived_app, port=dead_port):
            time.sleep(0.6)  # the cooldown passes; the next call probes GET /models first
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: backend.complete(messages("hi"), max_tokens=4), range(8)))
        assert revived_seen, "the endpoint that came back was not readmitted"


def test_all_endpoints_down_is_backend_unavailable_for_the_breaker():
    backend = backend_for([f"http://127.0.0.1:{free_port()}/v1", f"http://127.0.0.1:{free_port()}/v1"])
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        backend.complete(messages("hi"), max_tokens=4)
    with pytest.raises(BackendUnavailable, match="no healthy endpoint"):
        backend.complete(messages("hi"), max_tokens=4)


def test_pool_balances_by_outstanding_count():
    pool = EndpointPool(["a", "b", "c"])
    held = [pool.acquire() for _ in range(3)]
    assert sorted(e.url for e in held) == ["a", "b", "c"]
    pool.release(held[1], ok=True)
    assert pool.acquire().url == held[1].url  # the only one with nothing in flight
    pool.release(held[0], ok=False)
    assert all(pool.acquire().url != held[0].url for _ in range(3))
