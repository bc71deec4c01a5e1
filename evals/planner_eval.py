"""Measure the planner: rules alone, a model alone, and the full pipeline, per language, with 95% CIs.

    python -m fincopilot.evals.planner_eval --model smollm2-135m --model smollm2-135m+planner-lora \\
        --set test --set handwritten --set drafts --set drafts_named --set quoted --out evals/examples/planner-eval

For each set (`evals/sets/planner/{test,validation,handwritten,drafts,drafts_named,drafts3,drafts4,quoted}.jsonl`;
`drafts`: hand-written requests that quote a draft for a named client and product; `drafts_named`: one-sentence
drafts that name the product inside the quote; `drafts3` and `drafts4`: drafts written blind, half naming the
product inside the quote; `quoted`: hand-written requests whose quoted text is no draft, a phrase or a product's
name) and language (en, zh):

- exact skill set: the set of skills in the final plan equals the gold set (a request that needs no skill:
  no steps);
- exact arguments: the multiset of (skill, arguments) equals the gold one after both plans' names are
  resolved to ids through the domain database and `$quote` to the quoted text (ids and order of steps
  and dependencies are not compared);
- first-attempt validity: the model's first output passes validation (schema, types, grounding).

Configurations: `rules` (the fallback planner alone), `<model> alone` (the first output, no rules, no
repair: an invalid first output counts as wrong) and `<model> pipeline` (repair, then rules for invalid
output). Both model rows come from ONE run per model: with greedy decoding the pipeline's first round IS
the model alone, so the alone row reads the first attempt (`PlanOutcome.valid_before_repair`).
Intervals are Wilson score intervals.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fincopilot.agents.planner import Plan, PlanOutcome, plan_batch, resolve_plan, review_plan
from fincopilot.errors import NotFoundError, run_main
from fincopilot.evals.evalrun import (
    adapters_of,
    add_model_args,
    model_backends,
    positive_int,
    rows_path_of,
    set_table_head,
    wilson,
    write_outputs,
    write_rows,
)

SETS_DIR = Path(__file__).resolve().parent / "sets" / "planner"
METRICS = ("skill_set", "arguments", "valid_first")
WRITTEN_APART = (
    "handwritten",
    "drafts",
    "drafts_named",
    "drafts3",
    "drafts4",
    "quoted",
)  # sets written by hand, apart from the generator
COLUMNS = ("configuration", "lang", "exact skill set", "exact arguments", "first-attempt validity")


def load_set(name: str) -> list[dict[str, Any]]:
    path = SETS_DIR / f"{name}.jsonl"
    if not path.is_file():
        raise NotFoundError(
            f"no planner set {name!r} at {path} (sets: "
            f"{', '.join(sorted(p.stem for p in SETS_DIR.glob('*.jsonl')))})"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _step_key(step: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    args = {k: str(v).strip() for k, v in step.args.items() if v is not None}
    return step.skill, tuple(sorted(args.items()))


def gold_plan(item: dict[str, Any]) -> Plan:
    """The item's gold plan with names resolved like the planner resolves them."""
    plan = Plan.model_validate(item["reference"]["plan"])
    resolved, problems, questions = resolve_plan(plan, item["input"]["request"])
    if problems or questions:
        raise ValueError(f"gold plan of {item['id']} does not resolve: {problems or questions}")
    return resolved


def score_plan(plan: Plan | None, gold: Plan) -> dict[str, bool]:
    """Exact skill set and exact arguments of `plan` (None: no usable plan) against `gold`."""
    if plan is None:
        return {"skill_set": False, "arguments": False}
    got = {s.skill for s in plan.steps}
    want = {s.skill for s in gold.steps}
    return {
        "skill_set": got == want,
        "arguments": Counter(map(_step_key, plan.steps)) == Counter(map(_step_key, gold.steps)),
    }


def _alone(outcome: PlanOutcome) -> Plan | None:
    return outcome.plan if outcome.source == "model" and outcome.valid_before_repair else None


