"""`report_summary`: summarize a research report without inventing numbers.

1. The report comes from the database (by product, and date: latest by default) or is given as text.
2. The routed small model writes a summary with structured output (`summary`, `key_figures`): greedy first,
   then, while the check below rejects it, up to `RETRIES` seeded samples (`sampling`), so a rejected answer
   is retried reproducibly.
3. A validator checks every number WITH its claim (quantity, direction, period, unit) against the report
   sentence it came from (`tools.claims.check_claims`): sentences and key figures with an unsupported claim
   are dropped (repair, reasons kept in `dropped`); if too little is left, the text is degenerate (empty,
   title only, a loop), or the model failed, the worker falls back to `extractive_summary` (sentences
   copied from the report) and says why in `rejected`.
4. The result carries its numeric faithfulness and any number that is still unsupported, so nothing
   unsupported is ever returned silently.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, Field, create_model

from fincopilot.agents._common import (
    SENTENCE_ENDS,
    check_text,
    fence,
    flag_injection,
    is_chinese,
    join_sentences,
    repetitive,
    sentences,
    tidy_generated,
)
from fincopilot.agents.skills import Evaluation, Rendered, SkillContext, skill
from fincopilot.errors import BackendError, FinCopilotError, InputError
from fincopilot.log import get_logger
from fincopilot.models.messages import Message
from fincopilot.models.trainset import SkillTask
from fincopilot.tools.claims import check_claims, degenerate_reason, unknown_identifiers
from fincopilot.tools.data import get_report
from fincopilot.tools.numbers import (
    copy_only_pattern,
    extract_numbers,
    numeric_faithfulness,
    unsupported_numbers,
)
from fincopilot.tools.textmetrics import rouge_l

log = get_logger(__name__)

MAX_PROMPT_CHARS = 2400  # the embedded model is small and slow: give it the report's first ~700 tokens
MIN_SUMMARY_CHARS = 40
MIN_FIGURES = 2
MAX_TOKENS = 240
# Sampled attempts after a rejected greedy summary, and their temperature: chosen on the development sets
# (validation, handwritten, test, handwritten2: kept 67/78 greedy, 76/78 with these; evals/examples/summary-eval.md).
RETRIES = 3
RETRY_TEMPERATURE = 1.0
SUMMARY_CHARS, FIGURE_CHARS = 360, 60

KEYWORDS = (
    "yield",
    "duration",
    "default",
    "nav",
    "net asset",
    "return",
    "fee",
    "spread",
    "rating",
    "volatility",
    "drawdown",
    "coupon",
    "knock",
    "maturity",
    "risk level",
    "收益率",
    "久期",
    "违约",
    "净值",
    "费率",
    "利差",
    "评级",
    "波动率",
    "回撤",
    "票息",
    "敲",
    "风险等级",
)


class ReportSummaryArgs(BaseModel):
    product: str | None = Field(None, description="product code like HY-7 (its report is looked up)")
    date: str | None = Field(None, description="report date YYYY-MM-DD; default: the latest report")
    text: str | None = Field(None, description="a report text to summarize instead of a stored report")
    use_model: bool = Field(True, description="False: extractive summary only (no model call)")


class SummaryResult(BaseModel):
    product: str | None
    report_id: str | None
    report_date: str | None
    summary: str
    key_figures: list[str]
    unsupported_numbers: list[str] = Field(
        description="numbers in the returned text that the source does not "
        "support (empty unless a check failed)"
    )
    faithfulness: float = Field(description="share of the summary's numbers found in the source (1.0 = all)")
    method: Literal["llm", "extractive"]
    produced_by: str = Field(
        "extractive", description="what wrote the summary: a backend id, or 'extractive'"
    )
    sources: list[str]
    dropped: list[str] = Field(
        default_factory=list,
        description="model sentences removed by the claim check: the returned summary's, or every attempt's "
        "when the summary is extractive",
    )
    rejected: list[str] = Field(
        default_factory=list,
        description="why each model attempt that was not used was rejected (unsupported claims, degenerate "
        "text), in order; a later attempt's summary may still be the one returned (`method`)",
    )


class LlmSummary(BaseModel):
    """What the model must return."""

    # Explicit bounds: the constrained decoder needs the longest valid answer to fit max_tokens.
    summary: str = Field(
        max_length=SUMMARY_CHARS, description="2-3 sentences: the main facts and figures of the report"
    )
    key_figures: list[Annotated[str, Field(max_length=FIGURE_CHARS)]] = Field(
        default_factory=list, max_length=3, description="short 'label: value' items copied from the report"
    )


def _described(name: str) -> str | None:
    return LlmSummary.model_fields[name].description


def _bound(pattern: str, chars: int) -> dict[str, Any]:
    # in the JSON schema only: the pattern bounds items, not characters, so pydantic must not reject a few more
    return {"pattern": pattern, "maxLength": chars}


def summary_schema(source: str) -> type[LlmSummary]:
    """`LlmSummary` whose strings can only write numbers `source` writes (`tools.numbers.copy_only_pattern`): a
    constrained decoder cannot invent a figure; the claim check still judges what the figures are said to be."""
    summary, figure = (copy_only_pattern(source, n) for n in (SUMMARY_CHARS, FIGURE_CHARS))
    return create_model(
        "LlmSummary",
        __base__=LlmSummary,
        summary=(
            str,
            Field(description=_described("summary"), json_schema_extra=_bound(summary, SUMMARY_CHARS)),
        ),
        key_figures=(
            list[Annotated[str, Field(json_schema_extra=_bound(figure, FIGURE_CHARS))]],
            Field(default_factory=list, max_length=3, description=_described("key_figures")),
        ),
    )


SYSTEM_EN = (
    "You summarize fund research reports for bank advisors. Write 2 or 3 short sentences with the most "
    "important facts. Copy every number exactly as it appears in the report; never compute or invent "
    "numbers. List up to 3 key figures as 'label: value'. Answer with JSON."
)
SYSTEM_ZH = (
    "你为银行理财顾问总结基金研究报告。用2到3句话写出最重要的事实。所有数字必须与报告原文完全一致，不得计算或编造数字。"
    "列出最多3个关键数据，格式为“名称：数值”。用JSON回答。"
)


# --------------------------------------------------------------------------------------------- extractive


def sentence_score(s: str) -> float:
    """How informative a report sentence is: its figures, plus 1.5 per key term it mentions."""

    low = s.lower()
    return len(extract_numbers(s)) + 1.5 * sum(1 for k in KEYWORDS if k in low)


def extractive_summary(report_text: str, max_sentences: int = 4) -> str:
    """The report's most informative sentences (most figures and key terms), in their original order.

    Sentences are read from `prose_layout`, so a bullet or 'label: value' line is a sentence of its own and not
    run on into the next; every number is copied verbatim, so every number in the summary is in the report.
    """
    text = check_text(report_text, "report text")
    sents = sentences(prose_layout(text))
    if len(sents) <= max_sentences:
        return join_sentences(sents, is_chinese(text))
    ranked = sorted(range(len(sents)), key=lambda i: (-sentence_score(sents[i]), i))[:max_sentences]
    return join_sentences([sents[i] for i in sorted(ranked)], is_chinese(text))


_CLAUSE = re.compile(r"[^,;，；。.!?！？\n]*\d[^,;，；。!?！？\n]*")


def extractive_key_figures(report_text: str, limit: int = 6) -> list[str]:
    """Short clauses of the report that carry a key figure, verbatim."""

    out: list[str] = []
    for sent in sentences(report_text):
        low = sent.lower()
        if not any(k in low for k in KEYWORDS):
            continue
        for m in _CLAUSE.finditer(sent):
            clause = m.group(0).strip(" .")
            if (
                extract_numbers(clause)
                and any(k in clause.lower() for k in KEYWORDS)
                and 8 <= len(clause) <= 140
            ):
                out.append(clause)
                break
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------------------------- model path


_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+|^\s*#+\s*")
_LABEL = re.compile(r"^([^:：]*[^\W\d_][^:：]{0,40})[:：]\s*(?=\S)")  # a label with a letter in it
_TABLE_RULE = re.compile(r"^[\s|:\-]+$")


def _prose_line(line: str, zh: bool) -> str:
    """One line of a laid-out report as a sentence ("- Yield to maturity: 1.92%" -> "Yield to maturity stood at
    1.92%."; a table row's cells joined), "" for a heading (a short line with no figure and no full stop), and a
    line that already ends a sentence unchanged."""
    if line.strip().startswith("|"):
        line = ("，" if zh else ", ").join(c.strip() for c in line.strip().strip("|").split("|") if c.strip())
    text = _BULLET.sub("", line).strip()
    if text.endswith(SENTENCE_ENDS):
        return text
    if not re.search(r"\d", text) and len(text.split()) <= 6:
        return ""  # a heading ("Portfolio", "## Outlook", "风险提示"): the prose of the training reports has none
    text = _LABEL.sub(lambda m: m.group(1).strip() + ("为" if zh else " stood at "), text)
    return text.rstrip(",;，；") + ("。" if zh else ".")


def prose_layout(report: str) -> str:
    """The report as the title plus paragraphs of sentences, the layout of the reports the summarizer was trained
    on: bullets, headings, 'label: value' lines and small tables become sentences (numbers untouched)."""
    lines = report.strip().splitlines()
    if len(lines) < 2:
        return report.strip()
    zh = is_chinese(report)
    paragraphs, current = [lines[0].strip()], []
    for line in lines[1:]:
        if not line.strip() or _TABLE_RULE.match(line):
            paragraphs.append(join_sentences(current, zh))
            current = []
        elif sentence := _prose_line(line, zh):
            current.append(sentence)
    paragraphs.append(join_sentences(current, zh))
    return "\n\n".join(p for p in paragraphs if p)


def summary_messages(source: str) -> list[Message]:
    """The worker's prompt for `source` (Chinese or English by the report's language, laid out as prose), as the
    adapter was trained on."""
    zh = is_chinese(source)
    prose = prose_layout(source)
    body = prose if len(prose) <= MAX_PROMPT_CHARS else prose[:MAX_PROMPT_CHARS] + " …"
    ask = "请总结这份报告。" if zh else "Summarize this report."
    return [
        Message(role="system", content=SYSTEM_ZH if zh else SYSTEM_EN),
        Message(role="user", content=fence(body, "report") + "\n" + ask),
    ]


def repair(summary: str, key_figures: list[str], source: str) -> tuple[str, list[str], list[str]]:
    """Drop sentences and key figures whose numbers the source does not support.

    Returns (summary, key_figures, dropped).
    """
    kept, dropped = [], []
    for s in sentences(tidy_generated(summary)):
        report = check_claims(s, [source], check_degenerate=False)
        (kept if report.ok else dropped).append(s)
        if not report.ok:
            log.info("summary_claim_dropped", sentence=s[:200], reasons=report.reasons[:4])
    figures = []
    for f in key_figures:
        f = f.strip()
        if not f or len(f) > 160 or not extract_numbers(f) or repetitive(f):
            continue
        (figures if check_claims(f, [source], check_degenerate=False).ok else dropped).append(f)
    return join_sentences(kept, is_chinese(summary)), figures[:6], dropped


def rejection(summary: str, source: str) -> str | None:
    """Why a (repaired) model summary cannot be kept, or None: degenerate, too short, too few figures."""

    why = degenerate_reason(summary, [source])
    if why:
        return why
    if len(summary) < MIN_SUMMARY_CHARS or len(extract_numbers(summary)) < MIN_FIGURES or repetitive(summary):
        return f"too little left after the claim check ({len(summary)} characters)"
    return None


def acceptable(summary: str, source: str = "") -> bool:
    """Enough of a summary to keep (see `rejection`)."""
    return rejection(summary, source) is None


def sampling(attempt: int, temperature: float | None = None) -> dict[str, Any]:
    """Decoding of `attempt` (0 first): greedy, then samples at `temperature` (default `RETRY_TEMPERATURE`)
    seeded by the attempt number, so a run is reproducible."""
    return {} if attempt == 0 else {"temperature": temperature or RETRY_TEMPERATURE, "seed": attempt}


class Attempt(NamedTuple):
    """One model attempt: its raw output (None: the backend failed), what repair left, and why it was rejected."""

    output: LlmSummary | None
    summary: str = ""
    figures: list[str] = []
    removed: list[str] = []
    why: str | None = None


def summary_attempts(
    generate: Callable[[dict[str, Any]], LlmSummary],
    source: str,
    *,
    retries: int | None = None,
    temperature: float | None = None,
    budget_s: float | None = None,
) -> list[Attempt]:
    """Every attempt the worker makes: `generate(sampling(attempt))`, greedy first, then up to `retries`
    (default `RETRIES`) seeded samples while repair + rejection refuse the summary. It stops at a kept summary,
    at a failed call (BackendError, or ValueError for bad JSON) and before a retry that would overrun
    `budget_s` at the pace so far."""
    attempts: list[Attempt] = []
    started = time.perf_counter()
    for attempt in range(1 + (RETRIES if retries is None else retries)):
        try:
            output = generate(sampling(attempt, temperature))
        except (BackendError, ValueError) as err:
            log.warning("summary_model_failed", error=str(err)[:300], attempt=attempt)
            return [*attempts, Attempt(None)]
        summary, figures, removed = repair(output.summary, output.key_figures, source)
        why = rejection(summary, source)
        attempts.append(Attempt(output, summary, figures, removed, why))
        if why is None:
            break
        log.info("summary_rejected", reason=why, text=summary[:200], attempt=attempt, dropped=len(removed))
        spent = time.perf_counter() - started
        if budget_s and spent / (attempt + 1) * (attempt + 2) > budget_s:
            log.info("summary_retries_out_of_time", attempts=attempt + 1, spent_s=round(spent, 2))
            break
    return attempts


def model_summary(
    complete: Callable[..., Any],
    source: str,
    decoding: dict[str, Any],
    schema: type[LlmSummary] | None = None,
) -> LlmSummary:
    """One attempt: `complete` (a skill context's or a backend's) asked for a summary of `source` with `decoding`
    (`sampling`), constrained to `schema` (default `summary_schema(source)`); ValueError when it does not parse."""
    out = complete(
        summary_messages(source), schema=schema or summary_schema(source), max_tokens=MAX_TOKENS, **decoding
    )
    return out.parsed if isinstance(out.parsed, LlmSummary) else LlmSummary.model_validate_json(out.text)


def summarize_text(
    source: str, ctx: SkillContext | None, *, use_model: bool = True
) -> tuple[str, list[str], str, list[str]]:
    """(summary, key_figures, method, dropped) for a report text; `dropped` ends with a "rejected: …" entry per
    rejected model attempt."""
    if ctx is not None:  # audited whichever path runs: the gate holds answers built on flagged documents
        flag_injection(source, "report", ctx.request_id, ctx.skill)
    attempts = []
    if use_model and ctx is not None:
        attempts = summary_attempts(
            functools.partial(model_summary, ctx.complete, source), source, budget_s=ctx.model_budget_s
        )
    rejected = [f"rejected: {a.why}" for a in attempts if a.output is not None and a.why is not None]
    kept = attempts[-1] if attempts and attempts[-1].output is not None and attempts[-1].why is None else None
    if kept is not None:
        return kept.summary, kept.figures or extractive_key_figures(source), "llm", [*kept.removed, *rejected]
    removed = [d for a in attempts for d in a.removed]
    return extractive_summary(source), extractive_key_figures(source), "extractive", [*removed, *rejected]


# --------------------------------------------------------------------------------------------- fine-tuning
TUNE_CORPUS = Path(__file__).resolve().parents[1] / "evals" / "sets" / "summary_corpus"
# what `fincopilot finetune --skill report_summary` trains on (`_tune_domain`); no evaluation set is among them
TUNE_FILES = ("train.jsonl", "handwritten_train.jsonl", "handwritten_train2.jsonl")


class SummaryVerdict(BaseModel):
    """How one raw model summary fares: its numeric claims checked, and whether the worker keeps it."""

    claims: int
    supported: int
    kept: bool
    why: str | None = None


def judge_summary(out: LlmSummary, source: str) -> SummaryVerdict:
    """Check the raw output's claims (summary and key figures; numbers and identifiers) and run the worker's
    repair + rejection."""
    text = "\n".join([out.summary, *out.key_figures])
    report = check_claims(text, [source], check_degenerate=False)
    summary, _figures, _dropped = repair(out.summary, out.key_figures, source)
    why = rejection(summary, source)
    return SummaryVerdict(  # an invented product code or client id counts as an unsupported claim
        claims=len(report.claims) + len(unknown_identifiers(text, [source])),
        supported=sum(c.supported for c in report.claims),
        kept=why is None,
        why=why,
    )


def tune_source(inp: dict[str, Any]) -> str:
    """The report an item summarizes: its `text`, or the stored report of its `product` (and `date`)."""
    if isinstance(inp.get("text"), str):
        return check_text(inp["text"], "report text")
    if inp.get("product"):
        rep = get_report(inp["product"], inp.get("date"))
        return f"{rep.title}\n\n{rep.body}"
    raise InputError(f"a report_summary item needs input.text or input.product, got {sorted(inp)}")


def _tune_target(inp: dict[str, Any], ref: dict[str, Any]) -> BaseModel | None:
    # Only items that carry their report text and a written summary are targets: the arena items name a
    # stored report and score bare figures, and their held-out reports must stay unseen.
    if not isinstance(inp.get("text"), str) or not ref.get("summary"):
        return None
    return LlmSummary(summary=ref["summary"], key_figures=list(ref.get("key_figures") or [])[:3])


def _tune_score(items: Sequence[Any], outputs: Sequence[BaseModel | None]) -> dict[str, float]:
    claims = supported = kept = failed = 0
    for item, out in zip(items, outputs):
        if not isinstance(out, LlmSummary):
            failed += 1
            continue
        verdict = judge_summary(out, tune_source(item.input))
        claims, supported, kept = claims + verdict.claims, supported + verdict.supported, kept + verdict.kept
    n = max(len(items), 1)
    return {
        "kept": kept / n,
        "claim_faithfulness": supported / claims if claims else 1.0,
        "failed": failed / n,
    }


def _tune_domain() -> list[tuple[str, dict[str, Any], BaseModel]]:
    """The generated corpus's TRAIN split (`python -m fincopilot.evals.summary_corpus`) and the hand-written
    training reports (`handwritten_train.jsonl`: other layouts, openings and products than the generator's;
    `handwritten_train2.jsonl`: reports full of quantities that are easy to confuse)."""
    rows = []
    for name in TUNE_FILES:
        path = TUNE_CORPUS / name
        if path.is_file():
            rows += [
                json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
    return [(r["id"], r["input"], LlmSummary.model_validate(r["reference"])) for r in rows]


def finetune_task() -> SkillTask:
    """How `fincopilot finetune --skill report_summary` trains and measures the summarizer."""
    return SkillTask(
        skill="report_summary",
        prompt=lambda inp: summary_messages(tune_source(inp)),
        schema=lambda: LlmSummary,
        target=_tune_target,
        score=_tune_score,
        max_tokens=MAX_TOKENS,
        headline="kept",
        domain=_tune_domain,
    )


# --------------------------------------------------------------------------------------------- declaration
INTENT = re.compile(
    r"report|summar|research|brief|outlook|latest news|研报|报告|总结|摘要|概要|概述|研究", re.IGNORECASE
)
EXAMPLES = [
    ("总结一下EQ-10的最新研报", {"product": "EQ-10"}),
    ("Summarize the latest HY-7 report.", {"product": "HY-7"}),
    ("What did the GB-1 report of 2025-03-31 say?", {"product": "GB-1", "date": "2025-03-31"}),
]


def render(o: Mapping[str, Any]) -> Rendered:
    """The summary under a heading naming the product, report and date; the key figures after it."""
    figures = "; ".join(o.get("key_figures", []))
    when = f" of {o['report_date']}" if o.get("report_date") else ""
    name = (
        f"The {o['product']} report {o.get('report_id') or ''}".rstrip() + when
        if o.get("product")
        else "The report"
    )
    return Rendered(
        text=f"{name} in brief: {o.get('summary', '')}" + (f" Key figures: {figures}." if figures else ""),
        text_zh=f"{o.get('product') or ''}报告摘要：{o.get('summary', '')}",
        sources=[],
    )


def figure_coverage(text: str, figures: list[str]) -> float:
    """Share of key figures whose value appears among the numbers of `text` (formatting-tolerant)."""

    if not figures:
        return 1.0
    return sum(1 for f in figures if not unsupported_numbers(f, [text])) / len(figures)


def metric(reference: Mapping[str, Any], output: Mapping[str, Any], source: str | None) -> dict[str, float]:
    """Numeric faithfulness (gates), key-figure coverage and ROUGE-L F1 against the reference summary."""

    summary = output.get("summary") or ""
    text = "\n".join([summary, *output.get("key_figures", [])])
    faithful = numeric_faithfulness(text, [source]) if source else float(output.get("faithfulness", 0.0))
    coverage = figure_coverage(text, reference.get("key_figures", []))
    rl = rouge_l(summary, reference.get("summary", ""))["f"]
    # faithfulness gates: an unfaithful summary is worth little however much it covers
    return {
        "score": faithful * (0.5 * coverage + 0.5 * rl),
        "faithfulness": faithful,
        "coverage": coverage,
        "rouge_l": rl,
        "llm_method": float(output.get("method") == "llm"),
    }


def report_source(item_input: dict[str, Any]) -> str | None:
    """The stored report an eval item's summary must be faithful to."""

    try:
        rep = get_report(item_input["product"], item_input.get("date"))
    except FinCopilotError:
        return None
    return f"{rep.title}\n\n{rep.body}"


