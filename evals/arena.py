"""The model arena: run candidates (backends and classical baselines) on a skill's eval set, score every item,
turn the per-item results into pairwise battles and Bradley–Terry ratings, and store everything in DuckDB.

- A backend candidate runs the real worker (or planner) through a `Gateway` whose router pins every call
  to that backend, so the measurement includes the worker's prompts, validators and fallbacks.
- Baselines (`baseline:keyword` planner rules, `baseline:template` credit explanation, `baseline:extractive`
  summary, `baseline:rules` compliance) need no model: an LLM must beat them to earn its place.
- Cache: every item result is keyed by (candidate, model version/adapter, skill, dataset version, input
  hash); a re-run reads the cache and makes no model call. Pairwise judgments are cached the same way.
- Determinism: temperature 0, `--seed` picks the items under `--limit` and seeds the bootstrap, and run ids
  are a hash of the run's parameters, so identical runs give identical tables (latency aside).

Tables in `home()/arena.duckdb`: runs, results, ratings, cache.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from fincopilot.agents.planner import fallback_plan, plan_request, validate_plan
from fincopilot.agents.skills import SkillContext, get_skill
from fincopilot.config import settings
from fincopilot.errors import FinCopilotError, InputError, NotFoundError
from fincopilot.evals.bradley_terry import ROUNDS, Battle, Rating, battles_from_scores, ratings_with_ci
from fincopilot.evals.datasets import EvalItem, Split, dataset_path, dataset_version, load_items
from fincopilot.evals.metrics import ItemScore, aggregate, category_counts, category_f1, score_item
from fincopilot.evals.paired import PairedDiff, all_pairs
from fincopilot.log import get_logger
from fincopilot.models.gateway import Gateway
from fincopilot.models.messages import Message
from fincopilot.models.router import (
    CandidateStats,
    PairEvidence,
    PinnedRouter,
    load_routing_table,
    new_table,
    resolve_spec,
    route_for_skill,
    write_routing_table,
)
from fincopilot.paths import home
from fincopilot.safety import audit
from fincopilot.safety.resilience import HealthRegistry

log = get_logger(__name__)

# Bumped when what a stored output means changes (2: outputs carry `produced_by`), so older cache entries,
# which cannot tell the model's output from a fallback's, are never scored again.
OUTPUT_PROTOCOL = 2
PLANNER_BASELINE = "baseline:keyword"


def baselines(skill: str) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    """The classical baselines of `skill`: the planner's keyword rules, or what the skill declares."""
    if skill == "planner":
        return {PLANNER_BASELINE: _baseline_keyword}

    return dict(get_skill(skill).evaluation.baselines)


def default_baseline(skill: str) -> str | None:
    """The first baseline a skill declares (added to a run unless --no-baseline)."""
    return next(iter(baselines(skill)), None)


def eval_set(skill: str) -> Path | None:
    """The skill's declared eval set (the planner's is the built-in one)."""
    if skill == "planner":
        return dataset_path("planner")

    return get_skill(skill).evaluation.eval_set


SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, skill VARCHAR, dataset VARCHAR, dataset_version VARCHAR, split VARCHAR,
    seed INTEGER, item_limit INTEGER, candidates VARCHAR, judge VARCHAR, n_items INTEGER, created_at VARCHAR,
    model_calls INTEGER);
CREATE TABLE IF NOT EXISTS results (
    run_id VARCHAR, candidate VARCHAR, item_id VARCHAR, output VARCHAR, score DOUBLE, metrics VARCHAR,
    latency_s DOUBLE, prompt_tokens INTEGER, completion_tokens INTEGER, cost DOUBLE, error VARCHAR,
    cached BOOLEAN, cache_key VARCHAR);
CREATE TABLE IF NOT EXISTS ratings (
    run_id VARCHAR, method VARCHAR, model VARCHAR, rating DOUBLE, ci_low DOUBLE, ci_high DOUBLE,
    battles INTEGER, wins DOUBLE);
CREATE TABLE IF NOT EXISTS pairs (
    run_id VARCHAR, method VARCHAR, a VARCHAR, b VARCHAR, items INTEGER, decisive INTEGER, mean DOUBLE,
    ci_low DOUBLE, ci_high DOUBLE, verdict VARCHAR);
ALTER TABLE results ADD COLUMN IF NOT EXISTS produced_by VARCHAR;
ALTER TABLE results ADD COLUMN IF NOT EXISTS fallback BOOLEAN;
ALTER TABLE ratings ADD COLUMN IF NOT EXISTS decisive INTEGER;
ALTER TABLE ratings ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE ratings ADD COLUMN IF NOT EXISTS note VARCHAR;
CREATE TABLE IF NOT EXISTS cache (
    cache_key VARCHAR PRIMARY KEY, candidate VARCHAR, model_version VARCHAR, skill VARCHAR,
    dataset_version VARCHAR, input_hash VARCHAR, output VARCHAR, latency_s DOUBLE, prompt_tokens INTEGER,
    completion_tokens INTEGER, cost DOUBLE, error VARCHAR, created_at VARCHAR);
