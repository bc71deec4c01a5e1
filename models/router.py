"""The router: for each skill, an ordered chain of backend ids (best first, then fallbacks).

Order of precedence:

1. a config pin (`[routing.<skill>] pin = "..."`) always wins;
2. the promoted routing table `home()/routing.json` (written by `fincopilot arena promote` from the latest
   arena results): per skill, the best-scoring backend that meets the skill's `SkillPolicy` (min_score,
   max_p95_latency_s, max_cost_per_1k_tokens, residency), then the other eligible backends by score; the
   running router re-reads the file when its mtime changes (no restart) and re-checks residency and the
   configured backends at route time, since the config may have changed since the promotion;
3. otherwise the default backend followed by the other configured backends the policy allows.

Every decision carries its reason (scores, and which constraint excluded which backend) and is logged.
Baselines (`baseline:*`) compete in the arena but are not backends: chains hold backend ids only.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from fincopilot.config import Settings, SkillPolicy, settings
from fincopilot.errors import ConfigError
from fincopilot.log import get_logger

log = get_logger(__name__)

BASELINE_PREFIX = "baseline:"


class RoutingDecision(BaseModel):
    skill: str
    chain: list[str]
    reason: str
    source: str = "default"  # pin | table | default | pinned-router
    scores: dict[str, float] = Field(default_factory=dict)
    excluded: dict[str, str] = Field(default_factory=dict)


class CandidateStats(BaseModel):
    """What the arena measured for one backend on one skill (the router's evidence)."""

    backend: str
    score: float
    p95_latency_s: float | None = None
    items: int = 0
    errors: int = 0


class SkillRoute(BaseModel):
    chain: list[str]
    scores: dict[str, float] = Field(default_factory=dict)
    excluded: dict[str, str] = Field(default_factory=dict)
    run_id: str | None = None
    dataset_version: str | None = None
    reason: str = ""


class RoutingTable(BaseModel):
    generated_at: str
    skills: dict[str, SkillRoute] = Field(default_factory=dict)


_PATH_CACHE: dict[tuple[str | None, str | None], Path] = {}


def routing_path() -> Path:
    """`$FINCOPILOT_ROUTING`, else `home()/routing.json` (resolved once per environment: route() is hot)."""
    key = (os.environ.get("FINCOPILOT_ROUTING"), os.environ.get("FINCOPILOT_HOME"))
    path = _PATH_CACHE.get(key)
    if path is None:
        from fincopilot.paths import home

        path = _PATH_CACHE[key] = Path(key[0]) if key[0] else home() / "routing.json"
    return path


def policy_exclusion(stats: CandidateStats, policy: SkillPolicy, cfg: Settings) -> str | None:
    """Why `stats.backend` may not serve under `policy` (None when it may)."""
    try:
        spec = cfg.backend(stats.backend)
    except Exception:  # noqa: BLE001 - unknown id: not configured (any more)
        return "not a configured backend"
    if spec.residency not in policy.residency:
        return f"residency {spec.residency!r} not in {policy.residency}"
    if stats.score < policy.min_score:
        return f"score {stats.score:.3f} < min_score {policy.min_score}"
    if policy.max_p95_latency_s is not None and (stats.p95_latency_s or 0.0) > policy.max_p95_latency_s:
        return f"p95 latency {stats.p95_latency_s:.2f}s > max {policy.max_p95_latency_s}s"
    if policy.max_cost_per_1k_tokens is not None and spec.cost_per_1k_tokens > policy.max_cost_per_1k_tokens:
        return f"cost {spec.cost_per_1k_tokens}/1k tokens > max {policy.max_cost_per_1k_tokens}"
    return None


def route_for_skill(skill: str, stats: list[CandidateStats], cfg: Settings, *, run_id: str | None = None,
                    dataset_version: str | None = None) -> SkillRoute:
    """Rank the measured backends of one skill: eligible ones by score (then latency, id); say why others
    were left out. Baselines are reported as excluded (they are not backends)."""
    policy = cfg.policy(skill)
    eligible: list[CandidateStats] = []
    excluded: dict[str, str] = {}
    scores = {s.backend: round(s.score, 4) for s in stats}
    for s in stats:
        if s.backend.startswith(BASELINE_PREFIX):
            excluded[s.backend] = "classical baseline (not a backend)"
            continue
        why = policy_exclusion(s, policy, cfg)
        if why:
            excluded[s.backend] = why
        else:
            eligible.append(s)
    eligible.sort(key=lambda s: (-s.score, s.p95_latency_s or 0.0, s.backend))
    chain = [s.backend for s in eligible]
    best_baseline = max((s for s in stats if s.backend.startswith(BASELINE_PREFIX)), key=lambda s: s.score,
                        default=None)
    if chain:
        reason = f"best eligible: {chain[0]} (score {scores[chain[0]]:.3f})"
        if best_baseline is not None and best_baseline.score > scores[chain[0]]:
            reason += f"; note: {best_baseline.backend} scores higher ({best_baseline.score:.3f})"
    else:
        reason = "no measured backend meets the policy"
    return SkillRoute(chain=chain, scores=scores, excluded=excluded, run_id=run_id, dataset_version=dataset_version,
                      reason=reason)


def write_routing_table(table: RoutingTable, path: Path | None = None) -> Path:
    """Write atomically (temp file + rename) so a running router never reads half a file."""
    p = path or routing_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + f".tmp{os.getpid()}")
    tmp.write_text(table.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, p)
    return p


