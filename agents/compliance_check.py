"""`compliance_check`: rules before anything else, a small model only as an optional second opinion.

The checks themselves live in `tools.compliance` (the compliance gate runs them too): `check_rules(text, client,
product)` is the rules only (pattern rules in English and Chinese for guaranteed returns and misleading claims,
the risk-disclosure rule for recommendations, PII detection, and, when a client and a product are given, the
suitability rules); `check_learned` adds the learned classifier (the arena's classical baseline).

With `assist=True` the routed model may flag further guaranteed-return or misleading-claim phrases; a
validator keeps a flag only if its quote occurs verbatim in the text, and such flags carry rule
CMP-LLM-001 so reviewers can tell them apart from rule hits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from fincopilot.agents._common import fence, flag_injection
from fincopilot.agents.skills import (
    QUOTE_REF,
    Entities,
    Evaluation,
    PerCategory,
    Rendered,
    SkillContext,
    skill,
)
from fincopilot.errors import BackendError, InputError
from fincopilot.log import get_logger
from fincopilot.models.messages import Message
from fincopilot.models.trainset import SkillTask
from fincopilot.tools.compliance import check_learned, check_rules, run_rules, with_learned
from fincopilot.tools.compliance_rules import CATEGORIES, ComplianceResult, Violation, pattern_violations
from fincopilot.tools.textmetrics import prf

log = get_logger(__name__)

__all__ = [
    "CATEGORIES",
    "ComplianceArgs",
    "ComplianceResult",
    "Violation",
    "check_learned",
    "check_rules",
    "compliance_check",
]


class ComplianceArgs(BaseModel):
    text: str = Field(description="the outgoing text (e.g. a recommendation) to check")
    client: str | None = Field(None, description="client id or name, to check suitability")
    product: str | None = Field(None, description="product code, to check suitability")
    assist: bool = Field(False, description="also ask the small model for phrases the rules missed")
    learned: bool = Field(
        True, description="also run the learned classifier (char n-gram, calibrated threshold)"
    )


class _Flag(BaseModel):
    category: Literal["guaranteed_return", "misleading_claim"]
    quote: str = Field(max_length=200)


class _Flags(BaseModel):
    flags: list[_Flag] = Field(default_factory=list, max_length=5)


SYSTEM = (
    "You are a compliance officer at a bank. Find phrases in the advisor's text that promise or guarantee "
    "returns (guaranteed_return) or make misleading performance claims (misleading_claim). Quote each "
    "phrase exactly. If there are none, return an empty list. Answer with JSON."
)


def model_flags(text: str, ctx: SkillContext, already: list[Violation]) -> list[Violation]:
    """The model's extra flags that survive validation (verbatim quote, not already flagged)."""
    flag_injection(text, "advisor text", ctx.request_id, ctx.skill)
    try:
        out = ctx.complete(
            [
                Message(role="system", content=SYSTEM),
                Message(role="user", content=fence(text, "advisor text")),
            ],
            schema=_Flags,
            max_tokens=120,
        )
        flags = (
            out.parsed.flags if isinstance(out.parsed, _Flags) else _Flags.model_validate_json(out.text).flags
        )
    except (BackendError, ValueError) as err:
        log.warning("compliance_model_failed", error=str(err)[:300])
        return []
    found = []
    for f in flags:
        quote = f.quote.strip()
        if len(quote) < 4 or quote not in text or any(quote in v.span or v.span in quote for v in already):
            continue
        found.append(
            Violation(
                category=f.category,
                rule="CMP-LLM-001",
                span=quote,
                reason="flagged by the compliance model; needs human review",
            )
        )
    return found


# ------------------------------------------------------------ fine-tuning (the model's second-opinion flags)
_MODEL_CATEGORIES = ("guaranteed_return", "misleading_claim")


def _compliance_prompt(inp: dict[str, Any]) -> list[Message]:
    text = inp.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"a compliance_check item needs input.text (a non-empty string), got {inp!r}")
    return [
        Message(role="system", content=SYSTEM),
        Message(role="user", content=fence(text, "advisor text")),
    ]


def _compliance_target(inp: dict[str, Any], ref: dict[str, Any]) -> BaseModel | None:
    # the rules label the text: their guaranteed-return / misleading-claim spans are the flags to learn
    hits = [v for v in pattern_violations(inp["text"]) if v.category in _MODEL_CATEGORIES]
    return _Flags(flags=[_Flag(category=v.category, quote=v.span[:200]) for v in hits[:5]])


def _compliance_score(items: Sequence[Any], outputs: Sequence[BaseModel | None]) -> dict[str, float]:
    tp = fp = fn = 0
    for item, out in zip(items, outputs):
        gold = {v["category"] for v in item.reference.get("violations", [])} & set(_MODEL_CATEGORIES)
        got = (
            {f.category for f in out.flags if f.quote.strip() and f.quote in item.input["text"]}
            if out
            else set()
        )
        tp, fp, fn = tp + len(got & gold), fp + len(got - gold), fn + len(gold - got)
    p, r, f1 = _prf_from_counts(tp, fp, fn)
    return {"category_precision": p, "category_recall": r, "category_f1": f1}


