"""Per-text latency of the compliance check's layers, and of embedding a text once versus once per category.

The learned check scores every sentence of a text for four sentence categories. Its semantic part embeds the
sentences with e5; it does so once per text and shares the vectors across categories. The baseline in the same
run is the earlier path: the same `flags` with no shared vectors (`PerCategoryEmbedding`), so `scores` embeds
the sentences again for each category. Both paths return the same flags (checked in the run). Rules alone and rules plus the n-gram model
show what each layer costs. The last row is the check as it runs by default since round 13 (`check_learned`:
both languages on the tuned PyTorch encoder at 1%; round 12 ran English only on it).

Run: `python -m bench.bench_compliance [--texts N]`. Writes the `compliance` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

from bench.common import write_section
from fincopilot.evals.compliance_adversarial import DEVELOPMENT, SPLITS, load_items
from fincopilot.tools.compliance import check_learned, check_rules
from fincopilot.tools.compliance_semantic import DEFAULT_BUDGET, CombinedModel, load_combined


class PerCategoryEmbedding(CombinedModel):
    """The baseline: the default flags, with the sentences embedded again for every category."""

    def shared_vectors(self, pieces: list[str]) -> None:
        return None


BASELINE = "rules + n-gram + semantic, embedded per category (baseline)"
EMBEDDED_ONCE = "rules + n-gram + semantic, embedded once"


def paths(model: CombinedModel) -> dict[str, Callable[[str], set[str]]]:
    rules = lambda text: {v.category for v in check_rules(text).violations}  # noqa: E731
    baseline = PerCategoryEmbedding(model.ngram, model.semantic, model.embed)
    return {
        "rules alone": rules,
        "rules + n-gram": lambda t: rules(t) | {f.category for f in model.flags(t, use_semantic=False)},
        BASELINE: lambda t: rules(t) | {f.category for f in baseline.flags(t, budget=DEFAULT_BUDGET)},
        EMBEDDED_ONCE: lambda t: rules(t) | {f.category for f in model.flags(t, budget=DEFAULT_BUDGET)},
        "default check (tuned encoder, both languages)": lambda t: {
            v.category for v in check_learned(t).violations
        },
    }


def measure(texts: list[str]) -> tuple[dict[str, list[float]], bool]:
    """Milliseconds per text for each path, and whether the two semantic paths agreed on every text."""
    model = load_combined()
    timed, answers = {}, {}
    for name, check in paths(model).items():
        check(texts[0])  # warm up outside the timings
        timed[name], answers[name] = [], []
        for text in texts:
            started = time.perf_counter()
            answers[name].append(check(text))
            timed[name].append((time.perf_counter() - started) * 1000)
    return timed, answers[BASELINE] == answers[EMBEDDED_ONCE]


def report(timed: dict[str, list[float]], same: bool, n: int, loads: tuple[float, float]) -> str:
    base = statistics.median(timed[BASELINE])
    lines = [
        f"{n} texts of the development splits (English and Chinese, one to four sentences), each checked by every "
        f"path in one process after a warm-up; false-alarm budget {DEFAULT_BUDGET:.0%}. The two semantic paths "
        f"return {'the same' if same else 'DIFFERENT'} categories on every text. Load average (1 min) at the "
        f"start {loads[0]:.2f}, at the end {loads[1]:.2f}.",
        "",
        "| path | median ms / text | p95 ms / text | speed vs the baseline (medians) |",
        "|---|---:|---:|---:|",
    ]
    for name, ms in timed.items():
        median, p95 = statistics.median(ms), statistics.quantiles(ms, n=20)[-1]
        lines.append(f"| {name} | {median:.1f} | {p95:.1f} | {base / median:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=120, help="texts to time (spread over the splits)")
    args = parser.parse_args(argv if argv is not None else [])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    items = [item for name in DEVELOPMENT for item in load_items(SPLITS[name])]
    texts = [item["text"] for item in items[:: max(1, len(items) // args.texts)]][: args.texts]
    load_start = os.getloadavg()[0]
    timed, same = measure(texts)
    body = report(timed, same, len(texts), (load_start, os.getloadavg()[0]))
    write_section(
        "compliance",
        "Compliance check: per-text latency of each layer, one embedding per text vs one per category",
        body,
        f"python -m bench.bench_compliance --texts {args.texts}",
    )
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