"""


def arena_db_path() -> Path:

    return home() / "arena.duckdb"


def connect(path: Path | None = None):
    import duckdb

    con = duckdb.connect(str(path or arena_db_path()))
    con.execute(SCHEMA)
    return con


def _hash(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


# ================================================================================================ candidates
class CallMeter:
    """Counts model calls, tokens and cost of one item (the gateway reports every completion here)."""

    def __init__(self) -> None:
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self.model_latency_s = 0.0


class _MeteredGateway:
    """Wraps a Gateway: same `complete`, plus per-thread accounting of calls, tokens and cost."""

    def __init__(self, gateway, cost_per_1k: float):
        self._gw = gateway
        self._cost = cost_per_1k
        self._local = threading.local()
        self.router = gateway.router

    def meter(self) -> CallMeter:
        m = getattr(self._local, "meter", None)
        if m is None:
            m = self._local.meter = CallMeter()
        return m

    def reset(self) -> CallMeter:
        self._local.meter = CallMeter()
        return self._local.meter

    def complete(self, skill, messages, **kw):
        result = self._gw.complete(skill, messages, **kw)
        m = self.meter()
        m.calls += 1
        m.prompt_tokens += result.usage.prompt_tokens
        m.completion_tokens += result.usage.completion_tokens
        m.cost += (result.usage.prompt_tokens + result.usage.completion_tokens) / 1000 * self._cost
        m.model_latency_s += result.latency_s
        return result

    def __getattr__(self, name):
        return getattr(self._gw, name)


class Candidate:
    """Something that can answer a skill's eval items: a backend (through a pinned gateway) or a baseline."""

    def __init__(
        self, name: str, skill: str, config=None, gateway_factory: Callable[[str], Any] | None = None
    ):
        self.name = name
        self.skill = skill
        self.is_baseline = name.startswith("baseline:")
        self.cost_per_1k = 0.0
        self.residency = "local"
        self.max_concurrency = 8
        self._gateway = None
        if self.is_baseline:
            known = baselines(skill)
            if name not in known:
                raise InputError(
                    f"{name!r} is not a baseline for skill {skill!r}"
                    + (f" (its baselines: {', '.join(known)})" if known else " (it has none)")
                )
            self._baseline = known[name]
            self.version = "code:" + _hash(inspect.getsource(self._baseline))[:12]
        else:
            cfg = config or settings()
            spec = cfg.backend(name)  # UnknownBackendError names the configured ids
            self.cost_per_1k = spec.cost_per_1k_tokens
            self.residency = spec.residency
            self.max_concurrency = spec.max_concurrency
            self.version = _backend_version(spec)
            if gateway_factory is not None:
                gw = gateway_factory(name)
            else:
                gw = Gateway(router=PinnedRouter(name, cfg), health=HealthRegistry())
            self._gateway = _MeteredGateway(gw, self.cost_per_1k)

    def run(self, item: EvalItem) -> tuple[dict[str, Any], CallMeter]:
        """The candidate's output for one item (a JSON-able dict) and what its model calls cost."""
        if self.is_baseline:
            return self._baseline(item.input if self.skill != "planner" else item), CallMeter()
        meter = self._gateway.reset()
        return _run_backend(self.skill, item, self._gateway), meter


def _backend_version(spec) -> str:
    """Changes whenever what answers changes: kind, model, adapter (and its card), options."""
    parts: dict[str, Any] = {
        "kind": spec.kind,
        "model": spec.model,
        "adapter": spec.adapter,
        "options": spec.options,
    }
    if spec.adapter:
        card = Path(spec.adapter) / "card.json"
        parts["card"] = _hash(card.read_text(encoding="utf-8")) if card.is_file() else None
    return _hash(parts)[:16]


# --- baselines ---------------------------------------------------------------------------------------------
def _baseline_keyword(item: EvalItem) -> dict[str, Any]:

    plan, note = fallback_plan(item.input["request"])
    valid = not validate_plan(plan) if plan.steps else True
    return {
        "plan": plan.plan_json(),
        "source": "rules",
        "valid_before_repair": valid,
        "reason": note,
        "produced_by": "rules",
    }


