"""`knowledge_qa`: answer an advisor's question from the knowledge base, citing document, section and page.

1. The product is resolved: a code in the arguments or the question, or a product named in words (English
   or Chinese names from the product table, longest match first); its documents and the general ones
   (policies) are searched, by hybrid retrieval (`kb_search`: BM25 + dense, RRF).
2. Evidence: the passages' sentences (a table row reads as "header: cell; ...") scored by the question's
   terms they contain (idf-weighted over the retrieved passages), the best from up to two passages.
3. Abstention: when the evidence covers too little of the question's terms (`MIN_COVERAGE`, chosen on the
   eval set's train split), the answer is "not found in the knowledge base", never a guess.
4. With `use_model` the routed model may phrase the answer from the evidence; a validator keeps it only when
   every number in it is in the cited passages (else the extractive answer, verbatim, is returned).
5. Internal-only documents are cited with an explicit "internal — not for clients" mark.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from fincopilot.agents._common import fence, flag_injection, repetitive, sentences, tidy_generated
from fincopilot.agents.skills import (
    PRODUCT_CODE,
    Entities,
    Evaluation,
    Rendered,
    SkillContext,
    SourceRef,
    skill,
)
from fincopilot.errors import BackendError, FinCopilotError
from fincopilot.log import get_logger
from fincopilot.models.messages import Message
from fincopilot.tools.data import list_products
from fincopilot.tools.kb import tokenize
from fincopilot.tools.numbers import extract_numbers, unsupported_numbers

log = get_logger(__name__)

NOT_FOUND = "Not found in the knowledge base."
NOT_FOUND_ZH = "知识库中未找到相关内容。"
MIN_COVERAGE = 0.45  # share of the question's (idf-weighted) terms the evidence must contain: chosen on the
# eval set's train split (`fincopilot kb eval --sweep`: 0.30-0.45 tie at 0.947, 0.50 0.921)
TOP_K = 5
MAX_EVIDENCE = 2
ABSENT_TERM_WEIGHT = 2.0  # extra idf of a question term found in none of the retrieved passages
INTERNAL_MARK = "internal — not for clients"


class KnowledgeQaArgs(BaseModel):
    question: str = Field(
        min_length=1,
        max_length=1000,
        description="the advisor's question, in their words",
        json_schema_extra={"planner_max_chars": 120},
    )
    product: str | None = Field(
        None, description="product code like HY-7 when the question is about one product"
    )
    doc_type: str | None = Field(
        None, json_schema_extra={"planner": False}, description="prospectus, fee_schedule, research or policy"
    )
    mode: Literal["hybrid", "lexical", "dense"] = Field(
        "hybrid", description="retrieval: hybrid, lexical, dense"
    )
    use_model: bool = Field(True, description="False: the extractive answer only (no model call)")


class KbCitation(BaseModel):
    chunk_id: str
    document: str
    section: str
    page: int
    audience: str
    quote: str = Field(description="the passage text the answer relies on")


class Retrieved(BaseModel):
    chunk_id: str
    name: str = Field(description="the document's file name (stable across machines)")
    section: str


class KnowledgeAnswer(BaseModel):
    question: str
    found: bool
    answer: str
    product: str | None = None
    citations: list[KbCitation] = Field(default_factory=list)
    retrieved: list[Retrieved] = Field(default_factory=list, description="the passages retrieved, best first")
    coverage: float = Field(0.0, description="share of the question's terms found in the evidence")
    method: Literal["extractive", "llm", "abstain"] = "extractive"
    internal: bool = Field(False, description="the answer relies on an internal-only document")
    unsupported_numbers: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------- products
def resolve_product(question: str, given: str | None) -> str | None:
    """A product code from the argument, the question's code, or a product named in words."""

    if given:
        return given.strip().upper()
    codes = {m.upper() for m in PRODUCT_CODE.findall(question)}
    low = question.lower()
    try:
        products = list_products()
    except FinCopilotError:
        products = []
    names = [(p.name_en.lower(), p.code) for p in products] + [(p.name_zh, p.code) for p in products]
    for name, code in sorted(names, key=lambda nc: -len(nc[0])):
        if name and name in low:
            codes.add(code)
            low = low.replace(name, " ")  # "Asia High Yield Bond Fund" must not also count as HY-7
    return codes.pop() if len(codes) == 1 else None  # two products: search both (no filter)


