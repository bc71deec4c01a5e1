"""The compliance checks of a text, with no model: the rules, the learned classifier, and suitability.

- `check_rules(text, client, product)`: the pattern rules in English and Chinese, the risk-disclosure rule for
  recommendations, PII detection and, with a client and a product, the suitability rules;
- `check_learned(...)`: the same plus the learned classifiers' flags (the `compliance_check` skill's default
  path, and the arena's classical baseline);
- `check_release(text, client, products, principal)`: what the compliance gate runs on a text about to be
  released: the rules and the learned classifier and, with a client, each product's suitability for that
  client, read as the request's principal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fincopilot.errors import InputError
from fincopilot.principal import Principal, acting_as
from fincopilot.tools.compliance_rules import (
    ComplianceResult,
    Violation,
    disclosure_violations,
    pattern_violations,
    pii_violations,
    suitability_result_violations,
)
from fincopilot.tools.compliance_semantic import default_check
from fincopilot.tools.suitability import SuitabilityArgs, SuitabilityResult, suitability_check
from fincopilot.tools.textnorm import MAX_TEXT, check_text, normalize

Suitability = Callable[[str, str], SuitabilityResult]


def _suitability(client: str, product: str) -> SuitabilityResult:
    return suitability_check(SuitabilityArgs(client=client, product=product))


def run_rules(
    text: str, client: str | None, product: str | None, suitability: Suitability | None = None
) -> ComplianceResult:
    """The rules' verdict on `text`; with a client and a product, `suitability(client, product)` too
    (default: the suitability tool called directly)."""
    text = check_text(text, "text to check", MAX_TEXT)
    if (client is None) != (product is None):
        raise InputError("give both client and product to check suitability (or neither)")
    violations: list[Violation] = []
    violations += pattern_violations(text)
    violations += disclosure_violations(text)
    violations += pii_violations(text)
    if client is not None and product is not None:
        violations += suitability_result_violations(text, (suitability or _suitability)(client, product))
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
    validation at the text's language's budget, `default_check`) in categories the rules did not already flag
    (spans quote the original)."""
    model, budget = default_check().pick(text)
    norm = normalize(text)
    seen = {v.category for v in already}
    out = []
    for flag in model.flags(text, budget=budget):
        if flag.category in seen:
            continue
        threshold = model.threshold(flag.category, budget)
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


def with_learned(text: str, result: ComplianceResult) -> ComplianceResult:
    """`result` (the rules' verdict on `text`) plus the learned classifiers' further flags."""
    extra = learned_violations(text, result.violations)
    if not extra:
        return result
    return ComplianceResult(passed=False, violations=[*result.violations, *extra])


def check_rules(text: str, client: str | None = None, product: str | None = None) -> ComplianceResult:
    """Rules only, no model: every category, both languages."""
    return run_rules(text, client, product)


def check_learned(text: str, client: str | None = None, product: str | None = None) -> ComplianceResult:
    """Rules plus the learned classifier (the default path of the `compliance_check` skill), no LLM."""
    return with_learned(text, run_rules(text, client, product))


def check_release(
    text: str, client: str | None = None, products: Sequence[str] = (), principal: Principal | None = None
) -> ComplianceResult:
    """The compliance gate's check of a text about to be released: the rules and the learned classifier, and
    with a client, each product's suitability for that client (the data read as `principal`)."""
    with acting_as(principal):
        violations = list(check_learned(text).violations)
        if client:
            for product in products:
                violations += suitability_result_violations(text, _suitability(client, product))
    return ComplianceResult(passed=not violations, violations=violations)
