"""`compliance_check`: rules before anything else, a small model only as an optional second opinion.

`check_rules(text, client, product)` is the rules-only check (the arena's classical baseline): pattern
rules in English and Chinese for guaranteed returns and misleading claims, the risk-disclosure rule for
recommendations, PII detection, and, when a client and a product are given, the suitability rules.

With `assist=True` the routed model may flag further guaranteed-return or misleading-claim phrases; a
validator keeps a flag only if its quote occurs verbatim in the text, and such flags carry rule
CMP-LLM-001 so reviewers can tell them apart from rule hits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fincopilot.agents._common import check_text, fence, flag_injection
from fincopilot.agents.skills import SkillContext, skill
from fincopilot.models.base import Message
from fincopilot.tools.compliance_rules import (
    CATEGORIES,
    MAX_TEXT,
    ComplianceResult,
    Violation,
    disclosure_violations,
    pattern_violations,
    pii_violations,
    suitability_result_violations,
)
from pydantic import BaseModel, Field

from fincopilot.errors import BackendError, InputError
from fincopilot.log import get_logger

log = get_logger(__name__)

__all__ = ["CATEGORIES", "ComplianceArgs", "ComplianceResult", "Violation", "check_learned", "check_rules",
           "compliance_check"]


class ComplianceArgs(BaseModel):
    text: str = Field(description="the outgoing text (e.g. a recommendation) to check")
    client: str | None = Field(None, description="client id or name, to check suitability")
    product: str | None = Field(None, description="product code, to check suitability")
    assist: bool = Field(False, description="also ask the small model for phrases the rules missed")
    learned: bool = Field(True, description="also run the learned classifier (char n-gram, calibrated threshold)")


def _run_rules(text: str, client: str | None, product: str | None,
               suitability: Callable[[str, str], object] | None) -> ComplianceResult:
    text = check_text(text, "text to check", MAX_TEXT)
    if (client is None) != (product is None):
        raise InputError("give both client and product to check suitability (or neither)")
    violations: list[Violation] = []
    violations += pattern_violations(text)
    violations += disclosure_violations(text)
    violations += pii_violations(text)
    if client is not None and product is not None:
        if suitability is None:
            from fincopilot.tools.suitability import SuitabilityArgs, suitability_check

            result = suitability_check(SuitabilityArgs(client=client, product=product))
        else:
            result = suitability(client, product)
        violations += suitability_result_violations(text, result)
    return ComplianceResult(passed=not violations, violations=violations)


_LEARNED_RULES = {"guaranteed_return": "CMP-ML-GR", "misleading_claim": "CMP-ML-MC",
                  "missing_risk_disclosure": "CMP-ML-RD", "suitability": "CMP-ML-SU", "pii": "CMP-ML-PII"}


def learned_violations(text: str, already: list[Violation]) -> list[Violation]:
    """The learned classifier's flags in categories the rules did not already flag (spans quote the original)."""
    from fincopilot.tools.compliance_model import load_model
    from fincopilot.tools.textnorm import normalize

    model = load_model()
    norm = normalize(text)
    seen = {v.category for v in already}
    out = []
    for flag in model.flags(text):
        if flag.category in seen:
            continue
        threshold = model.models[flag.category].threshold
        out.append(Violation(category=flag.category, rule=_LEARNED_RULES[flag.category],  # type: ignore[arg-type]
                             span=norm.original_text(flag.start, flag.end).strip(),
                             reason=f"learned classifier: p={flag.probability:.2f} >= calibrated threshold "
                                    f"{threshold:.2f}; needs human review"))
    return out


def check_learned(text: str, client: str | None = None, product: str | None = None) -> ComplianceResult:
    """Rules plus the learned classifier (the default path of the `compliance_check` skill), no LLM."""
    result = _run_rules(text, client, product, None)
    extra = learned_violations(text, result.violations)
    return ComplianceResult(passed=not (result.violations or extra), violations=[*result.violations, *extra])


def check_rules(text: str, client: str | None = None, product: str | None = None) -> ComplianceResult:
    """Rules only, no model: every category, both languages."""
    return _run_rules(text, client, product, None)


class _Flag(BaseModel):
    category: Literal["guaranteed_return", "misleading_claim"]
    quote: str = Field(max_length=200)


class _Flags(BaseModel):
    flags: list[_Flag] = Field(default_factory=list, max_length=5)


SYSTEM = ("You are a compliance officer at a bank. Find phrases in the advisor's text that promise or guarantee "
          "returns (guaranteed_return) or make misleading performance claims (misleading_claim). Quote each "
          "phrase exactly. If there are none, return an empty list. Answer with JSON.")


def model_flags(text: str, ctx: SkillContext, already: list[Violation]) -> list[Violation]:
    """The model's extra flags that survive validation (verbatim quote, not already flagged)."""
    flag_injection(text, "advisor text", ctx.request_id, ctx.skill)
    try:
        out = ctx.complete([Message(role="system", content=SYSTEM),
                            Message(role="user", content=fence(text, "advisor text"))], schema=_Flags, max_tokens=120)
        flags = out.parsed.flags if isinstance(out.parsed, _Flags) else _Flags.model_validate_json(out.text).flags
    except (BackendError, ValueError) as err:
        log.warning("compliance_model_failed", error=str(err)[:300])
        return []
    found = []
    for f in flags:
        quote = f.quote.strip()
        if len(quote) < 4 or quote not in text or any(quote in v.span or v.span in quote for v in already):
            continue
        found.append(Violation(category=f.category, rule="CMP-LLM-001", span=quote,
                               reason="flagged by the compliance model; needs human review"))
    return found


@skill(name="compliance_check", args=ComplianceArgs, output=ComplianceResult, tools=("suitability_check",),
       description="Check outgoing text for guaranteed returns, misleading claims, missing risk disclosure, "
                   "unsuitable products and personal data (English and Chinese).")
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
