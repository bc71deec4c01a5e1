"""`credit_lookup`: resolve a client, fetch the bureau record, score it with the scorecard.

Numbers come only from the scorecard tool. The routed small model may phrase a one-sentence
explanation; a validator rejects it unless every number in it appears in the facts it was given and
every claim is grounded in them (`tools.grounding`: units, entities, attributes); otherwise a
deterministic template explanation is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from fincopilot.agents._common import fence, repetitive, tidy_generated
from fincopilot.agents.skills import Evaluation, Rendered, SkillContext, skill
from fincopilot.errors import BackendError
from fincopilot.log import get_logger
from fincopilot.models.messages import Message
from fincopilot.tools.grounding import ungrounded
from fincopilot.tools.numbers import numeric_faithfulness, unsupported_numbers

log = get_logger(__name__)


class CreditLookupArgs(BaseModel):
    client: str = Field(description="client id like C-1042, or the client's full name")
    explain: bool = Field(
        True, description="let the small model phrase a short explanation (numbers stay checked)"
    )


class ReasonCode(BaseModel):
    attribute: str
    value: str
    description: str


class CreditResult(BaseModel):
    client_id: str
    client_name: str
    score: int = Field(description="scorecard points: 600 at 50:1 good:bad odds, +20 doubles the odds")
    pd: float = Field(description="probability of default")
    grade: str = Field(description="rating grade A (best) .. G")
    reason_codes: list[ReasonCode]
    model_version: str
    sources: list[str]
    explanation: str = ""
    explanation_method: Literal["llm", "template"] = "template"
    produced_by: str = Field(
        "template", description="what wrote the explanation: a backend id, or 'template'"
    )


class _Explanation(BaseModel):
    explanation: str = Field(max_length=240)


SYSTEM = (
    "You are a credit analyst assistant at a bank. In one or two sentences, explain a client's credit "
    "score to the client's advisor. Use only the facts given; do not add any number that is not in the "
    'facts. Answer with JSON: {"explanation": "..."}.'
)


def facts_text(result: CreditResult) -> str:
    reasons = "; ".join(r.description for r in result.reason_codes) or "no adverse factors"
    return (
        f"Client {result.client_name} ({result.client_id}). Score {result.score}. "
        f"Probability of default {result.pd:.2%}. Grade {result.grade}. Main adverse factors: {reasons}."
    )


def template_explanation(result: CreditResult) -> str:
    top = ", ".join(r.attribute.replace("_", " ") for r in result.reason_codes[:2])
    tail = f" The main factors lowering the score: {top}." if top else ""
    return (
        f"{result.client_name} scores {result.score} points (grade {result.grade}), an estimated "
        f"{result.pd:.2%} probability of default.{tail}"
    )


def explain(result: CreditResult, ctx: SkillContext) -> tuple[str, str]:
    """(explanation, method): the model's sentence if it passes the number check, else the template."""

    facts = facts_text(result)
    messages = [
        Message(role="system", content=SYSTEM),
        Message(role="user", content=fence(facts, "credit facts") + "\nExplain this score briefly."),
    ]
    try:
        out = ctx.complete(messages, schema=_Explanation, max_tokens=96)
        text = tidy_generated(out.parsed.explanation if out.parsed is not None else out.text)
    except BackendError as err:
        log.warning("credit_explanation_failed", error=str(err))
        return template_explanation(result), "template"
    # The explanation must be about this score: it names the score or the grade.
    on_topic = str(result.score) in text or f"grade {result.grade.lower()}" in text.lower()
    # Grades are letters, so the number check cannot see a wrong one: every grade named must be the real one.
    wrong_grade = any(
        g.upper() != result.grade for g in re.findall(r"\bgrade\s+([A-G])\b", text, re.IGNORECASE)
    )
    sources = [facts, template_explanation(result)]
    if (
        len(text) < 20
        or not on_topic
        or wrong_grade
        or repetitive(text)
        or unsupported_numbers(text, sources)
        or ungrounded(text, sources)
    ):
        log.info("credit_explanation_rejected", text=text[:200], ungrounded=ungrounded(text, sources))
        return template_explanation(result), "template"
    return text, "llm"


# --------------------------------------------------------------------------------------------- declaration
SCORE_TOLERANCE = 10  # scorecard points: the arena's tolerance for a score to count as right
INTENT = re.compile(
    r"credit|scor(?:e|ing)|\bPD\b|default (?:risk|prob)|rating|creditworth|bureau|"
    r"信用|评分|征信|违约|资信|评级",
    re.IGNORECASE,
)
EXAMPLES = [
    ("Check the credit of client C-1042.", {"client": "C-1042"}),
    ("What is C-2001's credit score and PD?", {"client": "C-2001"}),
    ("查一下C-1077的征信和违约概率", {"client": "C-1077"}),
]


