"""Paired item-level bootstrap of score differences, on SCRIPTED per-item scores (fakes, named as such)."""

from __future__ import annotations

import numpy as np
import pytest

from fincopilot.evals.paired import all_pairs, lookup, paired_bootstrap


def scripted_scores(n: int, gain: float, noise: float, seed: int = 0) -> dict[str, dict[str, float]]:
    """FAKE scores: a shared item difficulty plus noise; candidate `a` is `gain` better than `b` on average."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        difficulty = rng.random()
        out[f"i{i}"] = {
            "a": float(np.clip(difficulty + gain + rng.normal(0, noise), 0, 1)),
            "b": float(np.clip(difficulty + rng.normal(0, noise), 0, 1)),
        }
    return out


def test_a_real_gain_is_detected_because_pairing_removes_item_difficulty():
    d = paired_bootstrap(scripted_scores(60, gain=0.08, noise=0.05), "a", "b", rounds=2000)
    assert d.verdict == "a_better" and d.ci_low > 0 and d.better() == "a"
    assert 0.04 < d.mean < 0.12 and d.items == 60


def test_no_gain_is_no_separation_and_the_interval_contains_zero():
    d = paired_bootstrap(scripted_scores(60, gain=0.0, noise=0.1, seed=3), "a", "b")
    assert d.verdict == "no_separation" and d.ci_low < 0 < d.ci_high


def test_identical_outputs_are_insufficient_evidence_never_a_zero_width_interval():
    same = {f"i{i}": {"a": 0.5, "b": 0.5} for i in range(20)}
    d = paired_bootstrap(same, "a", "b")
    assert d.verdict == "insufficient_evidence" and d.ci_low is None and d.ci_high is None
    # a few decisive items cannot separate either (fewer than 6: a sign test could not reach 95%)
    few = {**same, "x1": {"a": 1.0, "b": 0.0}, "x2": {"a": 1.0, "b": 0.0}}
    assert paired_bootstrap(few, "a", "b").verdict == "insufficient_evidence"
    assert "insufficient evidence (2 of 22 items differ)" in paired_bootstrap(few, "a", "b").describe()


def test_pairs_are_seeded_flippable_and_use_only_shared_items():
    scores = scripted_scores(30, gain=0.2, noise=0.05)
    scores["only-a"] = {"a": 1.0}
    pairs = all_pairs(scores, rounds=1000, seed=4)
    assert pairs == all_pairs(scores, rounds=1000, seed=4) and pairs[0].items == 30
    flipped = lookup(pairs, "b", "a")
    assert flipped.verdict == "b_better" and flipped.mean == pytest.approx(-pairs[0].mean)
    assert flipped.ci_low == pytest.approx(-pairs[0].ci_high)