def baseline_extractive(item_input: dict[str, Any]) -> dict[str, Any]:
    """No model: the report's most informative sentences and key-figure clauses, verbatim."""

    rep = get_report(item_input["product"], item_input.get("date"))
    source = f"{rep.title}\n\n{rep.body}"
    return {
        "summary": extractive_summary(source),
        "key_figures": extractive_key_figures(source),
        "method": "extractive",
        "report_id": rep.report_id,
        "produced_by": "extractive",
    }


EVALUATION = Evaluation(
    eval_set=Path(__file__).resolve().parents[1] / "evals" / "sets" / "report_summary.jsonl",
    metric=metric,
    baselines={"baseline:extractive": baseline_extractive},
    source=report_source,
    headline=("faithfulness", "coverage", "rouge_l"),
)


@skill(
    name="report_summary",
    args=ReportSummaryArgs,
    output=SummaryResult,
    tools=("report_lookup",),
    description="Summarize a product's research report (latest by default, or on a date) or a given text; "
    "every number is checked against the report.",
    examples=EXAMPLES,
    intent=INTENT,
    plan_args=lambda e: [{"product": p} for p in e.products[:3]],
    needs="product code (like HY-7)",
    bare_entity="product",
    plan_rule="One report_summary per product.",
    render=render,
    evaluation=EVALUATION,
    recommends={"product": "product"},
    finetune=finetune_task,
)
def report_summary(args: ReportSummaryArgs, ctx: SkillContext) -> SummaryResult:

    product = report_id = report_date = None
    sources: list[str] = []
    if args.text is not None:
        source = check_text(args.text, "report text")
        product = args.product
        sources = ["input:text"]
    elif args.product:
        rep = ctx.call_tool("report_lookup", {"product": args.product, "date": args.date})
        source = f"{rep.title}\n\n{rep.body}"
        product, report_id, report_date = rep.product_code, rep.report_id, rep.report_date.isoformat()
        sources = list(rep.sources)
    else:
        raise InputError("report_summary needs a product code (e.g. HY-7) or a report text")
    summary, figures, method, dropped = summarize_text(source, ctx, use_model=args.use_model)
    rejected = [d.removeprefix("rejected: ") for d in dropped if d.startswith("rejected: ")]
    dropped = [d for d in dropped if not d.startswith("rejected: ")]
    # The final gate: whatever path produced it, every claim is checked against the report once more.
    report = check_claims(summary, [source], check_degenerate=method == "llm")
    if not report.ok and method == "llm":
        rejected += report.reasons
        summary, figures, method = extractive_summary(source), extractive_key_figures(source), "extractive"
    bad = unsupported_numbers("\n".join([summary, *figures]), [source])
    return SummaryResult(
        product=product,
        report_id=report_id,
        report_date=report_date,
        summary=summary,
        key_figures=figures,
        unsupported_numbers=[m.text for m in bad],
        faithfulness=numeric_faithfulness(summary, [source]),
        method=method,
        sources=sources,
        dropped=dropped,
        rejected=rejected,
        produced_by=ctx.trace[-1]["backend"] if method == "llm" else "extractive",
    )