def run_rules(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    outs = plan_batch(
        [i["input"]["request"] for i in items],
        use_model=False,
        contexts=[i["input"].get("context") or [] for i in items],
    )
    rows = []
    for item, out in zip(items, outs):
        gold = gold_plan(item)
        valid = not out.plan.steps or not review_plan(
            out.plan, item["input"]["request"], item["input"].get("context") or []
        )
        rows.append(
            {
                "id": item["id"],
                "config": "rules",
                **score_plan(out.plan, gold),
                "valid_first": valid,
                "plan": out.plan.plan_json(),
            }
        )
    return rows


def run_model(
    backend: Any, items: Sequence[dict[str, Any]], *, chunk: int = 8, progress: Any = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(alone rows, pipeline rows) for `backend`, from one pipeline run (see the module doc)."""
    alone, pipeline = [], []
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        outs = plan_batch(
            [i["input"]["request"] for i in part],
            backend=backend,
            max_repairs=1,
            contexts=[i["input"].get("context") or [] for i in part],
        )
        for item, out in zip(part, outs):
            gold = gold_plan(item)
            first = {
                "id": item["id"],
                "valid_first": out.valid_before_repair,
                "first_output": out.first_output,
            }
            alone.append({**first, "config": f"{backend.id} alone", **score_plan(_alone(out), gold)})
            pipeline.append(
                {
                    **first,
                    "config": f"{backend.id} pipeline",
                    **score_plan(out.plan, gold),
                    "source": out.source,
                    "problems": out.problems[:4],
                    "plan": out.plan.plan_json(),
                }
            )
        if progress is not None:
            progress(len(part))
    return alone, pipeline


def summarize(items: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per language: k, n, rate and Wilson CI of every metric."""
    lang = {i["id"]: i["metadata"]["lang"] for i in items}
    out: dict[str, Any] = {}
    for language in ("en", "zh"):
        mine = [r for r in rows if lang[r["id"]] == language]
        out[language] = {}
        for metric in METRICS:
            k, n = sum(bool(r[metric]) for r in mine), len(mine)
            lo, hi = wilson(k, n)
            out[language][metric] = {
                "k": k,
                "n": n,
                "rate": round(k / n, 4) if n else None,
                "ci95": [round(lo, 4), round(hi, 4)],
            }
    return out


def markdown(results: dict[str, dict[str, dict[str, Any]]], meta: dict[str, Any]) -> str:
    """Tables: one per set, a row per configuration, a column per language x metric."""
    lines = ["# Planner evaluation", "", meta.get("note", ""), ""]
    for set_name, configs in results.items():
        lines += set_table_head(set_name, COLUMNS)
        for config, by_lang in configs.items():
            for language, m in by_lang.items():
                if not isinstance(m, dict):
                    continue  # e.g. "seconds"
                cells = []
                for metric in METRICS:
                    v = m[metric]
                    cells.append(
                        f"{v['k']}/{v['n']} = {100 * (v['rate'] or 0):.1f}% "
                        f"[{100 * v['ci95'][0]:.0f}–{100 * v['ci95'][1]:.0f}]"
                    )
                lines.append(f"| {config} | {language} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _advance(bar: Any, task: Any, k: int) -> None:
    bar.advance(task, k)
    if not bar.console.is_terminal:  # a log file gets a line per chunk instead of a live bar
        t = bar.tasks[task] if isinstance(bar.tasks, dict) else next(x for x in bar.tasks if x.id == task)
        print(f"{t.description}: {int(t.completed)}/{int(t.total or 0)} ({t.elapsed or 0:.0f} s)", flush=True)


def evaluate(
    models: Sequence[str],
    sets: Sequence[str],
    adapters: dict[str, str] | None = None,
    limit: int | None = None,
    rows_path: Path | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Results per set → configuration → language, and every scored row."""
    from rich.progress import Progress

    backends = model_backends(models, adapters, id_sep="+")
    results: dict[str, Any] = {}
    all_rows: list[dict[str, Any]] = []
    with Progress() as bar:
        for set_name in sets:
            items = load_set(set_name)
            items = items if set_name in WRITTEN_APART else items[:limit]  # always whole
            rows = run_rules(items)
            results[set_name] = {"rules": summarize(items, rows)}
            for backend in backends:
                task = bar.add_task(f"{set_name}: {backend.id}", total=len(items))
                started = time.perf_counter()
                alone, pipeline = run_model(backend, items, progress=lambda k, t=task: _advance(bar, t, k))
                results[set_name][f"{backend.id} alone"] = summarize(items, alone)
                results[set_name][f"{backend.id} pipeline"] = summarize(items, pipeline)
                results[set_name][f"{backend.id} pipeline"]["seconds"] = round(
                    time.perf_counter() - started, 1
                )
                rows += alone + pipeline
            all_rows += [{**r, "set": set_name} for r in rows]
            if rows_path is not None:  # written as it goes: a crash later never loses a finished set
                write_rows(rows_path, all_rows)
    return results, all_rows


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        help="test, validation, handwritten, drafts, drafts_named, drafts3, drafts4, quoted (repeat)",
    )
    ap.add_argument("--limit", type=positive_int, default=None)
    args = ap.parse_args(argv)
    adapters = adapters_of(args)
    rows_path = rows_path_of(args.out) if args.out else None
    if rows_path is not None:
        rows_path.parent.mkdir(parents=True, exist_ok=True)
    sets = args.set or ["test", *WRITTEN_APART]
    results, rows = evaluate(args.model, sets, adapters, args.limit, rows_path)
    meta = {
        "models": args.model,
        "adapters": adapters,
        "sets": sets,
        "note": "Wilson 95% intervals in brackets. 'alone' = the model's first output, no rules, no repair.",
    }
    text = markdown(results, meta)
    print(text)
    if args.out:
        write_outputs(args.out, text, meta, results, rows)


if __name__ == "__main__":
    run_main(main)
