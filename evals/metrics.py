"""Per-skill metrics. Each scorer takes an item's reference and a candidate's output (a JSON-able dict) and
returns `ItemScore{score in [0, 1], metrics: {name: value}}`; `score` is what the leaderboard ranks.

- planner: plan validity before repair, skill-set F1 vs the gold skills (score = F1; a no-skill request
  scores 1 when the plan is empty too).
- credit_lookup: grade exact match, score within ±`SCORE_TOLERANCE` points, explanation numeric faithfulness
  times grounding (`tools.grounding`: units and entities/attributes must be in the tool output).
- report_summary: numeric faithfulness (`tools.numbers`), coverage of the key figures, ROUGE-L F1 vs the
  reference (LCS over tokens: words for Latin text, characters for CJK).
- compliance_check: precision, recall and F1 over the violation categories (micro-averaged when aggregated).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

SCORE_TOLERANCE = 10  # scorecard points


class ItemScore(BaseModel):
    score: float = Field(ge=0.0, le=1.0)
    metrics: dict[str, float] = Field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ generic
def prf(predicted: Iterable[str], gold: Iterable[str]) -> tuple[float, float, float]:
    """Set precision, recall, F1; both empty → (1, 1, 1)."""
    p, g = set(predicted), set(gold)
    if not p and not g:
        return 1.0, 1.0, 1.0
    tp = len(p & g)
    precision = tp / len(p) if p else 0.0
    recall = tp / len(g) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


_TOKEN = re.compile(r"[\u3400-\u9fff]|[A-Za-z]+|\d+(?:[.,]\d+)*%?")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and numbers; each CJK character is a token (Chinese has no spaces)."""
    return [t.lower() for t in _TOKEN.findall(text or "")]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, O(len(a)·len(b)) time and O(min) memory."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str, beta: float = 1.0) -> dict[str, float]:
    """ROUGE-L (Lin 2004): LCS-based precision, recall and F-measure over tokens."""
    c, r = tokenize(candidate), tokenize(reference)
    if not c or not r:
        return {"precision": 0.0, "recall": 0.0, "f": 0.0}
    lcs = lcs_length(c, r)
    p, rec = lcs / len(c), lcs / len(r)
    f = (1 + beta**2) * p * rec / (rec + beta**2 * p) if p and rec else 0.0
    return {"precision": p, "recall": rec, "f": f}


# ------------------------------------------------------------------------------------------------ per skill
def score_planner(reference: dict[str, Any], output: dict[str, Any]) -> ItemScore:
    plan = output.get("plan") or {}
    predicted = {s.get("skill") for s in plan.get("steps", []) if isinstance(s, dict)}
    _, _, f1 = prf(predicted, reference.get("skills", []))
    gold_steps = {(s["skill"], tuple(sorted((k, str(v)) for k, v in s["args"].items())))
                  for s in reference.get("plan", {}).get("steps", [])}
    got_steps = {(s.get("skill"), tuple(sorted((k, str(v)) for k, v in (s.get("args") or {}).items())))
                 for s in plan.get("steps", []) if isinstance(s, dict)}
    _, _, step_f1 = prf(got_steps, gold_steps)
    valid = float(bool(output.get("valid_before_repair")))
    return ItemScore(score=f1, metrics={"skill_f1": f1, "step_f1": step_f1, "valid_before_repair": valid})


def credit_facts(reference: dict[str, Any], output: dict[str, Any]) -> list[str]:
    """What a credit explanation may state: the gold score/grade/PD and the tool output's own fields (client,
    reason codes), never the explanation itself (a text always supports itself)."""
    gold = f"score {reference['score']} grade {reference['grade']} PD {reference['pd']:.2%} {reference['pd']}"
    tool = {k: v for k, v in output.items() if k not in ("explanation", "explanation_method", "produced_by")}
    reasons = [r.get("description", "") for r in tool.get("reason_codes") or [] if isinstance(r, dict)]
    return [gold, f"{tool.get('client_name', '')} ({tool.get('client_id', '')})", *reasons,
            json.dumps(tool, ensure_ascii=False, default=str)]