# --- backends -----------------------------------------------------------------------------------------------
def _run_backend(skill: str, item: EvalItem, gateway) -> dict[str, Any]:
    if skill == "planner":
        outcome = plan_request(item.input["request"], gateway=gateway)
        return {
            "plan": outcome.plan.plan_json(),
            "source": outcome.source,
            "produced_by": _plan_producer(outcome),
            "valid_before_repair": outcome.valid_before_repair,
            "problems": outcome.problems[:4],
            "rounds": outcome.rounds,
        }

    sk = get_skill(skill)
    args = {**item.input, **sk.evaluation.backend_args}  # e.g. switch the model path on where rules would do
    ctx = SkillContext(skill=skill, allowed_tools=sk.tools, gateway=gateway, request_id=f"arena-{item.id}")
    return sk.run(args, ctx).model_dump(mode="json")


def _plan_producer(outcome) -> str:
    """Who made the plan: the backend for a model plan (also a model's accepted empty plan), else "rules"."""
    declared = getattr(outcome, "produced_by", None)
    if declared:
        return declared
    if outcome.source in ("model", "repaired"):
        return outcome.backend or "rules"
    return "rules"


def is_fallback(candidate: str, output: dict[str, Any]) -> bool:
    """True when a backend candidate's output was produced by something else (rules, template, extractive,
    another backend): the item is the candidate's failure. Outputs that do not declare `produced_by` (a
    developer's skill without the field) are taken as the candidate's own."""
    if candidate.startswith("baseline:"):
        return False
    produced_by = output.get("produced_by")
    return produced_by is not None and produced_by != candidate


# ================================================================================================ runs
class CandidateSummary(BaseModel):
    candidate: str
    items: int
    score: float
    metrics: dict[str, float]
    errors: int
    fallbacks: int = Field(
        0,
        description="items answered by a fallback (rules, template, extractive), not the "
        "candidate; each scores 0",
    )
    p50_latency_s: float
    p95_latency_s: float
    mean_tokens: float
    cost_per_item: float
    cost_per_1k_tokens: float
    residency: str
    rating: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rating_status: str | None = None
    rating_note: str = ""

    @property
    def fallback_rate(self) -> float:
        return self.fallbacks / self.items if self.items else 0.0


class ArenaRun(BaseModel):
    run_id: str
    skill: str
    dataset_version: str
    split: str
    seed: int
    judge: str | None
    n_items: int
    model_calls: int = Field(
        description="model calls made by this run (0 when everything came from the cache)"
    )
    candidates: list[CandidateSummary]
    ratings: list[Rating]
    judge_ratings: list[Rating] = Field(default_factory=list)
    pairs: list[PairedDiff] = Field(
        default_factory=list,
        description="paired bootstrap of per-item score differences, every pair of candidates",
    )


def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else 0.0


def _select(items: list[EvalItem], limit: int | None, seed: int) -> list[EvalItem]:
    if limit is None or limit >= len(items):
        return items
    if limit < 1:
        raise InputError("--limit must be at least 1")
    chosen = random.Random(f"arena:{seed}").sample(items, limit)
    return sorted(chosen, key=lambda i: i.id)


def _candidate_names(candidates: Sequence[str]) -> list[str]:
    names = [c.strip() for c in candidates if c and c.strip()]
    if not names:
        raise InputError("give at least one candidate (--backends a,b or a baseline like baseline:rules)")
    if len(set(names)) != len(names):
        raise InputError(f"a candidate is listed twice: {', '.join(names)}")
    return names


def _run_id(
    skill: str,
    dataset: str | Path | None,
    version: str,
    split: Split,
    seed: int,
    items: list[EvalItem],
    cands: list[Candidate],
    judge: str | None,
) -> str:
    """The run's id: a hash of everything that decides its results."""
    run_params = {
        "skill": skill,
        "dataset": str(dataset or ""),
        "version": version,
        "split": split,
        "seed": seed,
        "items": [i.id for i in items],
        "candidates": [c.name for c in cands],
        "judge": judge,
        "versions": [c.version for c in cands],
    }
    return f"{skill}-{_hash(run_params)[:10]}"


def _arena_items(
    skill: str, dataset: str | Path | None, split: Split, limit: int | None, seed: int
) -> tuple[str | Path, list[EvalItem]]:
    """The eval set's path and the items of `split` (sampled under `limit`)."""
    path = dataset if dataset is not None else eval_set(skill)  # get_skill names the registered skills
    if path is None:
        raise NotFoundError(f"skill {skill!r} declares no eval set; give --dataset PATH")
    items = _select(load_items(skill, split, path), limit, seed)
    if not items:
        raise InputError(f"the {split!r} split of the {skill!r} eval set is empty")
    return path, items


@dataclass(frozen=True)
class _JudgeSpec:
    """The judge backend for a run and how to reach it."""

    judge: str
    config: Any
    gateway_factory: Callable[[str], Any] | None
    progress: bool


