"""The router: for each skill, an ordered chain of backend ids (best first, then fallbacks).

Order of precedence:

1. a config pin (`[routing.<skill>] pin = "..."`) always wins;
2. the promoted routing table `home()/routing.json` (written by `fincopilot arena promote` from the latest
   arena results, see `route_for_skill`): the incumbent keeps the skill unless a challenger's paired score
   difference over it is above zero with 95% confidence, among the candidates that meet the skill's
   `SkillPolicy` (min_score, max_p95_latency_s, max_cost_per_1k_tokens, residency); the other eligible ones
   follow by score as the failover chain. The running router re-reads the file when its mtime changes (no
   restart) and re-checks residency and the configured backends at route time;
3. otherwise the default backend followed by the other configured backends the policy allows.

Residency has one owner, `residency_verdict`: the router asks it for every chain it builds and the gateway
asks it before every call (with whether a local backend already failed for the request).

Classical baselines (`baseline:keyword|template|extractive|rules`) are routable: their spec has kind
`baseline` (`baseline_spec`), and the gateway answers a call routed to one with `RoutedToBaseline`, on
which the worker runs its own rules/template/extractive path and credits it (`produced_by`).
Every decision carries its reason (evidence, and which constraint excluded which backend) and is logged.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, Field, ValidationError

from fincopilot.config import BackendSpec, Settings, settings
from fincopilot.errors import BackendError, ConfigError
from fincopilot.log import get_logger
from fincopilot.paths import home

log = get_logger(__name__)

BASELINE_PREFIX = "baseline:"
BASELINE_KIND = "baseline"


class RoutedToBaseline(BackendError):
    """The router sent this call to the skill's classical baseline: the worker runs its own deterministic path."""


def is_baseline(backend_id: str) -> bool:
    return backend_id.startswith(BASELINE_PREFIX)


def baseline_spec(backend_id: str) -> BackendSpec:
    """The spec of a classical baseline: local, free, no model (kind `baseline`)."""
    return BackendSpec(
        id=backend_id,
        kind=BASELINE_KIND,
        model=backend_id,
        residency="local",
        cost_per_1k_tokens=0.0,
        max_concurrency=64,
    )


def resolve_spec(backend_id: str, cfg: Settings) -> BackendSpec:
    """A configured backend's spec, or a baseline's; UnknownBackendError otherwise."""
    return baseline_spec(backend_id) if is_baseline(backend_id) else cfg.backend(backend_id)


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
    fallbacks: int = 0


class PairEvidence(BaseModel):
    """Paired bootstrap of per-item score differences a − b (the arena computes it; see evals/paired.py)."""

    a: str
    b: str
    items: int
    mean: float
    ci_low: float | None = None
    ci_high: float | None = None
    better: str | None = Field(None, description="the candidate favoured with 95% confidence, or None")

    def about(self, x: str, y: str) -> tuple[float, float | None, float | None, bool] | None:
        """(mean x − y, ci_low, ci_high, x is better with 95% confidence) when this pair is {x, y}."""
        if (self.a, self.b) == (x, y):
            return self.mean, self.ci_low, self.ci_high, self.better == x
        if (self.a, self.b) == (y, x):
            lo = None if self.ci_high is None else -self.ci_high
            hi = None if self.ci_low is None else -self.ci_low
            return -self.mean, lo, hi, self.better == x
        return None


class SkillRoute(BaseModel):
    chain: list[str]
    scores: dict[str, float] = Field(default_factory=dict)
    excluded: dict[str, str] = Field(default_factory=dict)
    run_id: str | None = None
    dataset_version: str | None = None
    reason: str = ""
    incumbent: str | None = None
    evidence: list[str] = Field(
        default_factory=list, description="each challenger's paired difference vs the incumbent, as text"
    )


class RoutingTable(BaseModel):
    generated_at: str
    skills: dict[str, SkillRoute] = Field(default_factory=dict)


_PATH_CACHE: dict[tuple[str | None, str | None], Path] = {}


def routing_path() -> Path:
    """`$FINCOPILOT_ROUTING`, else `home()/routing.json` (resolved once per environment: route() is hot)."""
    key = (os.environ.get("FINCOPILOT_ROUTING"), os.environ.get("FINCOPILOT_HOME"))
    path = _PATH_CACHE.get(key)
    if path is None:
        path = _PATH_CACHE[key] = Path(key[0]) if key[0] else home() / "routing.json"
    return path


class ResidencyVerdict(NamedTuple):
    """May a skill's text go to a backend: `refusal` says why not (None: it may); `crossing` is True when the
    call would fail over from a failed local backend to an external one (audited whether allowed or not)."""

    refusal: str | None
    crossing: bool = False


