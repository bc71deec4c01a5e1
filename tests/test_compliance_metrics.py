"""Per-category F1 (`f1:<category>`) in the arena's compliance scores (the skill declares
`Evaluation.per_category`), from per-item counts; the zero-shot baseline's answer parsing. Backends are
scripted FAKES (named as such)."""

from __future__ import annotations

import pytest

from fincopilot.evals.arena import leaderboard, run_arena
from fincopilot.evals.compliance_zeroshot import zero_shot
from fincopilot.evals.metrics import ItemScore, aggregate, category_counts, category_f1
from fincopilot.tools.compliance_rules import CATEGORIES
from tests.arena_helpers import use, write_config

GR, MC = "guaranteed_return", "misleading_claim"


def _output(*categories):
    return {"violations": [{"category": c} for c in categories]}


def test_counts_are_per_category_and_only_for_compliance():
    counts = category_counts("compliance_check", {"categories": [GR, MC]}, _output(GR, "pii"))
    assert (counts[f"tp:{GR}"], counts[f"fn:{MC}"], counts["fp:pii"]) == (1.0, 1.0, 1.0)
    assert counts[f"fp:{GR}"] == counts[f"tp:{MC}"] == counts["fn:pii"] == 0.0
    assert category_counts("planner", {"categories": [GR]}, _output(GR)) == {}


def test_f1_per_category_matches_a_hand_count_and_drops_the_counts():
    items = [
        ({"categories": [GR]}, _output(GR)),  # GR tp
        ({"categories": [GR]}, _output()),  # GR fn
        ({"categories": []}, _output(GR, MC)),  # GR fp, MC fp
        ({"categories": [MC]}, _output(MC)),  # MC tp
    ]
    scores = [
        ItemScore(score=1.0, metrics=category_counts("compliance_check", ref, out)) for ref, out in items
    ]
    agg = category_f1(aggregate("compliance_check", scores))
    assert agg[f"f1:{GR}"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))
    assert agg[f"f1:{MC}"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 0))
    assert "f1:pii" not in agg  # no gold and no flag: undefined, left out
    assert not any(k.startswith(("tp:", "fp:", "fn:")) for k in agg)
    assert "micro_f1" in agg


def test_the_arena_reports_f1_per_category_for_compliance(tmp_path):
    use(write_config(tmp_path))
    try:
        run = run_arena(
            "compliance_check",
            ["fake-noisy", "baseline:rules"],
            split="all",
            seed=3,
            progress=False,
            bootstrap_rounds=20,
        )
        board = {c.candidate: c for c in run.candidates}
        rules = board["baseline:rules"].metrics
        assert {f"f1:{GR}", f"f1:{MC}"} <= set(rules)
        assert all(0.0 <= v <= 1.0 for k, v in rules.items() if k.startswith("f1:"))
        # the noisy FAKE flags misleading_claim everywhere: its F1 there is below the rules'
        assert board["fake-noisy"].metrics[f"f1:{MC}"] < rules[f"f1:{MC}"]
        stored = {c.candidate: c.metrics for c in leaderboard(run.run_id)}
        assert stored["baseline:rules"][f"f1:{GR}"] == pytest.approx(rules[f"f1:{GR}"])
    finally:
        use(None)


def test_zero_shot_baseline_reads_a_yes_as_every_category_and_anything_else_as_clean(tmp_path):
    extra = """
[[backends]]
id = "fake-yes"
kind = "scripted"
model = "scripted"
options = { replies = ["Yes, it does."] }
"""
    use(write_config(tmp_path, extra=extra))
    try:
        assert zero_shot("fake-yes")("We guarantee 8% a year.") == set(CATEGORIES)
        assert (
            zero_shot("fake-quiet")("We guarantee 8% a year.") == set()
        )  # a FAKE that answers JSON, not yes
    finally:
        use(None)
