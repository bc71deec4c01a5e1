"""`fincopilot kb eval`: retrieval and answer quality of the knowledge base, per retrieval mode and language.

For lexical-only, dense-only and hybrid retrieval it runs the `knowledge_qa` skill (extractive path, no model)
on the eval set and reports recall@5, MRR, answer exactness and abstention accuracy with 95% bootstrap CIs
(resampling items, 1000 rounds, seeded), per language. `--sweep` picks the abstention threshold
(`MIN_COVERAGE`) on the TRAIN split: the threshold with the best mean of exactness and abstention accuracy.

The same skill and metric run in the arena (`fincopilot arena run --skill knowledge_qa --backends
baseline:hybrid,baseline:lexical,baseline:dense`); this command adds the per-language CIs and the sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fincopilot.agents import knowledge_qa as kq
from fincopilot.agents.skills import SkillContext
from fincopilot.evals.datasets import EvalItem

MODES = ("lexical", "dense", "hybrid")
METRICS = ("recall_at_5", "mrr", "exact", "abstention_acc")
ROUNDS = 1000


def bootstrap_ci(values: Sequence[float], rounds: int = ROUNDS, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 2.5th percentile, 97.5th percentile) of the mean over item resamples."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(rounds, v.size))].mean(axis=1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def run_mode(items: Sequence[EvalItem], mode: str, min_coverage: float | None = None) -> list[dict[str, Any]]:
    """Per item: the skill's output under `mode` and its metrics (with the abstention threshold overridden)."""

    old = kq.MIN_COVERAGE
    if min_coverage is not None:
        kq.MIN_COVERAGE = min_coverage
    try:
        rows = []
        for it in items:
            ctx = SkillContext(
                skill="knowledge_qa", allowed_tools=("kb_search",), request_id=f"kb-eval-{it.id}"
            )
            out = kq.answer_question(
                kq.KnowledgeQaArgs(question=it.input["question"], mode=mode, use_model=False), ctx
            ).model_dump(mode="json")
            rows.append({"item": it, "output": out, "metrics": kq.metric(it.reference, out, None)})
        return rows
    finally:
        kq.MIN_COVERAGE = old


def summarize(rows: list[dict[str, Any]], metrics_of=lambda r: r["metrics"]) -> dict[str, dict[str, Any]]:
    """{language: {metric: (mean, lo, hi, n)}} plus "all"."""
    out: dict[str, dict[str, Any]] = {}
    for lang in ("en", "zh", "all"):
        sel = [r for r in rows if lang == "all" or r["item"].metadata.get("lang") == lang]
        out[lang] = {}
        for m in METRICS:
            vals = [metrics_of(r)[m] for r in sel if m in metrics_of(r)]
            out[lang][m] = (*bootstrap_ci(vals), len(vals))
    return out


def at_threshold(rows: list[dict[str, Any]], threshold: float) -> list[dict[str, float]]:
    """Metrics of rows run with threshold 0 (always answering when there is evidence) as if the skill had
    abstained below `threshold`: the answer it gives above the threshold is the same."""

    out = []
    for r in rows:
        o = r["output"]
        if o["found"] and o["coverage"] < threshold:
            o = {**o, "found": False, "answer": kq.NOT_FOUND, "method": "abstain"}
        out.append(kq.metric(r["item"].reference, o, None))
    return out


def sweep(
    items: Sequence[EvalItem],
    mode: str = "hybrid",
    grid: Sequence[float] = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7),
) -> tuple[float, dict[float, float]]:
    """The abstention threshold with the best mean(exact, abstention_acc) on `items` (the train split)."""
    rows = run_mode(items, mode, min_coverage=0.0)
    scores = {
        t: float(np.mean([(m["exact"] + m["abstention_acc"]) / 2 for m in at_threshold(rows, t)]))
        for t in grid
    }
    best = max(grid, key=lambda t: (scores[t], -abs(t - 0.5)))
    return best, scores


def markdown(results: dict[str, dict[str, dict[str, Any]]], split: str) -> str:
    lines = [
        f"Knowledge base eval ({split} split): mean [95% bootstrap CI], n items",
        "",
        "| mode | lang | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for mode, by_lang in results.items():
        for lang, ms in by_lang.items():
            cells = [f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}] n={v[3]}" for v in (ms[m] for m in METRICS)]
            lines.append(f"| {mode} | {lang} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
