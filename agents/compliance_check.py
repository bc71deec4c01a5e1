"""`compliance_check`: rules before anything else, a small model only as an optional second opinion.

`check_rules(text, client, product)` is the rules-only check (the arena's classical baseline): pattern
rules in English and Chinese for guaranteed returns and misleading claims, the risk-disclosure rule for
recommendations, PII detection, and, when a client and a product are given, the suitability rules.

With `assist=True` the routed model may flag further guaranteed-return or misleading-claim phrases; a
validator keeps a flag only if its quote occurs verbatim in the text, and such flags carry rule
CMP-LLM-001 so reviewers can tell them apart from rule hits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from fincopilot.agents._common import MAX_TEXT, check_text, fence, flag_injection
from fincopilot.agents.skills import (
    QUOTE_REF,
    Entities,
    Evaluation,
    Rendered,
    SkillContext,
    skill,
)
from fincopilot.errors import BackendError, InputError
from fincopilot.log import get_logger
from fincopilot.models.messages import Message
from fincopilot.tools.compliance_rules import (
    CATEGORIES,
    ComplianceResult,
    Violation,
    disclosure_violations,
    pattern_violations,
    pii_violations,
    suitability_result_violations,
)
from fincopilot.tools.compliance_semantic import load_combined
from fincopilot.tools.suitability import SuitabilityArgs, suitability_check
from fincopilot.tools.textmetrics import prf
from fincopilot.tools.textnorm import normalize

log = get_logger(__name__)

__all__ = [
    "CATEGORIES",
    "ComplianceArgs",
    "ComplianceResult",
    "Violation",
    "check_learned",
    "check_release",
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


def _run_rules(
    text: str, client: str | None, product: str | None, suitability: Callable[[str, str], object] | None
) -> ComplianceResult:
    text = check_text(text, "text to check", MAX_TEXT)
    if (client is None) != (product is None):
        raise InputError("give both client and product to check suitability (or neither)")
    violations: list[Violation] = []
    violations += pattern_violations(text)
    violations += disclosure_violations(text)
    violations += pii_violations(text)
    if client is not None and product is not None:
        if suitability is None:
            result = suitability_check(SuitabilityArgs(client=client, product=product))
        else:
            result = suitability(client, product)
        violations += suitability_result_violations(text, result)
    return ComplianceResult(passed=not violations, violations=violations)


_LEARNED_RULES = {
    "guaranteed_return": "CMP-ML-GR",
    "misleading_claim": "CMP-ML-MC",
    "missing_risk_disclosure": "CMP-ML-RD",
    "suitability": "CMP-ML-SU",
    "pii": "CMP-ML-PII",
}


def learned_violations(text: str, already: list[Violation]) -> list[Violation]:
    """The learned classifiers' flags (char n-gram and e5 semantic, combined; thresholds calibrated on
    validation for a 5% false-alarm budget) in categories the rules did not already flag (spans quote the
    original)."""
    model = load_combined()
    norm = normalize(text)
    seen = {v.category for v in already}
    out = []
    for flag in model.flags(text):
        if flag.category in seen:
            continue
        threshold = model.threshold(flag.category)
        out.append(
            Violation(
                category=flag.category,
                rule=_LEARNED_RULES[flag.category],  # type: ignore[arg-type]
                span=norm.original_text(flag.start, flag.end).strip(),
                reason=f"learned classifier: p={flag.probability:.2f} >= calibrated threshold "
                f"{threshold:.2f}; needs human review",
            )
        )
    return out


def check_learned(text: str, client: str | None = None, product: str | None = None) -> ComplianceResult:
    """Rules plus the learned classifier (the default path of the `compliance_check` skill), no LLM."""
    result = _run_rules(text, client, product, None)
    extra = learned_violations(text, result.violations)
    return ComplianceResult(passed=not (result.violations or extra), violations=[*result.violations, *extra])


def check_rules(text: str, client: str | None = None, product: str | None = None) -> ComplianceResult:
    """Rules only, no model: every category, both languages."""
    return _run_rules(text, client, product, None)


def check_release(text: str, client: str | None = None, products: Sequence[str] = ()) -> ComplianceResult:
    """The compliance gate's check of a text about to be released: the rules and the learned classifier, and
    with a client, each product's suitability for that client."""
    result = check_learned(text)
    suitability = [
        v
        for product in (products if client else ())
        for v in suitability_result_violations(
            text, suitability_check(SuitabilityArgs(client=client, product=product))
        )
    ]
    violations = [*result.violations, *suitability]
    return ComplianceResult(passed=not violations, violations=violations)


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
    ("这段话合规吗：“本基金保证收益”", {"text": QUOTE_REF}),
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
    tp, fp, fn = (sum(m.get(k, 0.0) for m in metrics) for k in ("tp", "fp", "fn"))
    mp = tp / (tp + fp) if tp + fp else 1.0
    mr = tp / (tp + fn) if tp + fn else 1.0
    return {
        "micro_precision": mp,
        "micro_recall": mr,
        "micro_f1": 2 * mp * mr / (mp + mr) if mp + mr else 0.0,
    }


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
)
def compliance_check(args: ComplianceArgs, ctx: SkillContext) -> ComplianceResult:
    def suitability(client: str, product: str):
        return ctx.call_tool("suitability_check", {"client": client, "product": product})

    result = _run_rules(args.text, args.client, args.product, suitability)
    if args.learned:
        extra = learned_violations(args.text, result.violations)
        if extra:
            result = ComplianceResult(passed=False, violations=[*result.violations, *extra])
    if args.assist:
        calls = len(ctx.trace)
        extra = model_flags(args.text, ctx, result.violations)
        if extra:
            result = ComplianceResult(passed=False, violations=[*result.violations, *extra])
        if len(ctx.trace) > calls:  # the model answered (its review counts even when it found nothing)
            result.produced_by = ctx.trace[-1]["backend"]
    return result
