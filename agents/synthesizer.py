"""The synthesizer: step outputs → the advisor's answer, with [n] citations and every number checked in code.

1. The routed `synthesizer` backend writes 2-3 sentences from the fenced step outputs, citing them as [n]
   (n = the step id).
2. Checks, in code: the answer cites only steps that succeeded; every number in it appears in a CITED step's
   output (`tools.numbers.unsupported_numbers`); it is not empty or a generation loop. A sentence that fails
   is dropped (repair); if too little is left, the answer is assembled from the step outputs by a
   deterministic template (every sentence cites its step, every number is copied from it).
3. Whatever path produced it, the final text is checked once more; anything unsupported is reported in
   `unsupported_numbers` and `flagged`, never sent silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from fincopilot.agents._common import (
    asks_in_chinese,
    fence,
    is_chinese,
    join_sentences,
    repetitive,
    sentences,
    tidy_generated,
)
from fincopilot.agents.skills import Rendered, SourceRef, get_skill, list_skills
from fincopilot.errors import BackendError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.models.gateway import default_gateway
from fincopilot.models.messages import Message
from fincopilot.tools.numbers import extract_numbers, unsupported_numbers

log = get_logger(__name__)

MAX_TOKENS = 140
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class Citation(BaseModel):
    n: int
    step_id: int
    sources: list[SourceRef] = Field(
        default_factory=list, description="the documents behind this step, with links"
    )


class Answer(BaseModel):
    text: str
    citations: list[Citation] = Field(default_factory=list)
    numbers_checked: int = 0
    unsupported_numbers: list[str] = Field(default_factory=list)
    method: Literal["llm", "repaired", "template", "direct"] = "template"
    flagged: bool = False
    backend: str | None = None
    notes: list[str] = Field(default_factory=list, description="why a model answer was repaired or replaced")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def produced_by(self) -> str:
        """The backend whose text the answer kept, or "template" (a consulted model's text was discarded)."""
        if self.method in ("llm", "repaired") or (self.method == "direct" and self.backend):
            return self.backend or "template"
        return "template"


class _Draft(BaseModel):
    answer: str = Field(max_length=420)


# --------------------------------------------------------------------------------------------- citable text
def step_text(skill: str, output: Mapping[str, Any]) -> str:
    """The text of one step's output a synthesizer may cite (and the numbers it may use): the skill's renderer."""
    return rendered(skill, output).text


def rendered(skill: str, output: Mapping[str, Any]) -> Rendered:
    """The skill's own rendering of its output; a skill that is no longer registered renders as JSON."""
    try:
        return get_skill(skill).render(dict(output))
    except NotFoundError:
        return Rendered(text=json.dumps(dict(output), ensure_ascii=False, default=str)[:1500])


def _sources(skill: str, output: Mapping[str, Any]) -> list[str]:
    r = rendered(skill, output)
    return [
        r.text,
        *([r.text_zh] if r.text_zh else []),
        json.dumps(dict(output), ensure_ascii=False, default=str),
    ]


# --------------------------------------------------------------------------------------------- template
_ERROR_CLASS = re.compile(r"^[A-Za-z]+(?:Error|Timeout|Exception|Unavailable):\s*")


def plain_error(error: Any) -> str:
    """A failed step's error as a plain phrase for the advisor (the framework's exception name dropped)."""
    return _ERROR_CLASS.sub("", str(error or "unknown error")).strip().rstrip(".")[:240]


def _step_sentence(skill: str, n: int, o: Mapping[str, Any], zh: bool) -> str:
    """One cited sentence: the skill's rendering (its Chinese one for a request in Chinese, where it has one)."""
    r = rendered(skill, o)
    if zh and r.text_zh:
        return f"{r.text_zh} [{n}]"
    return f"{r.text} [{n}]"


def template_answer(
    request: str,
    steps: Sequence[Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Any]],
) -> str:
    """A deterministic answer in the request's language: one cited sentence per step, numbers copied from the
    outputs; a failed step is said plainly (its error text is framework-written, cited to the step)."""
    zh = asks_in_chinese(request)
    parts: list[str] = []
    for st in steps:
        r = results.get(str(st["id"]))
        if r is None:
            continue
        n = st["id"]
        if not r.get("ok"):
            why = plain_error(r.get("error"))
            parts.append(
                f"第{n}步（{st['skill']}）未能完成：{why} [{n}]。"
                if zh
                else f"Step {n} ({st['skill']}) could not run: {why} [{n}]."
            )
            continue
        parts.append(_step_sentence(st["skill"], n, r.get("output") or {}, zh))
    if not parts:
        return (
            "没有任何步骤产生结果，因此无可报告。"
            if zh
            else "No step produced a result, so there is nothing to report."
        )
    return ("" if zh else " ").join(parts)


# --------------------------------------------------------------------------------------------- checks
def citations(text: str) -> list[int]:
    out: list[int] = []
    for m in _CITE.finditer(text):
        for n in re.split(r"\s*,\s*", m.group(1)):
            if int(n) not in out:
                out.append(int(n))
    return out


def check_answer(text: str, sources_by_step: Mapping[int, list[str]]) -> tuple[list[str], list[str]]:
    """(problems, unsupported numbers) of `text`: bad citations, numbers not in a cited step's output."""
    cited = citations(text)
    problems = [f"cites [{n}], which is not a finished step" for n in cited if n not in sources_by_step]
    pool = [s for n in cited if n in sources_by_step for s in sources_by_step[n]]
    bad = [m.text for m in unsupported_numbers(text, pool)]
    if bad:
        problems.append(f"numbers not found in the cited step outputs: {', '.join(bad)}")
    return problems, bad