def new_table(skills: dict[str, SkillRoute]) -> RoutingTable:
    return RoutingTable(generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), skills=skills)


class Router:
    """Chooses the backend chain per skill; see the module doc for the precedence."""

    def __init__(self, config: Settings | None = None, table_path: Path | str | None = None):
        self._config = config
        self._table_path = Path(table_path) if table_path is not None else None
        self._lock = threading.Lock()
        self._table: RoutingTable | None = None
        self._table_key: tuple[str, int] | None = None
        self._table_error: str | None = None

    @property
    def config(self) -> Settings:
        return self._config or settings()

    @property
    def table_path(self) -> Path:
        return self._table_path or routing_path()

    def table(self) -> RoutingTable | None:
        """The promoted routing table, re-read whenever the file's mtime (or path) changes."""
        path = self.table_path
        try:
            st = path.stat()
        except OSError:
            with self._lock:
                self._table, self._table_key = None, None
            return None
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key == self._table_key:
                return self._table
            try:
                table = RoutingTable.model_validate_json(path.read_text(encoding="utf-8"))
                self._table_error = None
            except (OSError, ValidationError, ValueError) as err:
                # a broken file must not stop routing: keep serving from the config and say why
                table = None
                self._table_error = f"routing table {path} unreadable: {str(err).splitlines()[0][:200]}"
                log.warning("routing_table_invalid", path=str(path), error=self._table_error)
            self._table, self._table_key = table, key
            if table is not None:
                log.info("routing_table_loaded", path=str(path), generated_at=table.generated_at,
                         skills=sorted(table.skills))
            return table

    def route(self, skill: str) -> RoutingDecision:
        cfg = self.config
        policy = cfg.policy(skill)
        if policy.pin:
            decision = RoutingDecision(skill=skill, chain=[policy.pin], reason=f"pinned by config to {policy.pin}",
                                       source="pin")
            log.info("route_decision", skill=skill, chain=decision.chain, reason=decision.reason)
            return decision
        table = self.table()
        entry = table.skills.get(skill) if table is not None else None
        if entry is not None:
            chain: list[str] = []
            excluded = dict(entry.excluded)
            known = {b.id: b for b in cfg.backends}
            for backend in entry.chain:
                spec = known.get(backend)
                if spec is None:
                    excluded[backend] = "no longer configured"
                elif spec.residency not in policy.residency:
                    excluded[backend] = f"residency {spec.residency!r} not in {policy.residency}"
                elif backend not in chain:
                    chain.append(backend)
            if chain:
                scores = ", ".join(f"{b}={entry.scores.get(b, float('nan')):.3f}" for b in chain)
                out = "; ".join(f"{b}: {why}" for b, why in excluded.items())
                reason = (f"arena run {entry.run_id}: {entry.reason}; chain by score [{scores}]"
                          + (f"; excluded: {out}" if out else ""))
                decision = RoutingDecision(skill=skill, chain=chain, reason=reason, source="table",
                                           scores=entry.scores, excluded=excluded)
                log.info("route_decision", skill=skill, chain=chain, reason=reason)
                return decision
        others = [b.id for b in cfg.backends if b.id != cfg.default_backend and b.residency in policy.residency]
        why = "no arena results" if entry is None else "no promoted backend is usable now"
        if self._table_error:
            why += f" ({self._table_error})"
        decision = RoutingDecision(skill=skill, chain=[cfg.default_backend, *others],
                                   reason=f"{why}: default backend first", source="default",
                                   excluded=dict(entry.excluded) if entry else {})
        log.info("route_decision", skill=skill, chain=decision.chain, reason=decision.reason)
        return decision


class PinnedRouter(Router):
    """Every skill goes to one backend (the arena uses it to measure one backend at a time)."""

    def __init__(self, backend_id: str, config: Settings | None = None):
        super().__init__(config)
        self.backend_id = backend_id

    def route(self, skill: str) -> RoutingDecision:
        return RoutingDecision(skill=skill, chain=[self.backend_id], reason=f"pinned to {self.backend_id} (arena)",
                               source="pinned-router")


def load_routing_table(path: Path | None = None) -> RoutingTable | None:
    p = path or routing_path()
    if not p.is_file():
        return None
    try:
        return RoutingTable.model_validate_json(p.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as err:
        raise ConfigError(f"routing table {p} is not valid: {str(err).splitlines()[0][:200]}") from None


def table_as_dict(table: RoutingTable) -> dict[str, Any]:
    return json.loads(table.model_dump_json())


_default: Router | None = None


def default_router() -> Router:
    global _default
    if _default is None:
        _default = Router()
    return _default