def _evidence(
    skill: str,
    items: list[EvalItem],
    results: dict[str, Any],
    per_item: dict[str, dict[str, float]],
    judged: _JudgeSpec | None,
    con: Any,
    rounds: int,
    seed: int,
) -> tuple[list[Any], list[Rating], list[Rating], int]:
    """Paired item-level bootstrap of score differences; ratings from metric (and judge) battles; judge calls."""
    if len(results) < 2:
        return [], [], [], 0
    pairs = all_pairs(per_item, rounds=rounds, seed=seed)
    ratings = ratings_with_ci(battles_from_scores(per_item), rounds=rounds, seed=seed)
    if judged is None:
        return pairs, ratings, [], 0
    jb, calls = judge_battles(
        skill,
        items,
        results,
        judged.judge,
        con,
        config=judged.config,
        gateway_factory=judged.gateway_factory,
        progress=judged.progress,
    )
    return pairs, ratings, ratings_with_ci(jb, rounds=rounds, seed=seed), calls


def run_arena(
    skill: str,
    candidates: Sequence[str],
    *,
    dataset: str | Path | None = None,
    split: Split = "heldout",
    limit: int | None = None,
    seed: int = 0,
    judge: str | None = None,
    workers: int = 2,
    db: Path | None = None,
    progress: bool = True,
    config=None,
    gateway_factory: Callable[[str], Any] | None = None,
    bootstrap_rounds: int = ROUNDS,
) -> ArenaRun:
    """Run `candidates` on `skill`'s eval set and store results, ratings and the run in DuckDB."""
    names = _candidate_names(candidates)
    path, items = _arena_items(skill, dataset, split, limit, seed)
    version = dataset_version(skill, path)
    cands = [Candidate(n, skill, config, gateway_factory) for n in names]
    run_id = _run_id(skill, dataset, version, split, seed, items, cands, judge)
    sources = _sources(skill, items)
    con = connect(db)
    try:
        results, model_calls = _answers(cands, items, skill, version, con, workers, progress)
        # score: each candidate on its own output; a fallback's output is the candidate's failure
        per_item: dict[str, dict[str, float]] = {it.id: {} for it in items}
        rows: list[list[Any]] = []
        summaries = [
            _score_candidate(c, skill, items, results[c.name], sources, per_item, rows, run_id) for c in cands
        ]
        judged = _JudgeSpec(judge, config, gateway_factory, progress) if judge else None
        pairs, ratings, judge_ratings, calls = _evidence(
            skill, items, results, per_item, judged, con, bootstrap_rounds, seed
        )
        model_calls += calls
        _attach_ratings(summaries, judge_ratings or ratings)
        row = [run_id, skill, str(dataset or ""), version, split, seed, limit, json.dumps(names), judge]
        _store_run(con, run_id, [*row, len(items), _now(), model_calls], rows, ratings, judge_ratings, pairs)
    finally:
        con.close()
    log.info("arena_run", run_id=run_id, skill=skill, items=len(items), model_calls=model_calls)
    return ArenaRun(
        run_id=run_id,
        skill=skill,
        dataset_version=version,
        split=split,
        seed=seed,
        judge=judge,
        n_items=len(items),
        model_calls=model_calls,
        candidates=sorted(summaries, key=lambda s: (-s.score, s.candidate)),
        ratings=ratings,
        judge_ratings=judge_ratings,
        pairs=pairs,
    )


def _cache_key(c: Candidate, skill: str, version: str, it: EvalItem) -> str:
    fields = {
        "c": c.name,
        "v": c.version,
        "skill": skill,
        "dv": version,
        "in": it.input,
        "proto": OUTPUT_PROTOCOL,
    }
    return _hash(fields)[:32]


def _cached_answers(
    cands: list[Candidate], items: list[EvalItem], skill: str, version: str, con
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[tuple[Candidate, EvalItem, str]]]:
    """The answers already in the cache, and the (candidate, item, cache key) still to run."""
    results: dict[str, dict[str, dict[str, Any]]] = {c.name: {} for c in cands}
    todo: list[tuple[Candidate, EvalItem, str]] = []
    for c in cands:
        for it in items:
            key = _cache_key(c, skill, version, it)
            row = con.execute(
                "SELECT output, latency_s, prompt_tokens, completion_tokens, cost, error FROM cache "
                "WHERE cache_key = ?",
                [key],
            ).fetchone()
            if row is None:
                todo.append((c, it, key))
                continue
            results[c.name][it.id] = {
                "output": json.loads(row[0]),
                "latency_s": row[1],
                "prompt_tokens": row[2],
                "completion_tokens": row[3],
                "cost": row[4],
                "error": row[5],
                "cached": True,
                "cache_key": key,
            }
    return results, todo


def _cache_answer(
    con, key: str, c: Candidate, skill: str, version: str, it: EvalItem, rec: dict[str, Any]
) -> None:
    con.execute(
        "INSERT OR REPLACE INTO cache VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            key,
            c.name,
            c.version,
            skill,
            version,
            _hash(it.input)[:16],
            json.dumps(rec["output"], ensure_ascii=False, sort_keys=True),
            rec["latency_s"],
            rec["prompt_tokens"],
            rec["completion_tokens"],
            rec["cost"],
            rec["error"],
            _now(),
        ],
    )


