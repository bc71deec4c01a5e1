"""Paired, item-level bootstrap of score differences: is candidate A better than B on the same items?

Both candidates answered the same items, so the question is about the per-item differences d_i = s_A(i) −
s_B(i), not about two separate means (pairing removes the item-difficulty variance; Dror et al. 2018,
"The Hitchhiker's Guide to Testing Statistical Significance in NLP"). We resample items with replacement
(`rounds` ≥ 1,000), take the 2.5th/97.5th percentiles of the mean difference, and call:

- "a_better" / "b_better": the 95% interval lies entirely above / below zero;
- "no_separation": the interval contains zero;
- "insufficient_evidence": fewer than `MIN_DECISIVE` items differ at all (then the interval says nothing:
  with every difference zero it would be the zero-width [0, 0]).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from fincopilot.evals.bradley_terry import MIN_DECISIVE, ROUNDS

Verdict = Literal["a_better", "b_better", "no_separation", "insufficient_evidence"]


class PairedDiff(BaseModel):
    """Mean per-item score difference a − b with its bootstrap 95% interval and what it shows."""

    a: str
    b: str
    items: int
    decisive: int  # items where the scores differ
    mean: float
    ci_low: float | None
    ci_high: float | None
    verdict: Verdict

    def better(self) -> str | None:
        """The candidate the evidence favours, if any."""
        return self.a if self.verdict == "a_better" else self.b if self.verdict == "b_better" else None

    def describe(self) -> str:
        ci = f"[{self.ci_low:+.3f}, {self.ci_high:+.3f}]" if self.ci_low is not None else "[no interval]"
        what = {
            "a_better": f"{self.a} better",
            "b_better": f"{self.b} better",
            "no_separation": "no separation (interval contains 0)",
            "insufficient_evidence": f"insufficient evidence ({self.decisive} of {self.items} items differ)",
        }
        return f"{self.a} − {self.b}: {self.mean:+.3f} {ci} over {self.items} items → {what[self.verdict]}"


def paired_bootstrap(
    scores: dict[str, dict[str, float]],
    a: str,
    b: str,
    *,
    rounds: int = ROUNDS,
    seed: int = 0,
    min_decisive: int = MIN_DECISIVE,
) -> PairedDiff:
    """Paired bootstrap of mean(score_a − score_b) over the items both candidates have a score for."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    diffs = np.array(
        [per[a] - per[b] for _, per in sorted(scores.items()) if a in per and b in per], dtype=float
    )
    n = len(diffs)
    decisive = int(np.sum(np.abs(diffs) > 1e-9))
    if n == 0:
        return PairedDiff(
            a=a,
            b=b,
            items=0,
            decisive=0,
            mean=0.0,
            ci_low=None,
            ci_high=None,
            verdict="insufficient_evidence",
        )
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, n, size=(rounds, n))].mean(axis=1)
    lo, hi = (float(x) for x in np.percentile(means, [2.5, 97.5]))
    if decisive < min_decisive:
        verdict: Verdict = "insufficient_evidence"
        if hi - lo < 1e-12:
            lo = hi = None  # type: ignore[assignment]
    elif lo > 0:
        verdict = "a_better"
    elif hi < 0:
        verdict = "b_better"
    else:
        verdict = "no_separation"
    return PairedDiff(
        a=a, b=b, items=n, decisive=decisive, mean=float(diffs.mean()), ci_low=lo, ci_high=hi, verdict=verdict
    )


def all_pairs(
    scores: dict[str, dict[str, float]], *, rounds: int = ROUNDS, seed: int = 0
) -> list[PairedDiff]:
    """Every pair of candidates (sorted names, a < b)."""
    names = sorted({c for per in scores.values() for c in per})
    return [
        paired_bootstrap(scores, a, b, rounds=rounds, seed=seed)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]


def lookup(pairs: list[PairedDiff], a: str, b: str) -> PairedDiff | None:
    """The comparison a − b from `pairs`, flipped if stored as b − a."""
    for p in pairs:
        if (p.a, p.b) == (a, b):
            return p
        if (p.a, p.b) == (b, a):
            flip = {"a_better": "b_better", "b_better": "a_better"}
            return PairedDiff(
                a=a,
                b=b,
                items=p.items,
                decisive=p.decisive,
                mean=-p.mean,
                ci_low=None if p.ci_high is None else -p.ci_high,
                ci_high=None if p.ci_low is None else -p.ci_low,
                verdict=flip.get(p.verdict, p.verdict),
            )  # type: ignore[arg-type]
    return None
