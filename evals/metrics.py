"""Per-skill metrics. A skill declares its metric (`Evaluation.metric` in its `@skill`); this module wraps it:
each scorer takes an item's reference and a candidate's output (a JSON-able dict) and returns
`ItemScore{score in [0, 1], metrics: {name: value}}`; `score` is what the leaderboard ranks.

The planner is not a skill; its metric lives here: plan validity before repair, skill-set F1 vs the gold
skills (score = F1; a no-skill request scores 1 when the plan is empty too). A skill that declares no metric
scores exact JSON equality of its output and `reference["output"]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from fincopilot.agents.skills import get_skill
from fincopilot.tools.textmetrics import lcs_length, prf, rouge_l, tokenize

__all__ = [
    "ItemScore",
    "aggregate",
    "category_counts",
    "category_f1",
    "lcs_length",
    "prf",
    "rouge_l",
    "score_item",
    "score_planner",
    "tokenize",
]


class ItemScore(BaseModel):
    score: float = Field(ge=0.0, le=1.0)
    metrics: dict[str, float] = Field(default_factory=dict)


def score_planner(reference: dict[str, Any], output: dict[str, Any]) -> ItemScore:
    plan = output.get("plan") or {}
    predicted = {s.get("skill") for s in plan.get("steps", []) if isinstance(s, dict)}
    _, _, f1 = prf(predicted, reference.get("skills", []))
    gold_steps = {
        (s["skill"], tuple(sorted((k, str(v)) for k, v in s["args"].items())))
        for s in reference.get("plan", {}).get("steps", [])
    }
    got_steps = {
        (s.get("skill"), tuple(sorted((k, str(v)) for k, v in (s.get("args") or {}).items())))
        for s in plan.get("steps", [])
        if isinstance(s, dict)
    }
    _, _, step_f1 = prf(got_steps, gold_steps)
    valid = float(bool(output.get("valid_before_repair")))
    return ItemScore(score=f1, metrics={"skill_f1": f1, "step_f1": step_f1, "valid_before_repair": valid})


def _declared(skill: str):

    return get_skill(skill).evaluation


def aggregate(skill: str, scores: Sequence[ItemScore]) -> dict[str, float]:
    """Mean of every metric over the items that have it, plus what the skill's own `Evaluation.aggregate` adds
    (e.g. micro-averages) over the candidate's own outputs: an error or fallback item (the arena records only
    `error` / `fallback` for it) does not lend the candidate its metrics."""
    if not scores:
        return {"score": 0.0}
    out: dict[str, float] = {"score": sum(s.score for s in scores) / len(scores)}
    keys = sorted({k for s in scores for k in s.metrics})
    for k in keys:
        vals = [s.metrics[k] for s in scores if k in s.metrics]
        out[k] = sum(vals) / len(vals)
    extra = _declared(skill).aggregate if skill != "planner" else None
    own = [s.metrics for s in scores if not s.metrics.get("fallback") and not s.metrics.get("error")]
    if extra is not None and own:
        out.update(extra(own))
    return out


_KINDS = ("tp", "fp", "fn")


def category_counts(skill: str, reference: Mapping[str, Any], output: Mapping[str, Any]) -> dict[str, float]:
    """An item's per-category tp / fp / fn (0 or 1) for a skill that declares `Evaluation.per_category`
    (empty for any other skill and for the planner)."""
    per = _declared(skill).per_category if skill != "planner" else None
    if per is None:
        return {}
    got = set(per.predicted(output or {}))
    gold = set(per.gold(reference))
    out: dict[str, float] = {}
    for c in per.names:
        out[f"tp:{c}"] = float(c in got and c in gold)
        out[f"fp:{c}"] = float(c in got and c not in gold)
        out[f"fn:{c}"] = float(c in gold and c not in got)
    return out


def category_f1(aggregated: dict[str, float]) -> dict[str, float]:
    """`aggregated` with the averaged counts replaced by `f1:<category>` (categories with any gold or flag).

    Every scored item carries every count, so `2·tp / (2·tp + fp + fn)` on the means (`aggregate`) is the
    per-category F1 over the candidate's items."""
    out = {k: v for k, v in aggregated.items() if k.split(":", 1)[0] not in _KINDS}
    for c in [k.split(":", 1)[1] for k in aggregated if k.startswith("tp:")]:
        tp, fp, fn = (aggregated.get(f"{k}:{c}") for k in _KINDS)
        if tp is None or fp is None or fn is None or tp + fp + fn == 0:
            continue
        out[f"f1:{c}"] = 2 * tp / (2 * tp + fp + fn)
    return out


def score_item(
    skill: str, reference: dict[str, Any], output: dict[str, Any], source: str | None = None
) -> ItemScore:
    """The skill's declared metric; without one, exact JSON equality of output and `reference["output"]`."""
    if skill == "planner":
        return score_planner(reference, output)
    metric = _declared(skill).metric
    if metric is None:
        expected = reference.get("output")
        return ItemScore(score=float(expected is not None and expected == output), metrics={})
    values = dict(metric(reference, output, source))
    score = min(1.0, max(0.0, float(values.pop("score"))))
    return ItemScore(score=score, metrics={k: float(v) for k, v in values.items()})