def _answers(
    cands: list[Candidate], items: list[EvalItem], skill: str, version: str, con, workers: int, progress: bool
) -> tuple[dict[str, dict[str, dict[str, Any]]], int]:
    """Every candidate's answer to every item: from the cache, else run (and cached). Returns the answers and
    the number of model calls made."""
    results, todo = _cached_answers(cands, items, skill, version, con)
    model_calls = 0
    with _progress(progress) as bar:
        tasks = {
            c.name: bar.add_task(f"{skill} · {c.name}", total=len(items), completed=len(results[c.name]))
            for c in cands
        }
        for c in cands:
            mine = [(it, key) for cc, it, key in todo if cc is c]
            if not mine:
                continue
            with ThreadPoolExecutor(
                max_workers=max(1, min(workers, c.max_concurrency)), thread_name_prefix="arena"
            ) as pool:
                futures = {pool.submit(_run_one, c, it): (it, key) for it, key in mine}
                for fut in as_completed(futures):
                    it, key = futures[fut]
                    rec = fut.result()
                    model_calls += rec.pop("calls")
                    rec.update(cached=False, cache_key=key)
                    results[c.name][it.id] = rec
                    _cache_answer(con, key, c, skill, version, it, rec)
                    bar.advance(tasks[c.name])
    return results, model_calls


def _item_score(
    c: Candidate, skill: str, it: EvalItem, rec: dict[str, Any], source: str | None
) -> tuple[ItemScore, bool]:
    """One item's score (an error or a fallback scores 0), and whether the answer was a fallback's."""
    if rec["error"]:
        return ItemScore(score=0.0, metrics={"error": 1.0, "fallback": 0.0}), False
    if is_fallback(c.name, rec["output"]):
        # metrics of the fallback's output are not the candidate's: only the failure is recorded
        return ItemScore(score=0.0, metrics={"fallback": 1.0}), True
    s = score_item(skill, it.reference, rec["output"], source)
    counts = category_counts(
        skill, it.reference, rec["output"]
    )  # per-category F1, where the skill declares it
    return ItemScore(score=s.score, metrics={**s.metrics, **counts, "fallback": 0.0}), False


def _result_row(
    run_id: str, c: Candidate, it: EvalItem, rec: dict[str, Any], s: ItemScore, fallback: bool
) -> list[Any]:
    return [
        run_id,
        c.name,
        it.id,
        json.dumps(rec["output"], ensure_ascii=False, sort_keys=True),
        s.score,
        json.dumps(s.metrics, sort_keys=True),
        rec["latency_s"],
        rec["prompt_tokens"],
        rec["completion_tokens"],
        rec["cost"],
        rec["error"],
        rec["cached"],
        rec["cache_key"],
        (rec["output"] or {}).get("produced_by"),
        fallback,
    ]


def _score_candidate(
    c: Candidate,
    skill: str,
    items: list[EvalItem],
    results: dict[str, dict[str, Any]],
    sources: dict[str, str],
    per_item: dict[str, dict[str, float]],
    rows: list[list[Any]],
    run_id: str,
) -> CandidateSummary:
    """Score every item of one candidate (errors and fallbacks score 0), fill `per_item` and the result rows."""
    scores: list[ItemScore] = []
    lat, toks, costs, errors, fallbacks = [], [], [], 0, 0
    for it in items:
        rec = results[it.id]
        s, fallback = _item_score(c, skill, it, rec, sources.get(it.id))
        errors += bool(rec["error"])
        fallbacks += fallback
        scores.append(s)
        per_item[it.id][c.name] = s.score
        lat.append(rec["latency_s"])
        toks.append(rec["prompt_tokens"] + rec["completion_tokens"])
        costs.append(rec["cost"])
        rows.append(_result_row(run_id, c, it, rec, s, fallback))
    agg = category_f1(aggregate(skill, scores))
    return CandidateSummary(
        candidate=c.name,
        items=len(items),
        score=agg.pop("score"),
        metrics=agg,
        errors=errors,
        fallbacks=fallbacks,
        p50_latency_s=_percentile(lat, 50),
        p95_latency_s=_percentile(lat, 95),
        mean_tokens=sum(toks) / len(toks),
        cost_per_item=sum(costs) / len(costs),
        cost_per_1k_tokens=c.cost_per_1k,
        residency=c.residency,
    )


def _attach_ratings(summaries: list[CandidateSummary], ratings: list[Rating]) -> None:
    by_model = {r.model: r for r in ratings}
    for s in summaries:
        r = by_model.get(s.candidate)
        if r is not None:
            s.rating, s.ci_low, s.ci_high = r.rating, r.ci_low, r.ci_high
            s.rating_status, s.rating_note = r.status, r.note