def render(o: Mapping[str, Any]) -> Rendered:
    """One sentence with the score, grade and PD (copied from the output), the main factors, the explanation."""
    pd = o.get("pd")
    pd_txt = f"{pd:.2%}" if isinstance(pd, (int, float)) else str(pd)
    reasons = "; ".join(r.get("description", "") for r in o.get("reason_codes", [])[:3])
    text = (
        f"{o.get('client_name')} ({o.get('client_id')}) has a credit score of {o.get('score')}, grade "
        f"{o.get('grade')}, with an estimated probability of default of {pd_txt}."
        + (f" Main factors: {reasons}." if reasons else "")
        + (f" {o['explanation']}" if o.get("explanation") else "")
    )
    text_zh = (
        f"{o.get('client_name')}（{o.get('client_id')}）的信用评分为{o.get('score')}，等级{o.get('grade')}，"
        f"估计违约概率为{pd_txt}。"
    )
    return Rendered(text=text, text_zh=text_zh)


def credit_facts(reference: Mapping[str, Any], output: Mapping[str, Any]) -> list[str]:
    """What a credit explanation may state: the gold score/grade/PD and the tool output's own fields (client,
    reason codes), never the explanation itself (a text always supports itself)."""
    import json

    gold = f"score {reference['score']} grade {reference['grade']} PD {reference['pd']:.2%} {reference['pd']}"
    tool = {k: v for k, v in output.items() if k not in ("explanation", "explanation_method", "produced_by")}
    reasons = [r.get("description", "") for r in tool.get("reason_codes") or [] if isinstance(r, dict)]
    return [
        gold,
        f"{tool.get('client_name', '')} ({tool.get('client_id', '')})",
        *reasons,
        json.dumps(tool, ensure_ascii=False, default=str),
    ]


def metric(reference: Mapping[str, Any], output: Mapping[str, Any], source: str | None) -> dict[str, float]:
    """Grade exact match, score within ±SCORE_TOLERANCE points, and an explanation that is faithful in numbers
    AND grounded in meaning (`tools.grounding`: units, entities, attributes of the tool output)."""

    grade_ok = float(output.get("grade") == reference["grade"])
    score = output.get("score")
    score_ok = float(isinstance(score, (int, float)) and abs(score - reference["score"]) <= SCORE_TOLERANCE)
    facts = credit_facts(reference, output)
    explanation = output.get("explanation") or ""
    faithful = numeric_faithfulness(explanation, facts) if explanation else 1.0
    grounded = float(not ungrounded(explanation, facts)) if explanation else 1.0
    return {
        "score": (grade_ok + score_ok + faithful * grounded) / 3,
        "grade_exact": grade_ok,
        "score_within_tol": score_ok,
        "explanation_faithfulness": faithful,
        "explanation_grounded": grounded,
        "llm_explanation": float(output.get("explanation_method") == "llm"),
    }


def baseline_template(item_input: dict[str, Any]) -> dict[str, Any]:
    """No model: the scorecard's numbers and the template explanation."""
    ctx = SkillContext(skill="credit_lookup", allowed_tools=credit_lookup.tools)
    return credit_lookup.run({"client": item_input["client"], "explain": False}, ctx).model_dump(mode="json")


EVALUATION = Evaluation(
    eval_set=Path(__file__).resolve().parents[1] / "evals" / "sets" / "credit_lookup.jsonl",
    metric=metric,
    baselines={"baseline:template": baseline_template},
    backend_args={"explain": True},
    headline=("grade_exact", "score_within_tol", "explanation_faithfulness", "explanation_grounded"),
)


@skill(
    name="credit_lookup",
    args=CreditLookupArgs,
    output=CreditResult,
    tools=("client_lookup", "credit_score"),
    description="Credit check of a client (id or name): scorecard score, PD, rating grade and reason codes.",
    examples=EXAMPLES,
    intent=INTENT,
    plan_args=lambda e: [{"client": c} for c in e.clients[:3]],
    needs="client id (like C-1042)",
    bare_entity="client",
    plan_rule="One credit_lookup per client.",
    render=render,
    evaluation=EVALUATION,
    recommends={"client": "client"},
)
def credit_lookup(args: CreditLookupArgs, ctx: SkillContext) -> CreditResult:
    client = ctx.call_tool("client_lookup", {"client": args.client})
    scored = ctx.call_tool("credit_score", {"client_id": client.client_id})
    result = CreditResult(
        client_id=client.client_id,
        client_name=client.name_en,
        score=scored.score,
        pd=scored.pd,
        grade=scored.grade,
        reason_codes=[
            ReasonCode(attribute=r.attribute, value=r.value, description=r.description)
            for r in scored.reason_codes
        ],
        model_version=scored.model_version,
        sources=[f"clients:{client.client_id}", *scored.sources],
    )
    if args.explain:
        result.explanation, result.explanation_method = explain(result, ctx)
        if result.explanation_method == "llm":
            result.produced_by = ctx.trace[-1]["backend"]
    else:
        result.explanation = template_explanation(result)
    return result
