"""The gateway: failover, retries with jitter, enforced timeouts, circuit breaker, overflow and queueing,
a real backend process killed mid-run, and every choice in the audit log.

Scripted backends below are FAKE models (for failures and fixed latency); the external backends are real
OpenAI-compatible HTTP servers on 127.0.0.1 reached with the real `openai` backend kind."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fincopilot.errors import BackendError, BackendUnavailable, InputError
from fincopilot.models.messages import messages
from fincopilot.models.registry import clear_instances, get_backend
from fincopilot.safety import audit
from tests.capture_server import CaptureServer
from tests.safety_helpers import backend, gateway_for, leaked, make_clients_db, settings_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_instances()
    yield
    clear_instances()


def fake(id: str, **options) -> dict:
    """A scripted FAKE local backend (replies, delay_s, fail_times)."""
    extra = {k: options.pop(k) for k in ("max_concurrency", "timeout_s", "max_retries") if k in options}
    return backend(id, kind="scripted", residency="local", options=options, **extra)


def events(rid: str) -> list[tuple[str, dict]]:
    return [(r.event, r.payload) for r in audit.rows(rid)]


def test_failover_to_next_backend_is_audited():
    cfg = settings_of(fake("broken", fail_times=100), fake("spare", replies=["from spare"]))
    out = gateway_for(cfg).complete("planner", messages("hi"), request_id="req-fo")
    assert out.text == "from spare" and out.backend_id == "spare"
    trail = events("req-fo")
    assert [e for e, _ in trail] == ["route", "backend_error", "route"]
    assert trail[0][1]["backend"] == "broken" and trail[0][1]["reason"] == "first choice in the routing chain"
    assert trail[1][1]["error_type"] == "BackendError" and "scripted failure" in trail[1][1]["error"]
    assert trail[2][1]["reason"] == "failover: broken failed" and trail[2][1]["chain"] == ["broken", "spare"]


def test_retries_with_backoff_then_success():
    delays: list[float] = []
    cfg = settings_of(
        fake("flaky", fail_times=2, max_retries=2, replies=["finally"]),
        resilience={"retry_base_s": 0.1, "retry_cap_s": 1.0},
    )
    out = gateway_for(cfg, sleep=delays.append).complete("planner", messages("hi"), request_id="req-retry")
    assert out.text == "finally" and len(delays) == 2
    assert 0 <= delays[0] <= 0.1 and 0 <= delays[1] <= 0.2
    assert [p["attempt"] for e, p in events("req-retry") if e == "backend_error"] == [0, 1]


def test_timeout_enforced_and_failover():
    cfg = settings_of(fake("slow", delay_s=5, timeout_s=0.3), fake("fast", replies=["quick"]))
    start = time.perf_counter()
    out = gateway_for(cfg).complete("planner", messages("hi"), request_id="req-to")
    assert out.text == "quick" and time.perf_counter() - start < 3
    err = [p for e, p in events("req-to") if e == "backend_error"][0]
    assert err["error_type"] == "BackendTimeout" and err["backend"] == "slow"


def test_circuit_breaker_skips_a_dead_backend_then_trials_it():
    cfg = settings_of(
        fake("dead", fail_times=3),
        fake("spare", replies=["ok"]),
        resilience={"breaker_failures": 2, "breaker_cooldown_s": 0.3},
    )
    gw = gateway_for(cfg)
    for i in range(2):
        assert gw.complete("planner", messages("x"), request_id=f"req-cb{i}").backend_id == "spare"
    assert gw.status()["dead"]["breaker"] == "open"
    assert gw.complete("planner", messages("x"), request_id="req-cb2").backend_id == "spare"
    skipped = [p for e, p in events("req-cb2") if e == "backend_error"]
    assert (
        skipped[0]["error_type"] == "circuit_open" and [e for e, _ in events("req-cb2")].count("route") == 1
    )
    time.sleep(0.35)  # cool-down over: one trial; the dead backend's 3rd failure re-opens it
    assert gw.complete("planner", messages("x"), request_id="req-cb3").backend_id == "spare"
    assert gw.status()["dead"]["breaker"] == "open"
    time.sleep(0.35)  # it has recovered (fail_times exhausted): the trial succeeds and closes the circuit
    assert gw.complete("planner", messages("x"), request_id="req-cb4").backend_id == "dead"
    assert gw.status()["dead"]["breaker"] == "closed"


def test_all_backends_failing_is_a_clear_recorded_error():
    cfg = settings_of(fake("a", fail_times=100), fake("b", fail_times=100))
    with pytest.raises(
        BackendError, match=r"every backend for skill 'planner' failed: a: .*scripted failure.* \| b:"
    ):
        gateway_for(cfg).complete("planner", messages("x"), request_id="req-dead")
    last = audit.rows("req-dead")[-1]
    assert last.event == "backend_error" and last.payload["error_type"] == "exhausted"
    with pytest.raises(InputError, match="no messages"):
        gateway_for(cfg).complete("planner", [])


def _run_concurrently(gw, n: int, text: str = "hello", skill: str = "planner"):
    def one(i: int):
        try:
            return gw.complete(skill, messages(f"{text} #{i}"), request_id=f"req-c{i}")
        except BackendError as err:
            return err

    with ThreadPoolExecutor(n) as pool:
        futures = []
        for i in range(n):
            futures.append(pool.submit(one, i))
            time.sleep(0.05)  # arrive in order
        return [f.result() for f in futures]


def test_overflow_to_external_when_local_is_saturated_and_desensitized(isolated_home):
    make_clients_db(isolated_home / "fincopilot.duckdb")
    with CaptureServer() as srv:
        cfg = settings_of(
            fake("local", delay_s=1.0, max_concurrency=1, replies=["local answer"]),
            backend("cloud", base_url=srv.base_url, max_concurrency=8),
        )
        results = _run_concurrently(gateway_for(cfg), 3, text="Client Zhang Wei 13800138000 C-1042")
    assert [r.backend_id for r in results] == ["local", "cloud", "cloud"]
    assert results[1].text == "ECHO: Client Zhang Wei 13800138000 C-1042 #1"  # restored for the advisor
    assert len(srv.bodies) == 2 and leaked(["Zhang Wei", "13800138000", "C-1042"], srv.bodies) == []
    route = [p for e, p in events("req-c1") if e == "route"][0]
    assert route["backend"] == "cloud" and route["reason"].startswith("overflow: local saturated")
    assert route["desensitized"] is True


def test_queue_mode_waits_and_a_full_queue_is_a_recorded_error():
    with CaptureServer() as srv:
        cfg = settings_of(
            fake("local", delay_s=1.0, max_concurrency=1, replies=["local"]),
            backend("cloud", base_url=srv.base_url),
            overflow={"mode": "queue", "queue_size": 1, "queue_timeout_s": 10},
        )
        results = _run_concurrently(gateway_for(cfg), 3)
    assert [getattr(r, "backend_id", None) for r in results[:2]] == ["local", "local"] and srv.bodies == []
    assert isinstance(results[2], BackendUnavailable) and "queue is full" in str(results[2])
    err = [p for e, p in events("req-c2") if e == "backend_error"][0]
    assert err["error_type"] == "queue" and err["backend"] == "local"


def test_every_backend_saturated_queues_on_the_preferred_one():
    cfg = settings_of(
        fake("l1", delay_s=0.5, max_concurrency=1, replies=["one"]),
        fake("l2", delay_s=0.5, max_concurrency=1, replies=["two"]),
    )
    results = _run_concurrently(gateway_for(cfg), 3)
    assert [r.backend_id for r in results] == ["l1", "l2", "l1"]
    assert [p["reason"] for e, p in events("req-c2") if e == "route"] == [
        "queued: every backend in the chain was saturated"
    ]


def test_queued_pass_keeps_the_failover_rule_after_a_local_failure():
    """Every backend is saturated: the request waits for the local one, which fails; the saturated external
    one is then refused as in the first pass (no `external_failover` opt-in), not queued onto."""
    with CaptureServer() as srv:
        cfg = settings_of(
            fake("local", fail_times=100, max_concurrency=1),
            backend("cloud", base_url=srv.base_url, max_concurrency=1),
        )
        gw = gateway_for(cfg)
        for spec in cfg.backends:  # another request holds each backend's only slot for a moment
            limiter = gw.health.get(spec.id, spec.max_concurrency, cfg.overflow.queue_size).limiter
            assert limiter.try_acquire()
            threading.Timer(0.2, limiter.release).start()
        with pytest.raises(BackendError, match=r"cloud: external failover not enabled for 'credit_lookup'"):
            gw.complete("credit_lookup", messages("Client Zhang Wei"), request_id="req-qfo")
    assert srv.bodies == []
    assert [p["allowed"] for e, p in events("req-qfo") if e == "residency_failover"] == [False]


def test_residency_policy_keeps_a_skill_local_even_when_saturated():
    with CaptureServer() as srv:
        cfg = settings_of(
            fake("local", delay_s=0.4, max_concurrency=1, replies=["local"]),
            backend("cloud", base_url=srv.base_url),
            routing={"credit_lookup": {"residency": ["local"]}},
        )
        results = _run_concurrently(gateway_for(cfg), 2, skill="credit_lookup")
    assert [r.backend_id for r in results] == ["local", "local"] and srv.bodies == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backend_process_killed_mid_run_loses_no_request(tmp_path):
    """A real server process is killed while requests are in flight: each request completes through
    failover or ends with a recorded error."""
    port, log = _free_port(), tmp_path / "a.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "capture_server.py"), str(port), str(log), "0.3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        with CaptureServer() as spare:
            cfg = settings_of(
                backend("cloud-a", base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=8),
                backend("cloud-b", base_url=spare.base_url, max_concurrency=8),
            )
            gw = gateway_for(cfg)
            n = 12

            def one(i: int):
                try:
                    return gw.complete("planner", messages(f"request {i}"), request_id=f"req-k{i}")
                except BackendError as err:
                    return err

            with ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(one, i) for i in range(n)]
                while not log.exists() or len(log.read_text().splitlines()) < 5:
                    time.sleep(0.02)
                proc.kill()  # mid-run: some requests are inside the server right now
                results = [f.result(timeout=60) for f in futures]
    finally:
        proc.kill()
        proc.wait()
    served = {r.backend_id for r in results if not isinstance(r, Exception)}
    assert "cloud-b" in served  # failover happened after the kill
    for i, r in enumerate(results):
        trail = events(f"req-k{i}")
        if isinstance(r, Exception):  # never silent: the failure is in the log
            assert any(e == "backend_error" and p["error_type"] == "exhausted" for e, p in trail)
        else:
            assert r.text == f"ECHO: request {i}"
            assert [p["backend"] for e, p in trail if e == "route"][-1] == r.backend_id
    failed_over = [
        i
        for i in range(n)
        if any(e == "backend_error" and p.get("backend") == "cloud-a" for e, p in events(f"req-k{i}"))
    ]
    assert failed_over and all(not isinstance(results[i], Exception) for i in failed_over)


def test_registry_instance_of_external_backend_is_protected_even_without_gateway():
    with CaptureServer() as srv:
        cfg = settings_of(backend("cloud", base_url=srv.base_url))
        out = get_backend("cloud", cfg).complete(messages("email alice.morgan@example.com"))
    assert out.text == "ECHO: email alice.morgan@example.com"
    assert json.dumps(srv.bodies).count("alice.morgan") == 0