_RESULT_COLS = (
    "run_id, candidate, item_id, output, score, metrics, latency_s, prompt_tokens, completion_tokens, "
    "cost, error, cached, cache_key, produced_by, fallback"
)
_RATING_COLS = "run_id, method, model, rating, ci_low, ci_high, battles, wins, decisive, status, note"


def _store_run(
    con,
    run_id: str,
    run_row: list[Any],
    rows: list[list[Any]],
    ratings: list[Rating],
    judge_ratings: list[Rating],
    pairs: list[PairedDiff],
) -> None:
    """Replace a previous run with the same parameters, in one transaction."""
    con.execute("BEGIN")
    for table in ("runs", "results", "ratings", "pairs"):
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
    con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", run_row)
    con.executemany(f"INSERT INTO results ({_RESULT_COLS}) VALUES ({','.join('?' * 15)})", rows)
    for method, rs in (("metric", ratings), ("judge", judge_ratings)):
        if rs:
            con.executemany(
                f"INSERT INTO ratings ({_RATING_COLS}) VALUES ({','.join('?' * 11)})",
                [
                    [
                        run_id,
                        method,
                        r.model,
                        r.rating,
                        r.ci_low,
                        r.ci_high,
                        r.battles,
                        r.wins,
                        r.decisive,
                        r.status,
                        r.note,
                    ]
                    for r in rs
                ],
            )
    if pairs:
        con.executemany(
            "INSERT INTO pairs VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                [run_id, "metric", p.a, p.b, p.items, p.decisive, p.mean, p.ci_low, p.ci_high, p.verdict]
                for p in pairs
            ],
        )
    con.execute("COMMIT")


def _run_one(c: Candidate, it: EvalItem) -> dict[str, Any]:
    start = time.perf_counter()
    error = None
    output: dict[str, Any] = {}
    meter = CallMeter()
    try:
        output, meter = c.run(it)
    except FinCopilotError as err:
        error = f"{type(err).__name__}: {err}"[:500]
    except Exception as err:  # noqa: BLE001 - one broken item must not end the run; it scores 0
        error = f"{type(err).__name__}: {err}"[:500]
        log.warning("arena_item_crashed", candidate=c.name, item=it.id, error=error)
    return {
        "output": output,
        "latency_s": time.perf_counter() - start,
        "prompt_tokens": meter.prompt_tokens,
        "completion_tokens": meter.completion_tokens,
        "cost": meter.cost,
        "error": error,
        "calls": meter.calls,
    }


def _sources(skill: str, items: list[EvalItem]) -> dict[str, str]:
    """The text an output must be faithful to, per item, as the skill's `Evaluation.source` declares."""
    if skill == "planner":
        return {}

    source = get_skill(skill).evaluation.source
    if source is None:
        return {}
    found = {it.id: source(it.input) for it in items}
    return {k: v for k, v in found.items() if v is not None}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *a, **k):
        return 0

    def advance(self, *a, **k):
        pass


def _progress(enabled: bool):
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


# ================================================================================================ judge
class JudgeVerdict(BaseModel):
    winner: Literal["A", "B", "tie"]


_JUDGE_SYSTEM = (
    "You compare two answers to the same task for a bank advisor. Prefer the answer that is correct, "
    'complete and states only facts supported by the input. Answer with JSON {"winner": "A"}, '
    '{"winner": "B"} or {"winner": "tie"}.'
)


def render_output(skill: str, output: dict[str, Any]) -> str:
    """The part of an output a judge should see (compact)."""
    if skill == "planner":
        return json.dumps(output.get("plan", {}), ensure_ascii=False)

    try:
        return get_skill(skill).render(output).text[:1500]
    except (FinCopilotError, KeyError, TypeError, ValueError):  # an error record has no fields to render
        return json.dumps(output, ensure_ascii=False)[:1500]


