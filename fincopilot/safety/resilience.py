"""Resilience primitives the gateway uses for every backend: timeouts, retries, circuit breaker, concurrency.

- `call_with_timeout(fn, timeout_s)`: runs `fn` in a worker thread and stops waiting after `timeout_s`, so the
  timeout holds even for a backend that ignores it (a hung HTTP read, a model stuck in generation). The
  thread cannot be killed; it finishes in the background and its result is dropped.
- `backoff_delay(attempt)`: exponential backoff with full jitter (AWS style): a uniform draw in
  [0, min(cap, base * 2**attempt)], so clients that failed together do not retry together.
- `CircuitBreaker`: opens after `failure_threshold` consecutive failures; after `cooldown_s` it lets one trial
  call through (half-open); success closes it, failure re-opens it.
- `ConcurrencyLimiter`: at most `max_concurrency` calls at once per backend; `try_acquire()` never waits (the
  gateway then overflows to the next backend), `acquire(timeout)` waits in a bounded queue and raises
  `BackendUnavailable` when the queue is full or the wait times out.

Small enough to own: libraries like tenacity/pybreaker each cover one piece, and the gateway needs the pieces
to cooperate (a slot held until the worker thread really ends, breaker state shared by all gateways).
"""

from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from fincopilot.errors import BackendTimeout, BackendUnavailable

T = TypeVar("T")


def backoff_delay(
    attempt: int, *, base_s: float = 0.2, cap_s: float = 5.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (0-based): full jitter on an exponential ceiling."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt)))
    return (rng or random).uniform(0.0, ceiling)


def call_with_timeout(
    fn: Callable[[], T], timeout_s: float, *, name: str = "call", on_done: Callable[[], None] | None = None
) -> T:
    """Run `fn()` in a daemon thread (with the caller's context variables); raise BackendTimeout after
    `timeout_s`. `on_done` runs in the worker when `fn` really finishes (e.g. to free a concurrency slot)."""
    box: dict[str, object] = {}
    done = threading.Event()
    ctx = contextvars.copy_context()

    def work() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box["error"] = err
        finally:
            done.set()
            if on_done is not None:
                on_done()

    thread = threading.Thread(target=work, name=f"fincopilot-{name}", daemon=True)
    thread.start()
    if not done.wait(timeout_s):
        raise BackendTimeout(f"{name} did not answer within {timeout_s:g} s", backend_id=name)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Consecutive-failure circuit breaker with a cool-down and a single half-open trial."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        """May a call go through now? In half-open state only one trial call at a time."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_out:
                self._trial_out = True
                return True
            return False

    def retry_in(self) -> float:
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial_out = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_out or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()  # (re-)open and restart the cool-down
            self._trial_out = False

    def release_trial(self) -> None:
        """A half-open trial ended without a verdict on health (e.g. a schema error): allow another."""
        with self._lock:
            self._trial_out = False


class ConcurrencyLimiter:
    """At most `limit` concurrent holders; waiting callers form a queue of at most `queue_size`."""

    def __init__(self, limit: int, queue_size: int = 0):
        self.limit = max(1, limit)
        self.queue_size = max(0, queue_size)
        self._cond = threading.Condition()
        self._active = 0
        self._waiting = 0

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        return self._waiting

    def saturated(self) -> bool:
        with self._cond:
            return self._active >= self.limit

    def try_acquire(self) -> bool:
        with self._cond:
            if self._active < self.limit:
                self._active += 1
                return True
            return False

    def acquire(self, timeout_s: float, *, name: str = "backend") -> None:
        """Wait for a slot; BackendUnavailable when `queue_size` callers already wait or after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            if self._active < self.limit:
                self._active += 1
                return
            if self._waiting >= self.queue_size:
                raise BackendUnavailable(
                    f"{name} is saturated ({self._active}/{self.limit} busy) and its queue is full "
                    f"({self._waiting}/{self.queue_size} waiting)",
                    backend_id=name,
                )
            self._waiting += 1
            try:
                while self._active >= self.limit:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._cond.wait(left):
                        if self._active < self.limit:
                            break
                        raise BackendUnavailable(
                            f"{name} is saturated: no slot freed within the queue timeout of {timeout_s:g} s",
                            backend_id=name,
                        )
                self._active += 1
            finally:
                self._waiting -= 1

    def release(self) -> None:
        with self._cond:
            self._active = max(0, self._active - 1)
            self._cond.notify()


@dataclass
class BackendHealth:
    """Shared per-backend state: its breaker and its concurrency limiter."""

    breaker: CircuitBreaker
    limiter: ConcurrencyLimiter
    signature: tuple = field(default=())


class HealthRegistry:
    """Breakers and limiters per backend id, shared by every gateway in the process (one local model,
    one bound, however many gateways call it). Rebuilt when a backend's limits change in the config."""

    def __init__(self, failure_threshold: int = 3, cooldown_s: float = 30.0):
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._lock = threading.Lock()
        self._by_id: dict[str, BackendHealth] = {}

    def get(
        self,
        backend_id: str,
        max_concurrency: int,
        queue_size: int,
        failure_threshold: int | None = None,
        cooldown_s: float | None = None,
    ) -> BackendHealth:
        signature = (max_concurrency, queue_size)
        with self._lock:
            health = self._by_id.get(backend_id)
            if health is None or health.signature != signature:
                breaker = (
                    health.breaker if health else CircuitBreaker(self.failure_threshold, self.cooldown_s)
                )
                health = BackendHealth(breaker, ConcurrencyLimiter(max_concurrency, queue_size), signature)
                self._by_id[backend_id] = health
            if failure_threshold is not None:
                health.breaker.failure_threshold = max(1, failure_threshold)
            if cooldown_s is not None:
                health.breaker.cooldown_s = cooldown_s
            return health

    def snapshot(self) -> dict[str, dict[str, object]]:
        """State per backend, for status pages: breaker state, busy slots, waiting callers."""
        with self._lock:
            items = list(self._by_id.items())
        return {
            bid: {
                "breaker": h.breaker.state,
                "active": h.limiter.active,
                "waiting": h.limiter.waiting,
                "limit": h.limiter.limit,
            }
            for bid, h in items
        }

    def reset(self) -> None:
        with self._lock:
            self._by_id.clear()


_shared = HealthRegistry()


def shared_health() -> HealthRegistry:
    return _shared
