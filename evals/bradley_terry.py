"""Bradley–Terry ratings from pairwise battles, computed the way the LMSYS Chatbot Arena does.

`compute_mle_elo` fits a logistic regression (scikit-learn, no intercept) on one row per battle with
+log(BASE) in the first model's column and -log(BASE) in the second's; the coefficients, times SCALE and
plus INIT_RATING, are the ratings on the familiar Elo scale (400 points = 10:1 odds). A tie counts as
half a win for each side (LMSYS adds ties to both win tables). Battles are summed into a win table
first, and every pair is entered in both orientations, so a model that never loses still gives both
classes to the fit; a very weak L2 penalty
keeps an undefeated model's rating finite and centres the ratings (the model is identified only up to
a constant; ridge picks the mean-zero solution).

`bootstrap` resamples the battles with replacement (seeded) and refits; the 2.5th/97.5th percentiles
of each model's rating are its 95% confidence interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

SCALE = 400.0
BASE = 10.0
INIT_RATING = 1000.0
RIDGE_C = 1e4  # inverse L2 strength: negligible on real data, finite ratings for undefeated models

Winner = Literal["a", "b", "tie"]


class Battle(BaseModel):
    """One pairwise comparison: model_a vs model_b on one item."""

    model_a: str
    model_b: str
    winner: Winner
    item_id: str = ""


class Rating(BaseModel):
    model: str
    rating: float
    ci_low: float
    ci_high: float
    battles: int
    wins: float  # ties count 0.5


def _encode(battles: Sequence[Battle], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {m: i for i, m in enumerate(names)}
    ia = np.fromiter((index[b.model_a] for b in battles), dtype=np.int64, count=len(battles))
    ib = np.fromiter((index[b.model_b] for b in battles), dtype=np.int64, count=len(battles))
    pa = np.fromiter(({"a": 1.0, "b": 0.0, "tie": 0.5}[b.winner] for b in battles), dtype=float, count=len(battles))
    return ia, ib, pa


def _fit(ia: np.ndarray, ib: np.ndarray, pa: np.ndarray, k: int, scale: float, base: float,
         init_rating: float) -> np.ndarray:
    """Fit on encoded battles. Battles are first summed into a k×k win table (as LMSYS does), so the
    regression has at most 2·k² rows whatever the number of battles."""
    from sklearn.linear_model import LogisticRegression

    wins = np.zeros((k, k))
    np.add.at(wins, (ia, ib), pa)          # first beats second
    np.add.at(wins, (ib, ia), 1.0 - pa)    # second beats first (ties: half each)
    rows_i, rows_j = np.nonzero(wins)
    if len(rows_i) == 0:
        return np.full(k, init_rating)
    lb = math.log(base)
    # row (i, j, y=1) weighted by i's wins over j, and its mirror (j, i, y=0): both classes always present
    n = len(rows_i)
    X = np.zeros((2 * n, k))
    X[np.arange(n), rows_i] = lb
    X[np.arange(n), rows_j] = -lb
    X[n + np.arange(n), rows_j] = lb
    X[n + np.arange(n), rows_i] = -lb
    y = np.concatenate([np.ones(n), np.zeros(n)])
    w = np.concatenate([wins[rows_i, rows_j], wins[rows_i, rows_j]])
    lr = LogisticRegression(fit_intercept=False, C=RIDGE_C, tol=1e-8, max_iter=1000)
    lr.fit(X, y, sample_weight=w)
    return scale * lr.coef_[0] + init_rating


def compute_mle_elo(battles: Sequence[Battle], models: Sequence[str] | None = None, *, scale: float = SCALE,
                    base: float = BASE, init_rating: float = INIT_RATING) -> dict[str, float]:
    """MLE Bradley–Terry ratings (Elo scale) of every model in `battles` (and `models`, unrated → init)."""
    names = sorted({b.model_a for b in battles} | {b.model_b for b in battles} | set(models or ()))
    if not names:
        return {}
    if len(names) == 1 or not battles:
        return {m: init_rating for m in names}
    ia, ib, pa = _encode(battles, names)
    r = _fit(ia, ib, pa, len(names), scale, base, init_rating)
    return {m: float(r[i]) for i, m in enumerate(names)}


def bootstrap(battles: Sequence[Battle], rounds: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """Ratings refit on `rounds` resamples (with replacement) of the battles: {model: array of ratings}."""
    names = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    if not battles:
        return {}
    rng = np.random.default_rng(seed)
    ia, ib, pa = _encode(battles, names)
    n = len(battles)
    out = np.zeros((rounds, len(names)))
    for r in range(rounds):
        idx = rng.integers(0, n, size=n)
        out[r] = _fit(ia[idx], ib[idx], pa[idx], len(names), SCALE, BASE, INIT_RATING)
    return {m: out[:, i] for i, m in enumerate(names)}


def ratings_with_ci(battles: Sequence[Battle], rounds: int = 200, seed: int = 0) -> list[Rating]:
    """Point ratings (fit on all battles) with bootstrap 95% CIs, best first."""
    point = compute_mle_elo(battles)
    if not point:
        return []
    boot = bootstrap(battles, rounds, seed) if battles else {}
    counts: dict[str, int] = {m: 0 for m in point}
    wins: dict[str, float] = {m: 0.0 for m in point}
    for b in battles:
        counts[b.model_a] += 1
        counts[b.model_b] += 1
        pa = {"a": 1.0, "b": 0.0, "tie": 0.5}[b.winner]
        wins[b.model_a] += pa
        wins[b.model_b] += 1.0 - pa
    out = []
    for m, r in point.items():
        samples = boot.get(m)
        lo, hi = (float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))) if samples is not None \
            and len(samples) else (r, r)
        out.append(Rating(model=m, rating=r, ci_low=lo, ci_high=hi, battles=counts[m], wins=wins[m]))
    return sorted(out, key=lambda x: (-x.rating, x.model))


def battles_from_scores(scores: dict[str, dict[str, float]], eps: float = 1e-9) -> list[Battle]:
    """Battles from per-item metric scores: {item_id: {model: score}} → every pair on every item;
    the higher score wins, equal scores tie."""
    out: list[Battle] = []
    for item_id in sorted(scores):
        per = scores[item_id]
        names = sorted(per)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                d = per[a] - per[b]
                out.append(Battle(model_a=a, model_b=b, item_id=item_id,
                                  winner="a" if d > eps else "b" if d < -eps else "tie"))
    return out
