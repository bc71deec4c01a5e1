"""Suitability rules: may this client buy this product (for this amount)?

Each rule has a stable id (SUIT-001 ...) so that violations can be cited, audited and counted.
The rules follow the usual investor-suitability practice (match the product's risk level R1-R5 to the
client's KYC risk profile 1-5, limit concentration, protect elderly clients and short horizons).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from fincopilot.tools.data import Client, Holding, Product, get_client, get_holdings, get_product
from fincopilot.tools.registry import tool

CONCENTRATION_LIMIT = 0.30  # one product at most 30% of the portfolio after the purchase
HIGH_RISK_MIN_HORIZON = 3  # R4/R5 need an investment horizon of at least 3 years
ELDERLY_AGE = 70  # clients aged 70+ buying R4/R5 need review
AFFORDABILITY_SHARE = 0.5  # one purchase at most 50% of annual income for R3 and above


class SuitabilityViolation(BaseModel):
    rule: str
    reason: str
    severity: Literal["block", "review"] = "block"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    check: Callable[[Client, Product, list[Holding], float | None], str | None]
    severity: Literal["block", "review"] = "block"


def _risk_match(c: Client, p: Product, _h: list[Holding], _a: float | None) -> str | None:
    if p.risk_number > c.risk_profile:
        return (
            f"product {p.code} is risk level {p.risk_level}, above the client's risk profile "
            f"{c.risk_profile} ({c.risk_profile_label}); the highest level allowed is R{c.risk_profile}"
        )
    return None


def _concentration(c: Client, p: Product, holdings: list[Holding], amount: float | None) -> str | None:
    if not amount:
        return None
    total = sum(h.market_value for h in holdings) + amount
    in_product = sum(h.market_value for h in holdings if h.product_code == p.code) + amount
    share = in_product / total if total else 1.0
    if share > CONCENTRATION_LIMIT:
        return (
            f"after the purchase {p.code} would be {share:.0%} of the portfolio, above the "
            f"{CONCENTRATION_LIMIT:.0%} single-product limit"
        )
    return None


def _horizon(c: Client, p: Product, _h: list[Holding], _a: float | None) -> str | None:
    if p.risk_number >= 4 and c.horizon_years < HIGH_RISK_MIN_HORIZON:
        return (
            f"{p.risk_level} products need an investment horizon of at least {HIGH_RISK_MIN_HORIZON} years; "
            f"the client's horizon is {c.horizon_years} years"
        )
    return None


def _elderly(c: Client, p: Product, _h: list[Holding], _a: float | None) -> str | None:
    if p.risk_number >= 4 and c.age >= ELDERLY_AGE:
        return (
            f"the client is {c.age} (70 or older) and {p.code} is {p.risk_level}: needs a documented review"
        )
    return None


def _affordability(c: Client, p: Product, _h: list[Holding], amount: float | None) -> str | None:
    if amount and p.risk_number >= 3 and amount > AFFORDABILITY_SHARE * c.annual_income:
        return (
            f"the purchase ({amount:,.0f}) exceeds {AFFORDABILITY_SHARE:.0%} of the client's annual income "
            f"({c.annual_income:,.0f}) for an {p.risk_level} product"
        )
    return None


def _complex(c: Client, p: Product, _h: list[Holding], _a: float | None) -> str | None:
    if p.product_type == "structured note" and c.risk_profile < 4 and p.risk_number >= 4:
        return f"{p.code} is a complex product (structured note); it needs risk profile 4 or higher"
    return None


RULES: tuple[Rule, ...] = (
    Rule("SUIT-001", "Product risk level must not exceed the client's risk profile", _risk_match),
    Rule("SUIT-002", "Single-product concentration at most 30% after the purchase", _concentration),
    Rule("SUIT-003", "R4/R5 products need an investment horizon of at least 3 years", _horizon),
    Rule("SUIT-004", "Clients aged 70+ buying R4/R5 products need review", _elderly, "review"),
    Rule("SUIT-005", "One purchase of an R3+ product at most 50% of annual income", _affordability),
    Rule("SUIT-006", "High-risk structured notes need risk profile 4 or higher", _complex),
)


class SuitabilityArgs(BaseModel):
    client: str = Field(description="client id like C-1042 or a full name")
    product: str = Field(description="product code like HY-7")
    amount: float | None = Field(
        None, ge=0, description="purchase amount in the product's currency (optional)"
    )


class SuitabilityResult(BaseModel):
    client_id: str
    product_code: str
    suitable: bool
    violations: list[SuitabilityViolation]
    rules_checked: list[str]
    client_risk_profile: int
    product_risk_level: str
    sources: list[str] = Field(default_factory=list)


def check_suitability(
    client: Client, product: Product, holdings: list[Holding], amount: float | None = None
) -> SuitabilityResult:
    """Apply every rule (pure function, no database access)."""
    violations = []
    for rule in RULES:
        reason = rule.check(client, product, holdings, amount)
        if reason:
            violations.append(SuitabilityViolation(rule=rule.id, reason=reason, severity=rule.severity))
    return SuitabilityResult(
        client_id=client.client_id,
        product_code=product.code,
        suitable=not violations,
        violations=violations,
        rules_checked=[r.id for r in RULES],
        client_risk_profile=client.risk_profile,
        product_risk_level=product.risk_level,
        sources=[f"clients:{client.client_id}", f"products:{product.code}", f"holdings:{client.client_id}"],
    )


@tool(
    name="suitability_check",
    args=SuitabilityArgs,
    output=SuitabilityResult,
    description="Check a product against a client's KYC profile and holdings; violations carry rule ids.",
)
def suitability_check(args: SuitabilityArgs) -> SuitabilityResult:
    client = get_client(args.client)
    product = get_product(args.product)
    return check_suitability(client, product, get_holdings(client.client_id), args.amount)
