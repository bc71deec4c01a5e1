"""Several replicas of one served model (e.g. vLLM on several GPU hosts) behind one backend.

    pool = EndpointPool(["http://gpu-1:8000/v1", "http://gpu-2:8000/v1"], probe=lambda url: ...)
    endpoint = pool.acquire()             # the healthy endpoint with the fewest requests in flight
    ... call endpoint.url ...
    pool.release(endpoint, ok=True)       # ok=False: it failed to connect or timed out; rest it

Balancing is least-outstanding-requests (ties: the one used least recently). Health checks are passive (a
connection error or timeout marks an endpoint down for `cooldown_s`) and active (after the cooldown, `probe(url)`
must answer before the endpoint gets traffic again). When every endpoint is down, `acquire` raises
BackendUnavailable, which the gateway's circuit breaker and failover handle as for any backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fincopilot.errors import BackendUnavailable


@dataclass
class Endpoint:
    url: str
    outstanding: int = 0
    served: int = 0
    failures: int = 0
    down_until: float = 0.0
    last_used: float = 0.0

    @property
    def healthy(self) -> bool:
        return self.down_until <= 0.0


class EndpointPool:
    """Least-outstanding-requests balancing with passive and active health checks; thread-safe."""

    def __init__(
        self,
        urls: list[str],
        *,
        cooldown_s: float = 10.0,
        probe: Callable[[str], bool] | None = None,
        backend_id: str = "",
    ):
        if not urls:
            raise ValueError("an endpoint pool needs at least one URL")
        self.endpoints = [Endpoint(u) for u in urls]
        self.cooldown_s, self.probe, self.backend_id = cooldown_s, probe, backend_id
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.endpoints)

    def _revive(self, now: float) -> None:
        """Probe the endpoints whose cooldown has passed; the ones that answer take traffic again."""
        due = [e for e in self.endpoints if not e.healthy and e.down_until <= now]
        for e in due:
            ok = self.probe(e.url) if self.probe else True
            e.down_until = 0.0 if ok else now + self.cooldown_s

    def acquire(self, exclude: set[str] | frozenset[str] = frozenset()) -> Endpoint:
        now = time.monotonic()
        with self._lock:
            self._revive(now)
            live = [e for e in self.endpoints if e.healthy and e.url not in exclude]
            if not live:
                raise BackendUnavailable(
                    f"backend {self.backend_id!r}: no healthy endpoint "
                    f"({', '.join(e.url for e in self.endpoints)})",
                    backend_id=self.backend_id,
                )
            chosen = min(live, key=lambda e: (e.outstanding, e.last_used))
            chosen.outstanding += 1
            chosen.last_used = now
            return chosen

    def release(self, endpoint: Endpoint, *, ok: bool) -> None:
        with self._lock:
            endpoint.outstanding -= 1
            if ok:
                endpoint.served += 1
            else:
                endpoint.failures += 1
                endpoint.down_until = time.monotonic() + self.cooldown_s

    def snapshot(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {
                    "url": e.url,
                    "healthy": e.healthy,
                    "outstanding": e.outstanding,
                    "served": e.served,
                    "failures": e.failures,
                }
                for e in self.endpoints
            ]
