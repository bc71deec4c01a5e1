"""Resilience primitives: backoff with jitter, enforced timeouts, circuit breaker, bounded queue."""

from __future__ import annotations

import contextvars
import random
import threading
import time

import pytest

from fincopilot.errors import BackendTimeout, BackendUnavailable
from fincopilot.safety.resilience import CircuitBreaker, ConcurrencyLimiter, backoff_delay, call_with_timeout


def test_backoff_is_exponential_capped_and_jittered():
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(5.0, 0.2 * 2**attempt)
        draws = [backoff_delay(attempt, base_s=0.2, cap_s=5.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert len({round(d, 6) for d in draws}) > 150  # jittered, not a fixed schedule
    assert max(backoff_delay(20, rng=rng) for _ in range(100)) <= 5.0


def test_timeout_is_enforced_for_a_call_that_ignores_it():
    done = threading.Event()
    start = time.perf_counter()
    with pytest.raises(BackendTimeout, match="did not answer within 0.2 s"):
        call_with_timeout(lambda: time.sleep(1), 0.2, name="hung-backend", on_done=done.set)
    assert time.perf_counter() - start < 1.5
    assert not done.is_set() and done.wait(5)  # the worker really ends later and reports it


def test_call_with_timeout_returns_raises_and_keeps_context():
    var = contextvars.ContextVar("v", default="unset")
    var.set("request-7")
    assert call_with_timeout(lambda: var.get(), 5) == "request-7"
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 5)


def test_circuit_breaker_opens_half_opens_and_closes():
    now = [0.0]
    b = CircuitBreaker(failure_threshold=3, cooldown_s=10, clock=lambda: now[0])
    for _ in range(2):
        b.failure()
    assert b.state == "closed" and b.allow()
    b.success()
    for _ in range(3):
        b.failure()
    assert b.state == "open" and not b.allow() and b.retry_in() == 10
    now[0] = 10.0
    assert b.state == "half_open" and b.allow() and not b.allow()  # exactly one trial
    b.failure()  # trial failed: open again, cool-down restarts
    assert b.state == "open" and not b.allow()
    now[0] = 20.0
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow() and b.allow()


def test_limiter_bounds_queue_and_times_out():
    lim = ConcurrencyLimiter(2, queue_size=1)
    assert lim.try_acquire() and lim.try_acquire() and not lim.try_acquire() and lim.saturated()
    got = threading.Event()

    def waiter():
        lim.acquire(5, name="local")
        got.set()

    t = threading.Thread(target=waiter)
    t.start()
    while lim.waiting == 0:
        time.sleep(0.01)
    with pytest.raises(BackendUnavailable, match="queue is full"):
        lim.acquire(5, name="local")
    lim.release()
    assert got.wait(5)
    t.join()
    assert lim.active == 2
    with pytest.raises(BackendUnavailable, match="queue timeout of 0.1 s"):
        lim.acquire(0.1, name="local")
    lim.release()
    lim.release()
    assert lim.active == 0 and lim.try_acquire()
