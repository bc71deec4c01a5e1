"""The gateway: every model call goes through here.

For a skill it asks the router for the chain of backends (best first) and then, per backend:

- residency: a backend the router's `residency_verdict` refuses for the skill (not an allowed residency, or
  external after a local failure without the skill's `external_failover` opt-in) is skipped; an `external`
  backend is always desensitized, with one pseudonym map per request so the same client gets the same token in every call;
- circuit breaker: a backend whose circuit is open is skipped until its cool-down ends;
- concurrency: each backend has `max_concurrency` slots; when they are all busy the request overflows to
  the next eligible backend (`overflow.mode = "overflow"`), or waits in a bounded queue
  (`"queue"`, or when every backend in the chain is saturated); a full queue or a queue timeout is a
  clear BackendUnavailable;
- timeout: `timeout_s` is enforced here (the call runs in a worker thread), even for backends that ignore it;
- retries: transient errors are retried `max_retries` times with exponential backoff and full jitter;
  schema errors, timeouts and refusals fail over to the next backend instead.

Every choice is audited: a `route` event (backend, reason, chain, residency) before each call and a
`backend_error` event for each failure, so no request is lost silently: it completes through failover
or ends with a recorded BackendError naming every backend's failure.

Desensitization happens one layer down, in the outbound gate (`models/outbound.py`) that every
backend call passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from fincopilot.config import BackendSpec, Settings
from fincopilot.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    FinCopilotError,
    InputError,
    StructuredOutputError,
)
from fincopilot.log import current_request_id, get_logger
from fincopilot.models.messages import Completion, Message
from fincopilot.models.registry import get_backend
from fincopilot.models.router import (
    BASELINE_KIND,
    RoutedToBaseline,
    Router,
    default_router,
    residency_verdict,
    resolve_spec,
)
from fincopilot.safety import audit
from fincopilot.safety.desensitize import (
    pseudonym_scope,
)
from fincopilot.safety.injection import scan_messages
from fincopilot.safety.resilience import (
    BackendHealth,
    HealthRegistry,
    backoff_delay,
    call_with_timeout,
    shared_health,
)

log = get_logger(__name__)

# Kinds whose client already retries transient HTTP errors itself (the openai client does): the gateway does
# not multiply those retries.
_SELF_RETRYING_KINDS = frozenset({"openai"})


class _Failed(Exception):
    """Internal: one backend is done for this request (already recorded); try the next."""

    def __init__(self, summary: str, unavailable: bool):
        super().__init__(summary)
        self.summary = summary
        self.unavailable = unavailable


@dataclass
class _Request:
    """One `Gateway.complete` call: what it sends, and what happened to each backend so far."""

    skill: str
    rid: str | None
    cfg: Settings
    router_reason: str
    invoke: Callable[[Any], Completion]
    chain: list[BackendSpec] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    all_unavailable: bool = True
    previous: str | None = None  # what happened to the backend tried before (for the next one's reason)
    local_failed: bool = False


class Gateway:
    """Routes each model call, enforcing residency, limits, timeouts, retries and failover; audits every choice."""

    def __init__(
        self,
        router: Router | None = None,
        *,
        health: HealthRegistry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.router = router or default_router()
        self.health = health or shared_health()
        self._sleep = sleep

    # --- public ---------------------------------------------------------------------------------
    def complete(
        self,
        skill: str,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
        request_id: str | None = None,
    ) -> Completion:
        """Answer `messages` with the best available backend for `skill`; BackendError when none can. `seed`
        makes a sampled answer (temperature > 0) reproducible on kinds that can seed (a server's: given the same
        prompt-cache state and no concurrent batch)."""
        if not messages:
            raise InputError(f"no messages to send for skill {skill!r}")
        rid = request_id or current_request_id()
        # untrusted text (fenced by the workers) is checked on every call; hits are audited, not fatal:
        # the allowlist in SkillContext.call_tool is what stops an injected tool call.
        scan_messages(messages, request_id=rid, skill=skill)
        decision = self.router.route(skill)
        req = _Request(
            skill=skill,
            rid=rid,
            cfg=self.router.config,
            router_reason=decision.reason,
            invoke=lambda b: b.complete(
                messages, schema=schema, max_tokens=max_tokens, temperature=temperature, seed=seed
            ),
        )
        req.chain = self._eligible(req, decision.chain)
        log.info("route", skill=skill, chain=[s.id for s in req.chain], reason=decision.reason)
        with pseudonym_scope(rid):
            saturated: list[tuple[BackendSpec, BackendHealth]] = []
            done = self._first_pass(req, saturated)
            if done is None:
                done = self._queued_pass(req, saturated)
        if done is not None:
            return done
        raise self._exhausted(req)

    def status(self) -> dict[str, dict[str, object]]:
        """Breaker state and busy/waiting slots per backend (for status pages and `models list`)."""
        return self.health.snapshot()

    # --- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _eligible(req: _Request, backend_ids: Sequence[str]) -> list[BackendSpec]:
        """The routed backends that exist and whose residency the skill allows (the others are failures)."""
        chain: list[BackendSpec] = []
        for backend_id in backend_ids:
            try:
                spec = resolve_spec(backend_id, req.cfg)
            except FinCopilotError as err:
                req.failures.append(f"{backend_id}: {err}")
                audit.record(
                    "backend_error",
                    request_id=req.rid,
                    skill=req.skill,
                    backend=backend_id,
                    error_type="config",
                    error=str(err),
                )
                continue
            refusal = residency_verdict(spec, req.skill, req.cfg).refusal
            if refusal:
                req.failures.append(f"{backend_id}: {refusal}")
                continue
            chain.append(spec)
        return chain

    def _first_pass(
        self, req: _Request, saturated: list[tuple[BackendSpec, BackendHealth]]
    ) -> Completion | None:
        """Each backend in order (failover, overflow); the saturated ones are collected for a queued pass."""
        for i, spec in enumerate(req.chain):
            if self._failover_blocked(req, spec):
                continue
            if spec.kind == BASELINE_KIND:
                self._to_baseline(spec, req.skill, req.rid, req.router_reason, self._reason(i, req.previous))
            health = self._health(spec, req.cfg)
            if self._slot(req, spec, health, saturated):
                done = self._attempt(req, spec, health, self._reason(i, req.previous))
                if done is not None:
                    return done
        return None

    def _queued_pass(
        self, req: _Request, saturated: list[tuple[BackendSpec, BackendHealth]]
    ) -> Completion | None:
        """Every backend was saturated (or failed after some were): wait for the preferred saturated one that
        the residency rule still allows (a local backend may have failed since the first pass)."""
        for spec, health in saturated:
            if self._failover_blocked(req, spec):
                continue
            try:
                self._queue(health, spec, req.cfg, req.skill, req.rid)
            except BackendUnavailable as err:
                req.failures.append(f"{spec.id}: {err}")
                continue
            if not health.breaker.allow():
                health.limiter.release()
                continue
            done = self._attempt(req, spec, health, "queued: every backend in the chain was saturated")
            if done is not None:
                return done
        return None

    def _slot(
        self,
        req: _Request,
        spec: BackendSpec,
        health: BackendHealth,
        saturated: list[tuple[BackendSpec, BackendHealth]],
    ) -> bool:
        """Hold one of `spec`'s slots (queue mode waits); False when it is skipped for now."""
        if health.breaker.state == "open":
            msg = f"circuit open (retry in {health.breaker.retry_in():.1f} s)"
            req.failures.append(f"{spec.id}: {msg}")
            audit.record(
                "backend_error",
                request_id=req.rid,
                skill=req.skill,
                backend=spec.id,
                error_type="circuit_open",
                error=msg,
            )
            req.previous = f"{spec.id} circuit open"
            req.local_failed |= spec.residency == "local"
            return False
        if not health.limiter.try_acquire():
            if req.cfg.overflow.mode == "overflow":
                saturated.append((spec, health))
                req.previous = f"{spec.id} saturated ({health.limiter.active}/{health.limiter.limit} busy)"
                log.info("overflow", skill=req.skill, backend=spec.id)
                return False
            self._queue(
                health, spec, req.cfg, req.skill, req.rid
            )  # queue mode: wait here; a full queue raises
        if not health.breaker.allow():  # half-open and another trial is already out
            health.limiter.release()
            req.failures.append(f"{spec.id}: circuit half-open, trial in progress")
            return False
        return True

    def _attempt(
        self, req: _Request, spec: BackendSpec, health: BackendHealth, reason: str
    ) -> Completion | None:
        """The backend's answer, or None when it failed (the failure is recorded on `req`)."""
        try:
            return self._call_backend(spec, health, req, reason)
        except _Failed as failed:
            req.failures.append(f"{spec.id}: {failed.summary}")
            req.all_unavailable &= failed.unavailable
            req.previous = f"{spec.id} failed"
            req.local_failed |= spec.residency == "local"
            return None

    @staticmethod
    def _exhausted(req: _Request) -> BackendError:
        """The error naming every backend's failure (audited)."""
        detail = " | ".join(req.failures) or "the routing chain is empty"
        audit.record(
            "backend_error",
            request_id=req.rid,
            skill=req.skill,
            backend=None,
            error_type="exhausted",
            error=f"every backend for skill {req.skill!r} failed",
            failures=req.failures,
        )
        error_cls = BackendUnavailable if req.all_unavailable else BackendError
        return error_cls(f"every backend for skill {req.skill!r} failed: {detail}")

    def _health(self, spec: BackendSpec, cfg: Settings) -> BackendHealth:
        r = cfg.resilience
        return self.health.get(
            spec.id, spec.max_concurrency, cfg.overflow.queue_size, r.breaker_failures, r.breaker_cooldown_s
        )

    @staticmethod
    def _failover_blocked(req: _Request, spec: BackendSpec) -> bool:
        """Whether the router's residency rule refuses `spec` now that earlier backends may have failed; a
        crossing from a failed local backend to an external one is audited either way."""
        verdict = residency_verdict(spec, req.skill, req.cfg, local_failed=req.local_failed)
        if verdict.crossing:
            allowed = verdict.refusal is None
            audit.record(
                "residency_failover",
                request_id=req.rid,
                skill=req.skill,
                backend=spec.id,
                allowed=allowed,
                reason="a local backend failed"
                + ("" if allowed else "; external_failover is off for this skill"),
            )
        if verdict.refusal:
            req.failures.append(f"{spec.id}: {verdict.refusal}")
        return verdict.refusal is not None

    @staticmethod
    def _reason(index: int, previous: str | None) -> str:
        if index == 0 or previous is None:
            return "first choice in the routing chain"
        if "saturated" in previous:
            return f"overflow: {previous}"
        return f"failover: {previous}"

    @staticmethod
    def _to_baseline(spec: BackendSpec, skill: str, rid: str | None, router_reason: str, reason: str) -> None:
        """A call routed to a classical baseline: audit the choice; the worker answers with its own rules."""
        audit.record(
            "route",
            request_id=rid,
            skill=skill,
            backend=spec.id,
            residency=spec.residency,
            desensitized=False,
            reason=reason,
            router_reason=router_reason,
            chain=[spec.id],
        )
        raise RoutedToBaseline(
            f"skill {skill!r} is routed to its classical baseline {spec.id} ({reason}; "
            f"router: {router_reason})"
        )

    def _queue(
        self, health: BackendHealth, spec: BackendSpec, cfg: Settings, skill: str, rid: str | None
    ) -> None:
        try:
            health.limiter.acquire(cfg.overflow.queue_timeout_s, name=spec.id)
        except BackendUnavailable as err:
            audit.record(
                "backend_error",
                request_id=rid,
                skill=skill,
                backend=spec.id,
                error_type="queue",
                error=str(err),
            )
            raise

    def _call_backend(
        self, spec: BackendSpec, health: BackendHealth, req: _Request, reason: str
    ) -> Completion:
        """Call one backend (slot already held) with timeout and retries. Raises _Failed when it is done."""
        audit.record(
            "route",
            request_id=req.rid,
            skill=req.skill,
            backend=spec.id,
            residency=spec.residency,
            desensitized=spec.residency == "external",
            reason=reason,
            router_reason=req.router_reason,
            chain=[s.id for s in req.chain],
        )
        try:
            backend = get_backend(spec.id, req.cfg)
        except Exception as err:  # noqa: BLE001 - a backend that cannot even be built is a failed backend
            health.limiter.release()
            health.breaker.failure()
            self._record_error(req.rid, req.skill, spec.id, 0, err)
            raise _Failed(str(err), unavailable=True) from None
        retries = 0 if spec.kind in _SELF_RETRYING_KINDS else spec.max_retries
        resilience = req.cfg.resilience
        last: BaseException | None = None
        for attempt in range(retries + 1):
            if attempt:
                self._sleep(
                    backoff_delay(attempt - 1, base_s=resilience.retry_base_s, cap_s=resilience.retry_cap_s)
                )
                if not health.breaker.allow():
                    break
                try:
                    health.limiter.acquire(req.cfg.overflow.queue_timeout_s, name=spec.id)
                except BackendUnavailable as err:
                    last = err
                    break
            outcome = self._try_once(backend, spec, health, req, attempt)
            if isinstance(outcome, Completion):
                return outcome
            last = outcome
            if isinstance(outcome, FinCopilotError) and not isinstance(outcome, BackendError):
                break  # configuration or input problems do not get better by retrying
        summary = f"{type(last).__name__}: {last}" if last is not None else "circuit opened during retries"
        raise _Failed(summary, unavailable=isinstance(last, BackendUnavailable))

    def _try_once(
        self, backend: Any, spec: BackendSpec, health: BackendHealth, req: _Request, attempt: int
    ) -> Completion | BaseException:
        """One call under the timeout: the answer, or the error worth a retry; _Failed when retrying cannot help."""
        start = time.perf_counter()
        try:
            result = call_with_timeout(
                lambda: req.invoke(backend), spec.timeout_s, name=spec.id, on_done=health.limiter.release
            )
        except StructuredOutputError as err:
            # the backend is healthy, its answer did not fit the schema: another backend may do better
            health.breaker.success()
            self._record_error(req.rid, req.skill, spec.id, attempt, err)
            raise _Failed(str(err), unavailable=False) from None
        except (BackendTimeout, BackendUnavailable) as err:
            health.breaker.failure()
            self._record_error(req.rid, req.skill, spec.id, attempt, err, elapsed=time.perf_counter() - start)
            raise _Failed(str(err), unavailable=True) from None
        except Exception as err:  # noqa: BLE001 - a dying backend may raise anything; never lose the request
            health.breaker.failure()
            self._record_error(req.rid, req.skill, spec.id, attempt, err)
            return err
        health.breaker.success()
        log.info("backend_ok", skill=req.skill, backend=spec.id, attempt=attempt, latency_s=result.latency_s)
        return result

    @staticmethod
    def _record_error(
        rid: str | None, skill: str, backend_id: str, attempt: int, err: BaseException, **extra: Any
    ) -> None:
        log.warning("backend_failed", skill=skill, backend=backend_id, attempt=attempt, error=str(err))
        audit.record(
            "backend_error",
            request_id=rid,
            skill=skill,
            backend=backend_id,
            attempt=attempt,
            error_type=type(err).__name__,
            error=str(err)[:2000],
            **extra,
        )


_default: Gateway | None = None


def default_gateway() -> Gateway:
    global _default
    if _default is None:
        _default = Gateway()
    return _default