# --------------------------------------------------------------------------------------------- evidence
def _units(text: str) -> list[str]:
    """Sentences of a passage; a Markdown table row becomes 'header: cell; header: cell'."""
    lines = text.splitlines()
    header: list[str] | None = None
    out: list[str] = []
    for line in lines:
        if line.strip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue
            if header is None:
                header = cells
                continue
            out.append("; ".join(f"{h}: {c}" for h, c in zip(header, cells)))
        else:
            header = None
            out += sentences(line)
    return out


_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "十一": 11,
    "十二": 12,
    "半": 0.5,
}
_UNIT_DAYS = {"day": 1, "日": 1, "天": 1, "week": 7, "周": 7, "month": 30, "月": 30, "year": 365, "年": 365}
_DURATION = re.compile(
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|十[一二]?|[一二两三四五六"
    r"七八九半])\s*(?:个)?\s*(days?|weeks?|months?|years?|日|天|周|月|年)",
    re.IGNORECASE,
)
_BELOW = re.compile(r"less than|below|under|少于|不满|以下", re.IGNORECASE)
_ABOVE = re.compile(r"or more|or longer|and above|以上|及以上", re.IGNORECASE)


def _durations(text: str) -> list[float]:
    out = []
    for m in _DURATION.finditer(text):
        n = m.group(1).lower()
        value = float(n) if n.isdigit() else _NUMBERS.get(n)
        if value is not None:
            out.append(value * _UNIT_DAYS[m.group(2).lower().rstrip("s")])
    return out


def holding_period_match(question: str, row: str) -> bool:
    """True when a table row's holding-period range ("7 days to less than 6 months", "6个月至不满12个月")
    contains the holding period the question states ("after four months", "持有三个月")."""
    asked = _durations(question)
    first_cell = row.split(";")[0]
    bounds = _durations(first_cell)
    if not asked or not bounds:
        return False
    days = asked[0]
    if len(bounds) >= 2:
        return bounds[0] <= days < bounds[1]
    if _BELOW.search(first_cell):
        return days < bounds[0]
    if _ABOVE.search(first_cell):
        return days >= bounds[0]
    return False


# Words that make a question a question; they say nothing about where the answer is.
_ASKING = frozenset(
    (
        "many",
        "much",
        "long",
        "must",
        "should",
        "need",
        "needs",
        "there",
        "tell",
        "get",
        "give",
        "please",
        "now",
        "几",
        "几年",
        "多久",
        "多长",
        "多长时间",
        "哪个",
        "哪些",
        "哪",
        "需要",
        "要",
        "有",
        "吗",
        "呢",
        "什么",
        "多少",
        "是",
        "分别",
        "以及",
        "请",
        "告诉",
        "我",
        "现在",
        "收",
        "谁",
        "天",
    )
)


def _stem(token: str) -> str:
    """Plural and simple verb endings off English words (fees → fee, policies → policy, approved → approv)."""
    if not token.isascii() or len(token) <= 3 or not token.isalpha():
        return token
    for suffix, repl in (("ies", "y"), ("ed", ""), ("ing", ""), ("es", "e"), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            return token[: len(token) - len(suffix)] + repl
    return token.rstrip("e") if token.endswith("e") and len(token) > 4 else token


def _terms(text: str, product: str | None) -> set[str]:

    drop = {product.lower()} if product else set()
    return {
        _stem(t).rstrip("e")
        for t in tokenize(text)
        if t not in drop and t not in _ASKING and (len(t) > 1 or t.isdigit())
    }


def select_evidence(
    question: str, hits: list[Any], product: str | None
) -> tuple[list[tuple[str, Any]], float]:
    """The best sentences (at most one per passage, `MAX_EVIDENCE` passages) and the question coverage."""
    q = _terms(question, product)
    if not q or not hits:
        return [], 0.0
    period = {t for m in _DURATION.finditer(question) for t in _terms(m.group(0), None)}
    units = [(u, h) for h in hits for u in _units(h.text)]
    df = {
        t: sum(1 for h in hits if t in _terms(h.title + " " + h.section + " " + h.text, product)) for t in q
    }
    # a term no retrieved passage contains weighs most: it is what the knowledge base does not know
    idf = {t: math.log(1 + len(hits) / (1 + df[t])) + (0.0 if df[t] else ABSENT_TERM_WEIGHT) for t in q}
    total = sum(idf.values())
    scored = []
    for rank, (u, h) in enumerate(units):
        terms = _terms(h.title + " " + h.section + " " + u, product)
        if holding_period_match(question, u):
            terms |= period  # the row's range contains the question's holding period
        gain = sum(idf[t] for t in q & terms)
        scored.append((gain / total, -rank, u, h))
    scored.sort(key=lambda x: (-x[0], -x[1]))
    chosen, covered, seen = [], set(), set()
    for gain, _, u, h in scored:
        if h.chunk_id in seen or gain <= 0:
            continue
        new = q & (
            _terms(h.title + " " + h.section + " " + u, product)
            | (period if holding_period_match(question, u) else set())
        )
        if chosen and not (new - covered):
            continue
        chosen.append((u, h))
        covered |= new
        seen.add(h.chunk_id)
        if len(chosen) >= MAX_EVIDENCE:
            break
    return chosen, sum(idf[t] for t in covered) / total


# --------------------------------------------------------------------------------------------- model path
_SYSTEM = (
    "You answer a bank advisor's question using only the passages given. Answer in one or two sentences, "
    "in the question's language. Copy every number exactly from the passages. Answer with JSON."
)


class _Draft(BaseModel):
    answer: str = Field(max_length=300)


def _model_answer(question: str, evidence: list[tuple[str, Any]], ctx: SkillContext) -> str | None:

    passages = "\n".join(f"- {h.title} § {h.section}: {h.text}" for _, h in evidence)
    flag_injection(passages, "knowledge base passages", ctx.request_id, ctx.skill)
    try:
        out = ctx.complete(
            [
                Message(role="system", content=_SYSTEM),
                Message(role="user", content=fence(passages, "passages") + "\nQuestion: " + question),
            ],
            schema=_Draft,
            max_tokens=120,
        )
        text = tidy_generated(out.parsed.answer if isinstance(out.parsed, _Draft) else out.text)
    except (BackendError, ValueError) as err:
        log.warning("knowledge_model_failed", error=str(err)[:300])
        return None
    facts = [h.text for _, h in evidence] + [u for u, _ in evidence]
    # each evidence sentence's figure (its last number: a table row's value) must survive the rephrasing
    needed = [found[-1].text for u, _ in evidence if (found := _numbers(u))]
    if (
        len(text) < 10
        or repetitive(text)
        or unsupported_numbers(text, facts)
        or any(unsupported_numbers(n, [text]) for n in needed)
    ):
        log.info("knowledge_model_rejected", text=text[:200])
        return None
    return text


def _numbers(text: str):

    return extract_numbers(text)


# --------------------------------------------------------------------------------------------- the skill
def _citation(h: Any, unit: str) -> KbCitation:
    return KbCitation(
        chunk_id=h.chunk_id, document=h.title, section=h.section, page=h.page, audience=h.audience, quote=unit
    )


def _retrieved(hits: list[Any]) -> list[Retrieved]:
    return [Retrieved(chunk_id=h.chunk_id, name=h.name, section=h.section) for h in hits]


def _abstain(args: KnowledgeQaArgs, product: str | None, hits: list[Any], coverage: float) -> KnowledgeAnswer:
    zh = bool(re.search(r"[\u4e00-\u9fff]", args.question))
    return KnowledgeAnswer(
        question=args.question,
        found=False,
        answer=NOT_FOUND_ZH if zh else NOT_FOUND,
        product=product,
        retrieved=_retrieved(hits),
        coverage=coverage,
        method="abstain",
    )


def answer_question(args: KnowledgeQaArgs, ctx: SkillContext) -> KnowledgeAnswer:

    product = resolve_product(args.question, args.product)
    found = ctx.call_tool(
        "kb_search",
        {
            "query": args.question,
            "k": TOP_K,
            "mode": args.mode,
            "product": product,
            "doc_type": args.doc_type,
        },
    )
    hits = list(found.hits)
    evidence, coverage = select_evidence(args.question, hits, product)
    if not evidence or coverage < MIN_COVERAGE:
        return _abstain(args, product, hits, coverage)
    extractive = " ".join(u if u.endswith((".", "。", "%")) else u + "." for u, _ in evidence)
    text, method = extractive, "extractive"
    if args.use_model:
        drafted = _model_answer(args.question, evidence, ctx)
        if drafted:
            text, method = drafted, "llm"
    cited = [h.text for _, h in evidence]
    internal = any(h.audience == "internal" for _, h in evidence)
    return KnowledgeAnswer(
        question=args.question,
        found=True,
        answer=text,
        product=product,
        citations=[_citation(h, u) for u, h in evidence],
        retrieved=_retrieved(hits),
        coverage=coverage,
        method=method,
        internal=internal,
        unsupported_numbers=[m.text for m in unsupported_numbers(text, cited)],
        sources=[f"kb:{h.chunk_id}" for _, h in evidence],
    )


# --------------------------------------------------------------------------------------------- declaration
INTENT = re.compile(
    r"prospectus|fee|redemption|redeem|subscription|lock-?up|minimum (?:investment|subscription)|polic(?:y|ies)"
    r"|disclos|according to|knowledge base|\bsaid\b|\bsay\b|费|招募说明书|赎回|申购|认购|锁定期|起购|政策|办法|规定|披露",
    re.IGNORECASE,
)
EXAMPLES = [
    (
        "What is HY-7's redemption fee after six months?",
        {"question": "HY-7 redemption fee after six months", "product": "HY-7"},
    ),
    ("科技龙头股票基金的申购费和风险等级是什么？", {"question": "科技龙头股票基金的申购费和风险等级"}),
    (
        "Can a C3 client buy an R4 product, and what must I disclose?",
        {"question": "C3 client R4 product disclosure"},
    ),
]


def plan_args(e: Entities) -> list[dict[str, Any]]:
    args: dict[str, Any] = {"question": e.request[:1000]}
    if len(e.products) == 1:
        args["product"] = e.products[0]
    return [args]


def render(o: Mapping[str, Any]) -> Rendered:
    """The answer, then each source as 'document § section, p. N' (internal ones marked)."""
    if not o.get("found"):
        return Rendered(text=o.get("answer") or NOT_FOUND)
    refs = []
    for c in o.get("citations", []):
        internal = c.get("audience") == "internal"
        label = f"{c['document']} § {c['section']}, p. {c['page']}" + (
            f" ({INTERNAL_MARK})" if internal else ""
        )
        refs.append(SourceRef(label=label, passage=c["chunk_id"], internal=internal))
    text = o["answer"] + " Sources: " + "; ".join(r.label for r in refs) + "."
    return Rendered(text=text, sources=refs)


def _relevant(r: Mapping[str, Any], group: list[Mapping[str, str]]) -> bool:
    return any(r.get("name") == g["doc"] and g["section"] in (r.get("section") or "") for g in group)


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def metric(reference: Mapping[str, Any], output: Mapping[str, Any], source: str | None) -> dict[str, float]:
    """recall@5 and MRR of the gold passages (answerable items), answer exactness (every gold answer string in
    the answer; for an unanswerable item: the skill abstained), abstention accuracy. Score = exactness."""
    answerable = bool(reference.get("answerable"))
    found = bool(output.get("found"))
    out = {"abstention_acc": float(found == answerable)}
    if answerable:
        top = list(output.get("retrieved") or [])[:TOP_K]
        groups = reference.get("gold") or []
        out["recall_at_5"] = sum(any(_relevant(r, g) for r in top) for g in groups) / max(1, len(groups))
        ranks = [i for i, r in enumerate(top, 1) if any(_relevant(r, g) for g in groups)]
        out["mrr"] = 1.0 / ranks[0] if ranks else 0.0
        answer = _norm(output.get("answer") or "")
        out["exact"] = float(found and all(_norm(a) in answer for a in reference.get("answer") or []))
    else:
        out["exact"] = float(not found)
    return {"score": out["exact"], **out}


def _baseline(mode: str):
    def run(item_input: dict[str, Any]) -> dict[str, Any]:
        ctx = SkillContext(skill="knowledge_qa", allowed_tools=("kb_search",))
        args = KnowledgeQaArgs(
            question=item_input["question"], product=item_input.get("product"), mode=mode, use_model=False
        )
        return answer_question(args, ctx).model_dump(mode="json")

    run.__doc__ = f"No model: {mode} retrieval and the extractive answer."
    run.__name__ = f"baseline_{mode}"
    return run


EVALUATION = Evaluation(
    eval_set=Path(__file__).resolve().parents[1] / "evals" / "sets" / "knowledge_qa.jsonl",
    metric=metric,
    baselines={f"baseline:{m}": _baseline(m) for m in ("hybrid", "lexical", "dense")},
    headline=("recall_at_5", "mrr", "exact", "abstention_acc"),
)


@skill(
    name="knowledge_qa",
    args=KnowledgeQaArgs,
    output=KnowledgeAnswer,
    tools=("kb_search",),
    description="Answer a question from the knowledge base (prospectuses, fee schedules, research, policies) "
    "with citations to document, section and page; says when the answer is not there.",
    examples=EXAMPLES,
    intent=INTENT,
    plan_args=plan_args,
    render=render,
    evaluation=EVALUATION,
)
def knowledge_qa(args: KnowledgeQaArgs, ctx: SkillContext) -> KnowledgeAnswer:
    return answer_question(args, ctx)