def score_credit(reference: dict[str, Any], output: dict[str, Any]) -> ItemScore:
    """Grade, score and an explanation that is faithful in numbers AND grounded in meaning (units, entities)."""
    from fincopilot.tools.grounding import ungrounded
    from fincopilot.tools.numbers import numeric_faithfulness

    grade_ok = float(output.get("grade") == reference["grade"])
    score = output.get("score")
    score_ok = float(isinstance(score, (int, float)) and abs(score - reference["score"]) <= SCORE_TOLERANCE)
    facts = credit_facts(reference, output)
    explanation = output.get("explanation") or ""
    faithful = numeric_faithfulness(explanation, facts) if explanation else 1.0
    grounded = float(not ungrounded(explanation, facts)) if explanation else 1.0
    return ItemScore(score=(grade_ok + score_ok + faithful * grounded) / 3,
                     metrics={"grade_exact": grade_ok, "score_within_tol": score_ok,
                              "explanation_faithfulness": faithful, "explanation_grounded": grounded,
                              "llm_explanation": float(output.get("explanation_method") == "llm")})


def figure_coverage(text: str, figures: Sequence[str]) -> float:
    """Share of key figures whose value appears among the numbers of `text` (formatting-tolerant)."""
    from fincopilot.tools.numbers import unsupported_numbers

    if not figures:
        return 1.0
    # a figure is covered when it is "supported" by the text, i.e. the text states that number
    return sum(1 for f in figures if not unsupported_numbers(f, [text])) / len(figures)


def score_summary(reference: dict[str, Any], output: dict[str, Any], source: str | None = None) -> ItemScore:
    from fincopilot.tools.numbers import numeric_faithfulness

    summary = output.get("summary") or ""
    text = "\n".join([summary, *output.get("key_figures", [])])
    faithful = numeric_faithfulness(text, [source]) if source else float(output.get("faithfulness", 0.0))
    coverage = figure_coverage(text, reference.get("key_figures", []))
    rl = rouge_l(summary, reference.get("summary", ""))["f"]
    # faithfulness gates: an unfaithful summary is worth little however much it covers
    score = faithful * (0.5 * coverage + 0.5 * rl)
    return ItemScore(score=min(1.0, max(0.0, score)),
                     metrics={"faithfulness": faithful, "coverage": coverage, "rouge_l": rl,
                              "llm_method": float(output.get("method") == "llm")})


def score_compliance(reference: dict[str, Any], output: dict[str, Any]) -> ItemScore:
    got = {v.get("category") for v in output.get("violations", [])}
    gold = set(reference.get("categories", []))
    p, r, f1 = prf(got, gold)
    return ItemScore(score=f1, metrics={"precision": p, "recall": r, "f1": f1,
                                        "tp": float(len(got & gold)), "fp": float(len(got - gold)),
                                        "fn": float(len(gold - got)),
                                        "decision_correct": float((not got) == (not gold))})


def aggregate(skill: str, scores: Sequence[ItemScore]) -> dict[str, float]:
    """Mean of every metric over the items that have it (so a fallback item, which carries only `fallback`,
    does not lend the candidate its metrics); compliance also gets micro-averaged precision/recall/F1."""
    if not scores:
        return {"score": 0.0}
    out: dict[str, float] = {"score": sum(s.score for s in scores) / len(scores)}
    keys = sorted({k for s in scores for k in s.metrics})
    for k in keys:
        vals = [s.metrics[k] for s in scores if k in s.metrics]
        out[k] = sum(vals) / len(vals)
    if skill == "compliance_check" and any("tp" in s.metrics for s in scores):  # over the candidate's own outputs
        tp = sum(s.metrics.get("tp", 0) for s in scores)
        fp = sum(s.metrics.get("fp", 0) for s in scores)
        fn = sum(s.metrics.get("fn", 0) for s in scores)
        out["micro_precision"] = tp / (tp + fp) if tp + fp else 1.0
        out["micro_recall"] = tp / (tp + fn) if tp + fn else 1.0
        mp, mr = out["micro_precision"], out["micro_recall"]
        out["micro_f1"] = 2 * mp * mr / (mp + mr) if mp + mr else 0.0
    return out


def score_item(skill: str, reference: dict[str, Any], output: dict[str, Any], source: str | None = None) -> ItemScore:
    """Dispatch to the skill's scorer; an unknown skill scores exact JSON equality of output and reference."""
    if skill == "planner":
        return score_planner(reference, output)
    if skill == "credit_lookup":
        return score_credit(reference, output)
    if skill == "report_summary":
        return score_summary(reference, output, source)
    if skill == "compliance_check":
        return score_compliance(reference, output)
    expected = reference.get("output")
    return ItemScore(score=float(expected is not None and expected == output), metrics={})
