"""Summarizer evaluation: the extractive baseline, the base model and the fine-tuned summarizer.

Sets (`evals/sets/summary_corpus/`, see `fincopilot.evals.summary_corpus`): `validation` (money-market
reports: checkpoints are chosen here), `test` (structured-note reports, a report family never trained on)
`handwritten` (reports written apart from the generator; looked at while developing since 2026-12-06) and
`handwritten2` (a second such set, headings and bullets in half of it; development since its failures were
looked at on 2026-12-07) and `handwritten3` (16 reports written blind by a helper that read no project file,
committed at 2e71589 before the retries were built, scored once, looked at since), `handwritten4` and
`handwritten5` (16 more each by two other such helpers, committed at a8e7f9f and 978f4c6, each scored once on
2026-12-07) and `handwritten6` (16 more by another, committed at b8168b5, scored once for the summarizer shipped
since 2026-12-07). Each model runs as the worker sends it:
numbers constrained to those the report writes (`summary_schema`), greedy, then up to `--retries` seeded samples
(`sampling`) while the summary is rejected (default: the worker's `RETRIES`); `--free-numbers` adds each model
without the number constraint. Per configuration and language:

- **kept**: the model's summary survives the worker's claim repair and rejection (`judge_summary`) at some
  attempt, so the advisor gets the model's text and not the extractive fallback; a failed or unparsable output
  is not kept;
- **claim faithfulness**: of the numeric claims in the model's raw outputs (summary and key figures, before
  any repair, every attempt counted), the share `check_claims` supports (number, quantity, direction, period
  and unit); each row's `verdicts` keeps every attempt's, `first_*` the greedy one's;
- **all claims supported**: the share of items whose raw outputs have no unsupported claim;
- **ROUGE-L**: F1 of the raw summary against the set's reference summary.

Brackets are Wilson 95% intervals (claims are counted over items, so their interval is optimistic).

`python -m fincopilot.evals.summary_eval --model smollm2-135m --model smollm2-135m+report_summary-lora
--set validation --out OUT` writes OUT.md, OUT.json and OUT-rows.jsonl.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Sequence
from typing import Any

from rich.progress import Progress

from fincopilot.agents.report_summary import (
    RETRIES,
    RETRY_TEMPERATURE,
    Attempt,
    LlmSummary,
    extractive_key_figures,
    extractive_summary,
    judge_summary,
    model_summary,
    summary_attempts,
    summary_schema,
    tune_source,
)
from fincopilot.errors import run_main
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

SETS = (
    "validation",
    "test",
    "handwritten",
    "handwritten2",
    "handwritten3",
    "handwritten4",
    "handwritten5",
    "handwritten6",
)
COLUMNS = (
    "configuration",
    "lang",
    "kept",
    "claim faithfulness",
    "all claims supported",
    "ROUGE-L",
    "failed",
    "attempts (mean)",
    "seconds (mean)",
)


def load_set(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    path = OUT_DIR / f"{name}.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items[:: max(1, len(items) // limit)][:limit] if limit else items


def _row(item: dict[str, Any], config: str, attempts: Sequence[Attempt], seconds: float) -> dict[str, Any]:
    """One item's row: kept when the last attempt was kept, claims counted over every attempt's raw output;
    `first_*` for the greedy attempt alone, `verdicts` for each."""
    base = {
        "id": item["id"],
        "lang": item["metadata"]["lang"],
        "config": config,
        "seconds": round(seconds, 2),
    }
    source = tune_source(item["input"])
    verdicts = [judge_summary(a.output, source) if a.output is not None else None for a in attempts]
    first = verdicts[0]
    base |= {
        "attempts": len(attempts),
        "first_kept": bool(first and first.kept),
        "first_claims": first.claims if first else 0,
        "first_supported": first.supported if first else 0,
        "claims": sum(v.claims for v in verdicts if v),
        "supported": sum(v.supported for v in verdicts if v),
        "verdicts": [v.model_dump() if v else None for v in verdicts],
    }
    last, verdict = attempts[-1].output, verdicts[-1]
    if last is None or verdict is None:
        return {**base, "failed": True, "kept": False, "rouge_l": 0.0}
    reference = (item.get("reference") or {}).get("summary") or ""
    return {
        **base,
        "failed": False,
        "kept": verdict.kept,
        "why": verdict.why,
        "rouge_l": rouge_l(last.summary, reference)["f"] if reference else None,
        "summary": last.summary,
        "key_figures": last.key_figures,
    }


def run_extractive(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The no-model baseline, judged like a model output."""
    rows = []
    for item in items:
        source = tune_source(item["input"])
        out = LlmSummary.model_construct(
            summary=extractive_summary(source), key_figures=extractive_key_figures(source)[:3]
        )
        rows.append(_row(item, "extractive", [Attempt(out)], 0.0))
    return rows


def run_model(
    backend: Any,
    items: Sequence[dict[str, Any]],
    progress: Any,
    *,
    free_numbers: bool = False,
    retries: int = RETRIES,
    temperature: float = RETRY_TEMPERATURE,
) -> list[dict[str, Any]]:
    """Per item, the worker's attempts (`summary_attempts`: greedy, then up to `retries` seeded samples at
    `temperature` while the summary is rejected; no time budget), as the worker sends them (`free_numbers`: any
    number may be written)."""
    rows = []
    config = f"{backend.id} (free numbers)" if free_numbers else backend.id
    config += f" +{retries} retries @{temperature}" if retries else ""
    for item in items:
        source = tune_source(item["input"])
        schema = LlmSummary if free_numbers else summary_schema(source)
        started = time.perf_counter()
        generate = functools.partial(model_summary, backend.complete, source, schema=schema)
        attempts = summary_attempts(generate, source, retries=retries, temperature=temperature)
        rows.append(_row(item, config, attempts, time.perf_counter() - started))
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
        "attempts": round(sum(r["attempts"] for r in rows) / n, 2) if n else 0.0,
        "seconds": round(sum(r["seconds"] for r in rows) / n, 1) if n else 0.0,
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
                    f"{_cell(*s['all_supported'])} | {s['rouge_l']} | {s['failed']} | {s['attempts']} | "
                    f"{s['seconds']} |"
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
    retries: int = RETRIES,
    temperature: float = RETRY_TEMPERATURE,
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
                rows += run_model(
                    backend,
                    items,
                    lambda k, t=task: bar.advance(t, k),
                    free_numbers=free,
                    retries=retries,
                    temperature=temperature,
                )
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
    ap.add_argument(
        "--retries",
        type=int,
        default=RETRIES,
        help=f"sampled attempts after a rejected summary (default: the worker's, {RETRIES})",
    )
    ap.add_argument("--temperature", type=float, default=RETRY_TEMPERATURE, help="of the sampled attempts")
    args = ap.parse_args(argv)
    if args.retries < 0 or args.temperature <= 0:
        ap.error("--retries must be 0 or more and --temperature above 0")
    adapters = adapters_of(args)
    sets = args.set or ["validation"]
    results, rows = evaluate(
        args.model, sets, adapters, args.limit, args.free_numbers, args.retries, args.temperature
    )
    text = markdown(results)
    print(text)
    if args.out:
        meta = {
            "models": args.model,
            "adapters": adapters,
            "sets": sets,
            "free_numbers": args.free_numbers,
            "retries": args.retries,
            "temperature": args.temperature,
        }
        write_outputs(args.out, text, meta, results, rows)


if __name__ == "__main__":
    run_main(main)