def residency_verdict(
    spec: BackendSpec, skill: str, cfg: Settings, *, local_failed: bool = False
) -> ResidencyVerdict:
    """The residency rule for sending `skill`'s text to `spec`: its residency must be one the skill's policy
    allows; and once a local backend failed for the request (`local_failed`), an external backend also needs
    the skill's `external_failover` opt-in. Overflow on saturation is no failure and needs no opt-in."""
    policy = cfg.policy(skill)
    if spec.residency not in policy.residency:
        return ResidencyVerdict(
            f"residency {spec.residency!r} not allowed for {skill!r} (routing.{skill}.residency = {policy.residency})"
        )
    crossing = local_failed and spec.residency == "external"
    if crossing and not policy.external_failover:
        return ResidencyVerdict(
            f"external failover not enabled for {skill!r} (routing.{skill}.external_failover)", True
        )
    return ResidencyVerdict(None, crossing)


def policy_exclusion(stats: CandidateStats, skill: str, cfg: Settings) -> str | None:
    """Why `stats.backend` may not serve `skill` under its policy (None when it may)."""
    policy = cfg.policy(skill)
    try:
        spec = resolve_spec(stats.backend, cfg)
    except Exception:  # noqa: BLE001 - unknown id: not configured (any more)
        return "not a configured backend"
    refusal = residency_verdict(spec, skill, cfg).refusal
    if refusal:
        return refusal
    if stats.score < policy.min_score:
        return f"score {stats.score:.3f} < min_score {policy.min_score}"
    if policy.max_p95_latency_s is not None and (stats.p95_latency_s or 0.0) > policy.max_p95_latency_s:
        return f"p95 latency {stats.p95_latency_s:.2f}s > max {policy.max_p95_latency_s}s"
    if policy.max_cost_per_1k_tokens is not None and spec.cost_per_1k_tokens > policy.max_cost_per_1k_tokens:
        return f"cost {spec.cost_per_1k_tokens}/1k tokens > max {policy.max_cost_per_1k_tokens}"
    return None


def route_for_skill(
    skill: str,
    stats: list[CandidateStats],
    cfg: Settings,
    *,
    run_id: str | None = None,
    dataset_version: str | None = None,
    pairs: list[PairEvidence] | None = None,
    incumbent: str | None = None,
) -> SkillRoute:
    """Choose one skill's chain from the evidence.

    Eligible = meets the skill policy (baselines included). The incumbent is `incumbent` (the backend the
    skill is routed to now), else the configured default backend, else the skill's baseline, else the best
    score, whichever is measured and eligible first. A challenger replaces it only when its paired score
    difference over the incumbent is above zero with 95% confidence (of several, the largest difference).
    The rest of the chain is the other eligible candidates by score (then p95 latency, id): the failover order.
    """
    excluded: dict[str, str] = {}
    scores = {s.backend: round(s.score, 4) for s in stats}
    eligible: list[CandidateStats] = []
    for s in stats:
        why = policy_exclusion(s, skill, cfg)
        if why:
            excluded[s.backend] = why
        else:
            eligible.append(s)
    eligible.sort(key=lambda s: (-s.score, s.p95_latency_s or 0.0, s.backend))
    names = [s.backend for s in eligible]
    if not names:
        return SkillRoute(
            chain=[],
            scores=scores,
            excluded=excluded,
            run_id=run_id,
            dataset_version=dataset_version,
            reason="no measured candidate meets the policy",
        )
    held, how = _incumbent(names, incumbent, cfg)
    chosen, evidence, reason = _challenge(held, how, names, pairs or [])
    chain = [chosen, *[n for n in names if n != chosen]]
    return SkillRoute(
        chain=chain,
        scores=scores,
        excluded=excluded,
        run_id=run_id,
        dataset_version=dataset_version,
        reason=reason,
        incumbent=held,
        evidence=evidence,
    )


def _incumbent(names: list[str], incumbent: str | None, cfg: Settings) -> tuple[str, str]:
    if incumbent in names:
        return incumbent, "current route"  # type: ignore[return-value]
    if cfg.default_backend in names:
        return cfg.default_backend, "default backend"
    baselines = [n for n in names if is_baseline(n)]
    if baselines:
        return baselines[0], "classical baseline"
    return names[0], "best score (nothing else measured)"