def _repair(text: str, sources_by_step: Mapping[int, list[str]]) -> str:
    """Keep only the sentences that cite a finished step and whose numbers that step supports."""
    kept = []
    for s in sentences(tidy_generated(text)):
        cited = citations(s)
        if cited and not check_answer(s, sources_by_step)[0]:
            kept.append(s)
    return join_sentences(kept, False)


# --------------------------------------------------------------------------------------------- main
SYSTEM = (
    "You are a bank advisor's assistant. Write the advisor a short answer (2 or 3 sentences) using only the "
    "facts below. After each fact write its source number in brackets, like [1]. Copy numbers exactly; "
    'never invent a number. Answer with JSON: {"answer": "..."}.'
)


def _model_answer(
    request: str, sources: Mapping[int, list[str]], zh: bool, gateway, request_id: str | None
) -> tuple[str, str, str | None, list[str]]:
    """(text, method, backend, notes): the model's draft if it passes the checks, else its repaired sentences,
    else "" (the caller falls back to the template)."""
    facts = "\n".join(f"[{n}] {src[0]}" for n, src in sorted(sources.items()))
    msgs = [
        Message(role="system", content=SYSTEM),
        Message(
            role="user",
            content=fence(facts, "step outputs")
            + "\nAdvisor's request: "
            + request
            + ("\nWrite the answer in Chinese (请用中文回答)." if zh else ""),
        ),
    ]
    try:
        out = (gateway or default_gateway()).complete(
            "synthesizer", msgs, schema=_Draft, max_tokens=MAX_TOKENS, request_id=request_id
        )
        draft = (out.parsed.answer if isinstance(out.parsed, _Draft) else out.text).strip()
    except (BackendError, ValueError) as err:
        return "", "template", None, [f"model answer failed: {err}"[:300]]
    problems, _ = check_answer(draft, sources)
    missing = sorted(set(sources) - set(citations(draft)))
    if missing:
        problems.append(f"does not cite step(s) {missing}")
    if repetitive(draft) or len(draft) < 30:
        problems.append("too short or repetitive")
    if zh and not is_chinese(draft):
        problems.append("not in the advisor's language (Chinese)")
    if not problems:
        return draft, "llm", out.backend_id, []
    repaired = _repair(draft, sources)
    if len(repaired) >= 40 and set(citations(repaired)) >= set(sources):
        return repaired, "repaired", out.backend_id, problems
    return "", "template", out.backend_id, problems


def synthesize(
    request: str,
    steps: Sequence[Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Any]],
    *,
    gateway=None,
    request_id: str | None = None,
    use_model: bool = True,
) -> Answer:
    """The cited, number-checked answer to `request` from the finished steps (see module doc)."""
    zh = asks_in_chinese(request)
    by_step = {int(st["id"]): st for st in steps}
    done = {int(k): r for k, r in results.items() if r.get("ok") and int(k) in by_step}
    sources = {n: _sources(by_step[n]["skill"], r["output"]) for n, r in done.items()}
    text, method, backend, notes = "", "template", None, []
    if use_model and sources:
        text, method, backend, notes = _model_answer(request, sources, zh, gateway, request_id)
    if not text:
        text, method = template_answer(request, steps, results), "template"
        if notes:
            log.info("answer_template", reasons=notes[:4])
    failed = {
        int(k): [plain_error(r.get("error")), f"Step {k}"]
        for k, r in results.items()
        if not r.get("ok") and int(k) in by_step
    }  # framework-written text, not a model claim
    problems, bad = check_answer(text, {**sources, **failed})
    refs = {n: rendered(by_step[n]["skill"], r["output"]).sources for n, r in done.items()}
    return Answer(
        text=text,
        citations=[Citation(n=n, step_id=n, sources=refs.get(n, [])) for n in citations(text)],
        numbers_checked=len(extract_numbers(text)),
        unsupported_numbers=bad,
        method=method,  # type: ignore[arg-type]
        flagged=bool(problems),
        backend=backend,
        notes=notes,
    )


DIRECT_SYSTEM = (
    "You are a friendly assistant for bank advisors. Reply in one or two short sentences. Do not give "
    "numbers, prices or product advice; say which tasks you can help with."
)


def direct_answer(
    request: str, prepared: str | None, *, gateway=None, request_id: str | None = None, use_model: bool = True
) -> Answer:
    """The reply to a request that needs no skill (a greeting, a general question, a missing id)."""
    if prepared:
        return Answer(text=prepared, method="direct")
    # skill names only: descriptions quote risky phrases ("guaranteed returns") the compliance gate would flag
    offer = (
        "I can run these skills for you: "
        + ", ".join(s.name for s in list_skills())
        + ". Name a client id (like C-1042) or a product code (like HY-7)."
    )
    if use_model:
        msgs = [Message(role="system", content=DIRECT_SYSTEM), Message(role="user", content=request)]
        try:
            out = (gateway or default_gateway()).complete(
                "synthesizer", msgs, max_tokens=60, request_id=request_id
            )
            text = tidy_generated(out.text)
            # a direct answer has no sources, so it may contain no number at all
            if text and not repetitive(text) and not unsupported_numbers(text, [request]):
                return Answer(text=f"{text} {offer}", method="direct", backend=out.backend_id)
        except BackendError as err:
            log.info("direct_answer_model_failed", error=str(err)[:200])
    return Answer(text=f"Hello! {offer}", method="direct")