def judge_battles(
    skill: str,
    items: Sequence[EvalItem],
    results: dict[str, dict[str, dict[str, Any]]],
    judge: str,
    con,
    *,
    config=None,
    gateway_factory=None,
    progress: bool = True,
) -> tuple[list[Battle], int]:
    """Pairwise judgments with position swapping: each pair is judged as (A, B) and as (B, A); verdicts that
    disagree once the swap is undone are ties. Returns the battles and the number of judge calls made."""

    judge_cand = Candidate(judge, skill, config, gateway_factory)
    names = sorted(results)
    calls = 0
    battles: list[Battle] = []
    jobs = [(it, a, b) for it in items for i, a in enumerate(names) for b in names[i + 1 :]]
    with _progress(progress) as bar:
        task = bar.add_task(f"judge {judge}", total=len(jobs))
        for it, a, b in jobs:
            ra, rb = results[a][it.id], results[b][it.id]
            # an error or a fallback's output is the candidate's failure: the judge never sees it as its answer
            fa = bool(ra["error"]) or is_fallback(a, ra["output"])
            fb = bool(rb["error"]) or is_fallback(b, rb["output"])
            if fa or fb:
                w = "tie" if fa and fb else ("b" if fa else "a")
                battles.append(Battle(model_a=a, model_b=b, winner=w, item_id=it.id))
                bar.advance(task)
                continue
            ta, tb = render_output(skill, ra["output"]), render_output(skill, rb["output"])
            verdicts = []
            for first, second in ((ta, tb), (tb, ta)):
                verdict, called = _judge_once(judge_cand, skill, it, first, second, con)
                verdicts.append(verdict)
                calls += called
            first_order = {"A": "a", "B": "b", "tie": "tie"}[verdicts[0]]
            swapped = {"A": "b", "B": "a", "tie": "tie"}[verdicts[1]]  # undo the swap
            winner = first_order if first_order == swapped else "tie"
            battles.append(Battle(model_a=a, model_b=b, winner=winner, item_id=it.id))
            bar.advance(task)
    return battles, calls


def _judge_once(
    judge_cand: Candidate, skill: str, it: EvalItem, first: str, second: str, con
) -> tuple[str, int]:
    """The judge's verdict on (A=first, B=second), from the cache or one judge call; and the calls made."""
    judge = judge_cand.name
    prompt = (
        f"Task input: {json.dumps(it.input, ensure_ascii=False)[:1200]}\n\nAnswer A:\n{first[:1200]}"
        f"\n\nAnswer B:\n{second[:1200]}\n\nWhich answer is better?"
    )
    key = _hash({"judge": judge, "v": judge_cand.version, "skill": skill, "prompt": prompt})[:32]
    row = con.execute("SELECT output FROM cache WHERE cache_key = ?", [key]).fetchone()
    if row is not None:
        return json.loads(row[0]).get("winner", "tie"), 0
    chat = [Message(role="system", content=_JUDGE_SYSTEM), Message(role="user", content=prompt)]
    try:
        out = judge_cand._gateway.complete("arena_judge", chat, schema=JudgeVerdict, max_tokens=12)
        verdict = out.parsed.winner if out.parsed is not None else "tie"
    except FinCopilotError as err:
        log.warning("judge_failed", judge=judge, item=it.id, error=str(err)[:200])
        verdict = "tie"
    row = [
        key,
        judge,
        judge_cand.version,
        "arena_judge",
        "",
        _hash(prompt)[:16],
        json.dumps({"winner": verdict}),
    ]
    con.execute(
        "INSERT OR REPLACE INTO cache VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [*row, 0.0, 0, 0, 0.0, None, _now()],
    )
    return verdict, 1


# ================================================================================================ reading back
def latest_runs(db: Path | None = None, skill: str | None = None) -> list[dict[str, Any]]:
    """The most recent run per skill (or of one skill)."""
    path = db or arena_db_path()
    if not Path(path).is_file():
        return []
    con = connect(path)
    try:
        sql = (
            "SELECT run_id, skill, dataset_version, split, seed, item_limit, candidates, judge, n_items, created_at, "
            "model_calls FROM runs"
        )
        params: list[Any] = []
        if skill:
            sql += " WHERE skill = ?"
            params.append(skill)
        sql += " ORDER BY created_at DESC, run_id"
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    cols = [
        "run_id",
        "skill",
        "dataset_version",
        "split",
        "seed",
        "limit",
        "candidates",
        "judge",
        "n_items",
        "created_at",
        "model_calls",
    ]
    seen: set[str] = set()
    out = []
    for r in rows:
        d = dict(zip(cols, r))
        if d["skill"] in seen:
            continue
        seen.add(d["skill"])
        d["candidates"] = json.loads(d["candidates"])
        out.append(d)
    return sorted(out, key=lambda d: d["skill"])