def _prf_from_counts(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall and F1 from true/false positive and false negative counts; with nothing predicted
    precision is 1, with nothing to find recall is 1 (unlike `prf` on sets, which scores a flag on a clean
    text with recall 0)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def finetune_task() -> SkillTask:
    """How `fincopilot finetune compliance_check` trains and measures the model's flags."""
    return SkillTask(
        skill="compliance_check",
        prompt=_compliance_prompt,
        schema=lambda: _Flags,
        target=_compliance_target,
        score=_compliance_score,
        max_tokens=120,
        headline="category_f1",
    )


# --------------------------------------------------------------------------------------------- declaration
_ASKED = re.compile(
    r"complian|suitab|appropriate|regulat|disclos|draft|wording|ok to send|can i (?:send|post)"
    r"|合规|适当性|适合|合适|监管|风险提示|能发|可以发|审一下|文案|有没有问题",
    re.IGNORECASE,
)
EXAMPLES = [
    (
        "Is GB-1 suitable for client C-2001? Check her credit and the latest GB-1 report; keep it compliant.",
        {
            "steps": [
                {"id": 1, "skill": "credit_lookup", "args": {"client": "C-2001"}, "depends_on": []},
                {"id": 2, "skill": "report_summary", "args": {"product": "GB-1"}, "depends_on": []},
            ]
        },
    ),
    ("这段话合规吗：“本基金保证收益，稳赚不赔”", {"text": QUOTE_REF}),
]
PLAN_RULE = (
    "Every answer goes through the compliance gate (suitability included), so a recommendation, a suitability "
    "question or a comparison for a client needs only its credit_lookup and report_summary steps. "
    f'compliance_check is for a draft the request quotes: "text": "{QUOTE_REF}".'
)


def intent(e: Entities) -> bool:
    """A quoted draft to check: asked for, or a draft that names a client or a product."""
    if e.quote is None:
        return False
    return bool(_ASKED.search(e.request) or e.clients or e.products)


def plan_args(e: Entities) -> list[dict[str, Any]]:
    """The quoted draft as written; with a client and a product, their suitability too."""
    if e.quote is None:
        return []
    both = {"client": e.clients[0], "product": e.products[0]} if e.clients and e.products else {}
    return [{"text": e.quote, **both}]


def render(o: Mapping[str, Any]) -> Rendered:
    if o.get("passed"):
        return Rendered(text="Compliance check passed.")
    return Rendered(
        text="Compliance check failed: "
        + "; ".join(
            f"{v.get('category')} ({v.get('rule')}): {v.get('reason')}" for v in o.get("violations", [])
        )
    )


def metric(reference: Mapping[str, Any], output: Mapping[str, Any], source: str | None) -> dict[str, float]:
    """Precision, recall and F1 over the violation categories (micro-averaged by `micro_average`)."""
    got = {v.get("category") for v in output.get("violations", [])}
    gold = set(reference.get("categories", []))
    p, r, f1 = prf(got, gold)
    return {
        "score": f1,
        "precision": p,
        "recall": r,
        "f1": f1,
        "tp": float(len(got & gold)),
        "fp": float(len(got - gold)),
        "fn": float(len(gold - got)),
        "decision_correct": float((not got) == (not gold)),
    }


def micro_average(metrics: list[Mapping[str, float]]) -> dict[str, float]:
    """Precision, recall and F1 over the summed tp/fp/fn of `metric` rows."""
    tp, fp, fn = (sum(m.get(k, 0.0) for m in metrics) for k in ("tp", "fp", "fn"))
    mp, mr, mf1 = _prf_from_counts(tp, fp, fn)
    return {"micro_precision": mp, "micro_recall": mr, "micro_f1": mf1}


def baseline_rules(item_input: dict[str, Any]) -> dict[str, Any]:
    """The skill's default path without an LLM: the pattern rules plus the learned classifier."""
    i = item_input
    return check_learned(i["text"], i.get("client"), i.get("product")).model_dump(mode="json")


EVALUATION = Evaluation(
    eval_set=Path(__file__).resolve().parents[1] / "evals" / "sets" / "compliance_check.jsonl",
    metric=metric,
    aggregate=micro_average,
    baselines={"baseline:rules": baseline_rules},
    # a backend runs the skill's default path plus the model's review (assist): compared with baseline:rules
    # (the same path without an LLM) the difference is what the model adds
    backend_args={"assist": True},
    headline=("micro_precision", "micro_recall", "micro_f1"),
    per_category=PerCategory(
        names=CATEGORIES,
        gold=lambda reference: reference.get("categories", []),
        predicted=lambda output: [v.get("category") for v in output.get("violations", [])],
    ),
)


@skill(
    name="compliance_check",
    args=ComplianceArgs,
    output=ComplianceResult,
    tools=("suitability_check",),
    description="Check outgoing text for guaranteed returns, misleading claims, missing risk disclosure, "
    "unsuitable products and personal data (English and Chinese).",
    examples=EXAMPLES,
    intent=intent,
    plan_args=plan_args,
    needs="quoted draft to check",
    plan_rule=PLAN_RULE,
    render=render,
    evaluation=EVALUATION,
    finetune=finetune_task,
)
def compliance_check(args: ComplianceArgs, ctx: SkillContext) -> ComplianceResult:
    def suitability(client: str, product: str):
        return ctx.call_tool("suitability_check", {"client": client, "product": product})

    result = run_rules(args.text, args.client, args.product, suitability)
    if args.learned:
        result = with_learned(args.text, result)
    if args.assist:
        calls = len(ctx.trace)
        extra = model_flags(args.text, ctx, result.violations)
        if extra:
            result = ComplianceResult(passed=False, violations=[*result.violations, *extra])
        if len(ctx.trace) > calls:  # the model answered (its review counts even when it found nothing)
            result.produced_by = ctx.trace[-1]["backend"]
    return result
