"""The compliance gate: ONE graph node between the synthesized answer and its release.

Its input (`graphs.state.GateInput`) is the answer and, when the plan looked up a client and products, the
recommendation (`graphs.state.Recommendation`). The gate

1. adds the risk disclosure a recommendation needs (`tools.compliance_rules.risk_disclosure`), so the text it
   checks is the text that is released;
2. checks that text: the pattern rules and the learned classifier, and each product's suitability for the
   client (`tools.compliance.check_release`, run as the request's principal); a check that cannot run
   fails closed;
3. holds the answer for review when a check fails, when a number in it is unsupported, or when any text it was
   built on was flagged as a prompt-injection attempt (`injection_suspected` in the audit log);
4. emits `answer` (the text to release), `compliance` and, when it holds, `held`; audits the verdict.

A reviewer's edit comes back through the same node and is checked as written: no disclosure is added, and the
synthesis-time flags (unsupported numbers, injection) no longer apply to the reviewer's own text.
"""

from __future__ import annotations

from typing import Any

from fincopilot.agents._common import asks_in_chinese
from fincopilot.errors import FinCopilotError
from fincopilot.graphs.events import emit
from fincopilot.graphs.state import GateInput, Recommendation
from fincopilot.principal import Principal
from fincopilot.safety import audit
from fincopilot.tools.compliance import check_release
from fincopilot.tools.compliance_rules import risk_disclosure


def disclosed(answer: dict[str, Any], rec: Recommendation | None, request: str) -> dict[str, Any]:
    """The answer with the risk disclosure its recommendation needs, in the request's language (added once)."""
    text = answer.get("text", "")
    if rec is None or not rec["products"]:
        return answer
    zh = asks_in_chinese(request)
    line = risk_disclosure(rec["products"], zh=zh)
    if line in text:
        return answer
    return {**answer, "text": f"{text}{'' if zh else ' '}{line}".strip()}


def check(text: str, rec: Recommendation | None, principal: Principal | None) -> list[dict[str, Any]]:
    """The violations of `text` (rules, learned classifier, suitability per product); a check that cannot run
    is a violation itself, so nothing unchecked is released."""
    client, products = (rec["client"], rec["products"]) if rec else (None, [])
    try:
        result = check_release(text, client, products, principal)
    except FinCopilotError as err:
        return [
            {
                "category": "check_error",
                "rule": "GATE-001",
                "span": "",
                "reason": f"compliance check failed: {err}",
            }
        ]
    return [v.model_dump(mode="json") for v in result.violations]


def injection_violations(request_id: str) -> list[dict[str, Any]]:
    """A violation when any document or text behind this answer was flagged as an injection attempt."""
    hits = audit.rows(request_id, event="injection_suspected")
    if not hits:
        return []
    sources = sorted({str(h.payload.get("source", "?")) for h in hits})
    patterns = sorted({p for h in hits for p in h.payload.get("patterns", [])})
    return [
        {
            "category": "injection_suspected",
            "rule": "GATE-002",
            "span": ", ".join(sources)[:200],
            "reason": f"the answer is built on text flagged as a prompt-injection attempt ({', '.join(patterns)}); "
            "a reviewer must check it",
        }
    ]


def number_violations(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A violation when the synthesizer's number check left numbers no cited step supports."""
    if not answer.get("flagged"):
        return []
    return [
        {
            "category": "unsupported_number",
            "rule": "NUM-001",
            "span": ", ".join(answer.get("unsupported_numbers", [])),
            "reason": "the answer has numbers no cited step supports",
        }
    ]


def compliance_gate(state: GateInput) -> dict[str, Any]:
    """The graph node: check the answer to release (see the module doc); `status` answered or held."""
    rid = state["request_id"]
    rec = state.get("recommendation")
    answer = state.get("answer") or {}
    edited = answer.get("method") == "edited"  # a reviewer's edit: the text itself is checked again
    who = state.get("principal")
    if not edited:
        answer = disclosed(answer, rec, state.get("request", ""))
    violations = check(answer.get("text", ""), rec, Principal.model_validate(who) if who else None)
    if not edited:
        violations += injection_violations(rid) + number_violations(answer)
    client, products = (rec["client"], list(rec["products"])) if rec else (None, [])
    verdict = {"passed": not violations, "violations": violations, "client": client, "products": products}
    audit.record("compliance", request_id=rid, edited=edited, **verdict)
    if not edited:
        emit("answer", **answer)
    emit("compliance", **verdict)
    update: dict[str, Any] = {"answer": answer, "compliance": verdict, "status": "answered"}
    if not verdict["passed"]:
        reason = "; ".join(f"{v['category']}: {v['reason']}" for v in violations)[:500]
        audit.record("held", request_id=rid, reason=reason)
        emit("held", reason=reason)
        update["status"] = "held"
    return update