def leaderboard(run_id: str, db: Path | None = None) -> list[CandidateSummary]:
    """Per-candidate summary of a stored run (recomputed from the results table)."""
    con = connect(db)
    try:
        skill = con.execute("SELECT skill FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if skill is None:
            raise NotFoundError(f"no arena run {run_id!r}")
        rows = con.execute(
            "SELECT candidate, score, metrics, latency_s, prompt_tokens + completion_tokens, cost, "
            "error, coalesce(fallback, false) FROM results WHERE run_id = ? "
            "ORDER BY candidate, item_id",
            [run_id],
        ).fetchall()
        rat = con.execute(
            "SELECT method, model, rating, ci_low, ci_high, status, note FROM ratings WHERE run_id = ?",
            [run_id],
        ).fetchall()
    finally:
        con.close()

    cfg = settings()
    by: dict[str, list[tuple]] = {}
    for r in rows:
        by.setdefault(r[0], []).append(r)
    ratings = {(m, model): rest for m, model, *rest in rat}
    method = "judge" if any(k[0] == "judge" for k in ratings) else "metric"
    out = []
    for cand, rs in by.items():
        agg = category_f1(aggregate(skill[0], [ItemScore(score=r[1], metrics=json.loads(r[2])) for r in rs]))
        lat = [r[3] for r in rs]
        try:
            spec = resolve_spec(cand, cfg)
        except FinCopilotError:
            spec = None
        rt = ratings.get((method, cand)) or [None, None, None, None, ""]
        out.append(
            CandidateSummary(
                candidate=cand,
                items=len(rs),
                score=agg.pop("score"),
                metrics=agg,
                errors=sum(1 for r in rs if r[6]),
                fallbacks=sum(1 for r in rs if r[7]),
                p50_latency_s=_percentile(lat, 50),
                p95_latency_s=_percentile(lat, 95),
                mean_tokens=sum(r[4] for r in rs) / len(rs),
                cost_per_item=sum(r[5] for r in rs) / len(rs),
                cost_per_1k_tokens=spec.cost_per_1k_tokens if spec else 0.0,
                residency=spec.residency if spec else "local",
                rating=rt[0],
                ci_low=rt[1],
                ci_high=rt[2],
                rating_status=rt[3],
                rating_note=rt[4] or "",
            )
        )
    return sorted(out, key=lambda s: (-s.score, s.candidate))


def item_scores(run_id: str, db: Path | None = None) -> dict[str, dict[str, float]]:
    """{item_id: {candidate: score}} of a stored run (what the paired comparisons are computed from)."""
    con = connect(db)
    try:
        rows = con.execute(
            "SELECT item_id, candidate, score FROM results WHERE run_id = ?", [run_id]
        ).fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, float]] = {}
    for item, cand, score in rows:
        out.setdefault(item, {})[cand] = score
    return out


def stored_pairs(run_id: str, db: Path | None = None) -> list[PairedDiff]:
    """The paired comparisons stored with a run."""
    con = connect(db)
    try:
        rows = con.execute(
            "SELECT a, b, items, decisive, mean, ci_low, ci_high, verdict FROM pairs "
            "WHERE run_id = ? AND method = 'metric' ORDER BY a, b",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    keys = ("a", "b", "items", "decisive", "mean", "ci_low", "ci_high", "verdict")
    return [PairedDiff(**dict(zip(keys, r))) for r in rows]


def route_from_run(
    run: dict[str, Any],
    board: list[CandidateSummary],
    cfg,
    db: Path | None = None,
    incumbent: str | None = None,
):
    """The routing decision the evidence of one stored run supports (`models.router.route_for_skill`)."""

    stats = [
        CandidateStats(
            backend=s.candidate,
            score=s.score,
            p95_latency_s=s.p95_latency_s,
            items=s.items,
            errors=s.errors,
            fallbacks=s.fallbacks,
        )
        for s in board
    ]
    pairs = [
        PairEvidence(
            a=p.a, b=p.b, items=p.items, mean=p.mean, ci_low=p.ci_low, ci_high=p.ci_high, better=p.better()
        )
        for p in stored_pairs(run["run_id"], db)
    ]
    return route_for_skill(
        run["skill"],
        stats,
        cfg,
        run_id=run["run_id"],
        dataset_version=run["dataset_version"],
        pairs=pairs,
        incumbent=incumbent,
    )


def promote(db: Path | None = None, path: Path | None = None, config=None):
    """Write the routing table from the latest run of every skill; returns (table, file path). The skill's
    current route is the incumbent; every decision is logged and audited with its evidence."""

    cfg = config or settings()
    runs = latest_runs(db)
    if not runs:
        raise NotFoundError("no arena results yet: run `fincopilot arena run --skill S --backends ...` first")
    try:
        current = load_routing_table(path)
    except FinCopilotError as err:
        log.warning("routing_table_unreadable", error=str(err)[:200])
        current = None
    skills = {}
    for run in runs:
        held = current.skills.get(run["skill"]) if current is not None else None
        route = route_from_run(
            run,
            leaderboard(run["run_id"], db),
            cfg,
            db,
            incumbent=held.chain[0] if held is not None and held.chain else None,
        )
        skills[run["skill"]] = route
        log.info(
            "routing_promoted",
            skill=run["skill"],
            chain=route.chain,
            reason=route.reason,
            evidence=route.evidence,
            excluded=route.excluded,
        )
        audit.record(
            "routing_promoted",
            skill=run["skill"],
            run_id=run["run_id"],
            chain=route.chain,
            reason=route.reason,
            evidence=route.evidence,
            excluded=route.excluded,
        )
    table = new_table(skills)
    return table, write_routing_table(table, path)
