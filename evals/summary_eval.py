"""Summarizer evaluation: the extractive baseline, the base model and the fine-tuned summarizer.

Sets (`evals/sets/summary_corpus/`, see `fincopilot.evals.summary_corpus`): `validation` (money-market
reports: checkpoints are chosen here), `test` (structured-note reports, a report family never trained on)
`handwritten` (reports written apart from the generator; looked at while developing since 2026-12-06) and
`handwritten2` (a second such set, headings and bullets in half of it, scored once per change). Each model runs
as the worker sends it: numbers constrained to those the report writes (`summary_schema`); `--free-numbers`
adds each model without that constraint, as the worker ran before it. Per configuration and language:

- **kept**: the model's summary survives the worker's claim repair and rejection (`judge_summary`), so the
  advisor gets the model's text and not the extractive fallback; a failed or unparsable output is not kept;
- **claim faithfulness**: of the numeric claims in the model's raw output (summary and key figures, before
  any repair), the share `check_claims` supports (number, quantity, direction, period and unit);
- **all claims supported**: the share of raw outputs with no unsupported claim;
- **ROUGE-L**: F1 of the raw summary against the set's reference summary.

Brackets are Wilson 95% intervals (claims are counted over items, so their interval is optimistic).

`python -m fincopilot.evals.summary_eval --model smollm2-135m --model smollm2-135m+report_summary-lora
--set validation --out OUT` writes OUT.md, OUT.json and OUT-rows.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from rich.progress import Progress

from fincopilot.agents.report_summary import (
    MAX_TOKENS,
    LlmSummary,
    extractive_key_figures,
    extractive_summary,
    judge_summary,
    summary_messages,
    summary_schema,
    tune_source,
)
from fincopilot.errors import BackendError, run_main
from fincopilot.evals.evalrun import (
    adapters_of,
    add_model_args,
    model_backends,
    positive_int,
    set_table_head,
    wilson,
    write_outputs,
)
from fincopilot.evals.summary_corpus import OUT_DIR
from fincopilot.tools.textmetrics import rouge_l

SETS = ("validation", "test", "handwritten", "handwritten2")
COLUMNS = ("configuration", "lang", "kept", "claim faithfulness", "all claims supported", "ROUGE-L", "failed")


def load_set(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    path = OUT_DIR / f"{name}.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items[:: max(1, len(items) // limit)][:limit] if limit else items


def _row(item: dict[str, Any], config: str, out: LlmSummary | None, seconds: float) -> dict[str, Any]:
    base = {
        "id": item["id"],
        "lang": item["metadata"]["lang"],
        "config": config,
        "seconds": round(seconds, 2),
    }
    if out is None:
        return {**base, "failed": True, "kept": False, "claims": 0, "supported": 0, "rouge_l": 0.0}
    verdict = judge_summary(out, tune_source(item["input"]))
    reference = (item.get("reference") or {}).get("summary") or ""
    return {
        **base,
        "failed": False,
        **verdict.model_dump(),
        "rouge_l": rouge_l(out.summary, reference)["f"] if reference else None,
        "summary": out.summary,
        "key_figures": out.key_figures,
    }


def run_extractive(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The no-model baseline, judged like a model output."""
    rows = []
    for item in items:
        source = tune_source(item["input"])
        out = LlmSummary.model_construct(
            summary=extractive_summary(source), key_figures=extractive_key_figures(source)[:3]
        )
        rows.append(_row(item, "extractive", out, 0.0))
    return rows


def run_model(
    backend: Any, items: Sequence[dict[str, Any]], progress: Any, *, free_numbers: bool = False
) -> list[dict[str, Any]]:
    """One constrained generation per item, as the worker sends it (`free_numbers`: any number may be written)."""
    rows = []
    config = f"{backend.id} (free numbers)" if free_numbers else backend.id
    for item in items:
        source = tune_source(item["input"])
        started = time.perf_counter()
        try:
            schema = LlmSummary if free_numbers else summary_schema(source)
            done = backend.complete(summary_messages(source), schema=schema, max_tokens=MAX_TOKENS)
            out = done.parsed if isinstance(done.parsed, LlmSummary) else None
        except BackendError:
            out = None
        rows.append(_row(item, config, out, time.perf_counter() - started))
        progress(1)
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    kept = sum(r["kept"] for r in rows)
    claims = sum(r["claims"] for r in rows)
    supported = sum(r["supported"] for r in rows)
    clean = sum(1 for r in rows if not r["failed"] and r["supported"] == r["claims"])
    rouge = [r["rouge_l"] for r in rows if r.get("rouge_l") is not None]
    return {
        "n": n,
        "kept": [kept, n, *wilson(kept, n)],
        "claim_faithfulness": [supported, claims, *wilson(supported, claims)],
        "all_supported": [clean, n, *wilson(clean, n)],
        "rouge_l": round(sum(rouge) / len(rouge), 3) if rouge else None,
        "failed": sum(r["failed"] for r in rows),
    }


def _cell(k: int, n: int, lo: float, hi: float) -> str:
    return f"{k}/{n} = {100 * k / n:.1f}% [{100 * lo:.0f}–{100 * hi:.0f}]" if n else "–"


def markdown(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = []
    for set_name, configs in results.items():
        lines += set_table_head(set_name, COLUMNS)
        for config, by_lang in configs.items():
            for lang, s in by_lang.items():
                lines.append(
                    f"| {config} | {lang} | {_cell(*s['kept'])} | {_cell(*s['claim_faithfulness'])} | "
                    f"{_cell(*s['all_supported'])} | {s['rouge_l']} | {s['failed']} |"
                )
        lines.append("")
    return "\n".join(lines)


def _by_lang(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    langs = sorted({r["lang"] for r in rows})
    return {lang: summarize([r for r in rows if r["lang"] == lang]) for lang in langs}


def evaluate(
    models: Sequence[str],
    sets: Sequence[str],
    adapters: dict[str, str],
    limit: int | None = None,
    free_numbers: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Results per set → configuration → language, and every scored row."""
    backends = model_backends(models, adapters, id_sep="@")
    results: dict[str, Any] = {}
    all_rows: list[dict[str, Any]] = []
    with Progress() as bar:
        for set_name in sets:
            items = load_set(set_name, limit)
            rows = run_extractive(items)
            modes = (False, True) if free_numbers else (False,)  # constrained, then also free numbers
            for backend, free in [(b, f) for b in backends for f in modes]:
                task = bar.add_task(f"{set_name}: {backend.id}" + " (free)" * free, total=len(items))
                rows += run_model(backend, items, lambda k, t=task: bar.advance(t, k), free_numbers=free)
            configs = dict.fromkeys(r["config"] for r in rows)
            results[set_name] = {c: _by_lang([r for r in rows if r["config"] == c]) for c in configs}
            all_rows += [{**r, "set": set_name} for r in rows]
    return results, all_rows


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--set", action="append", default=[], choices=SETS, help="repeat; default validation")
    ap.add_argument(
        "--limit", type=positive_int, default=None, help="evenly spaced items per set (a smoke run)"
    )
    ap.add_argument(
        "--free-numbers", action="store_true", help="also run each model with its numbers unconstrained"
    )
    args = ap.parse_args(argv)
    adapters = adapters_of(args)
    sets = args.set or ["validation"]
    results, rows = evaluate(args.model, sets, adapters, args.limit, args.free_numbers)
    text = markdown(results)
    print(text)
    if args.out:
        meta = {"models": args.model, "adapters": adapters, "sets": sets, "free_numbers": args.free_numbers}
        write_outputs(args.out, text, meta, results, rows)


if __name__ == "__main__":
    run_main(main)