def _challenge(
    held: str, how: str, names: list[str], pairs: list[PairEvidence]
) -> tuple[str, list[str], str]:
    """(chosen, evidence lines, reason): the challenger with the largest significant gain, else the incumbent."""
    evidence: list[str] = []
    winners: list[tuple[float, str, str]] = []
    for name in names:
        if name == held:
            continue
        found = next((r for r in (p.about(name, held) for p in pairs) if r is not None), None)
        if found is None:
            evidence.append(f"{name}: no paired evidence vs {held}")
            continue
        mean, lo, hi, better = found
        ci = f"[{lo:+.3f}, {hi:+.3f}]" if lo is not None and hi is not None else "[no interval]"
        line = f"{name} − {held}: {mean:+.3f} {ci}" + (" > 0 at 95%" if better else " (not above 0 at 95%)")
        evidence.append(line)
        if better:
            winners.append((mean, name, line))
    if winners:
        _, name, line = max(winners)
        return name, evidence, f"{name} replaces incumbent {held} ({how}): {line}"
    return (
        held,
        evidence,
        f"incumbent {held} ({how}) kept: no eligible challenger is better with 95% confidence",
    )


def write_routing_table(table: RoutingTable, path: Path | None = None) -> Path:
    """Write atomically (temp file + rename) so a running router never reads half a file."""
    p = path or routing_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + f".tmp{os.getpid()}")
    tmp.write_text(table.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, p)
    return p


def new_table(skills: dict[str, SkillRoute]) -> RoutingTable:
    return RoutingTable(generated_at=datetime.now(UTC).isoformat(timespec="seconds"), skills=skills)


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
                log.info(
                    "routing_table_loaded",
                    path=str(path),
                    generated_at=table.generated_at,
                    skills=sorted(table.skills),
                )
            return table

    def route(self, skill: str) -> RoutingDecision:
        cfg = self.config
        policy = cfg.policy(skill)
        if policy.pin:
            decision = RoutingDecision(
                skill=skill, chain=[policy.pin], reason=f"pinned by config to {policy.pin}", source="pin"
            )
            log.info("route_decision", skill=skill, chain=decision.chain, reason=decision.reason)
            return decision
        table = self.table()
        entry = table.skills.get(skill) if table is not None else None
        if entry is not None:
            chain: list[str] = []
            excluded = dict(entry.excluded)
            known = {b.id: b for b in cfg.backends}
            for backend in entry.chain:
                spec = baseline_spec(backend) if is_baseline(backend) else known.get(backend)
                refusal = None if spec is None else residency_verdict(spec, skill, cfg).refusal
                if spec is None:
                    excluded[backend] = "no longer configured"
                elif refusal:
                    excluded[backend] = refusal
                elif backend not in chain:
                    chain.append(backend)
            if chain:
                scores = ", ".join(f"{b}={entry.scores.get(b, float('nan')):.3f}" for b in chain)
                out = "; ".join(f"{b}: {why}" for b, why in excluded.items())
                reason = f"arena run {entry.run_id}: {entry.reason}; chain [{scores}]" + (
                    f"; excluded: {out}" if out else ""
                )
                decision = RoutingDecision(
                    skill=skill,
                    chain=chain,
                    reason=reason,
                    source="table",
                    scores=entry.scores,
                    excluded=excluded,
                )
                log.info("route_decision", skill=skill, chain=chain, reason=reason)
                return decision
        usable = [
            b.id
            for b in cfg.backends
            if (b.skills is None or skill in b.skills) and residency_verdict(b, skill, cfg).refusal is None
        ]
        preferred = [b for b in policy.prefer if b in usable]
        rest = [b for b in usable if b not in preferred and b != cfg.default_backend]
        why = "no arena results" if entry is None else "no promoted backend is usable now"
        if self._table_error:
            why += f" ({self._table_error})"
        decision = RoutingDecision(
            skill=skill,
            chain=[*preferred, cfg.default_backend, *rest],
            reason=f"{why}: "
            + (f"preferred by config {preferred}" if preferred else "default backend first"),
            source="default",
            excluded=dict(entry.excluded) if entry else {},
        )
        log.info("route_decision", skill=skill, chain=decision.chain, reason=decision.reason)
        return decision


class PinnedRouter(Router):
    """Every skill goes to one backend (the arena uses it to measure one backend at a time)."""

    def __init__(self, backend_id: str, config: Settings | None = None):
        super().__init__(config)
        self.backend_id = backend_id

    def route(self, skill: str) -> RoutingDecision:
        return RoutingDecision(
            skill=skill,
            chain=[self.backend_id],
            reason=f"pinned to {self.backend_id} (arena)",
            source="pinned-router",
        )


def load_routing_table(path: Path | None = None) -> RoutingTable | None:
    p = path or routing_path()
    if not p.is_file():
        return None
    try:
        return RoutingTable.model_validate_json(p.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as err:
        raise ConfigError(f"routing table {p} is not valid: {str(err).splitlines()[0][:200]}") from None


_default: Router | None = None


def default_router() -> Router:
    global _default
    if _default is None:
        _default = Router()
    return _default
