"""Eval sets (committed JSONL) and metrics."""

from __future__ import annotations

import json

import pytest

from fincopilot.errors import InputError, NotFoundError
from fincopilot.evals import metrics
from fincopilot.evals.datasets import DATASET_DIR, dataset_version, load_items, split_for, write_items

SKILLS = ("planner", "credit_lookup", "report_summary", "compliance_check")


@pytest.mark.parametrize("skill", SKILLS)
def test_sets_load_with_stable_splits(skill):
    items = load_items(skill)
    train, heldout = load_items(skill, "train"), load_items(skill, "heldout")
    assert len(train) + len(heldout) == len(items) >= 40
    assert 0.15 < len(heldout) / len(items) < 0.45
    assert all(i.split == split_for(i.id) for i in items)
    assert len({i.id for i in items}) == len(items)
    assert dataset_version(skill) == dataset_version(skill) and len(dataset_version(skill)) == 12


def test_planner_set_shape_and_gold_plans_are_valid():
    from fincopilot.agents.planner import validate_plan

    items = load_items("planner")
    assert len(items) >= 100
    langs = {i.metadata["lang"] for i in items}
    assert langs == {"en", "zh"}
    assert any(i.metadata["no_skill"] for i in items) and any(i.metadata["multi_skill"] for i in items)
    for i in items:
        plan = i.reference["plan"]
        assert sorted({s["skill"] for s in plan["steps"]}) == i.reference["skills"]
        if plan["steps"]:
            assert validate_plan(plan) == [], i.id
    demo = [i for i in items if "C-1042" in i.input["request"] and "HY-7" in i.input["request"]]
    # the graph's compliance gate checks the answer and suitability: no compliance_check step
    assert demo and demo[0].reference["skills"] == ["credit_lookup", "report_summary"]


def test_compliance_set_is_not_trivial_for_the_rules():
    """The texts were labelled independently of the rule patterns: the rules must miss some."""
    from fincopilot.agents.compliance_check import check_rules

    items = load_items("compliance_check")
    assert {i.metadata["lang"] for i in items} == {"en", "zh"}
    assert any(i.metadata["clean"] for i in items) and any(not i.metadata["clean"] for i in items)
    scores = [
        metrics.score_item(
            "compliance_check",
            i.reference,
            check_rules(i.input["text"], i.input["client"], i.input["product"]).model_dump(),
        )
        for i in items
    ]
    agg = metrics.aggregate("compliance_check", scores)
    assert 0.5 < agg["micro_f1"] < 0.99


def test_planner_build_is_deterministic(tmp_path):
    from fincopilot.evals.build import build_planner

    a, b = build_planner(), build_planner()
    pa, pb = write_items("planner", a, tmp_path / "a.jsonl"), write_items("planner", b, tmp_path / "b.jsonl")
    assert pa.read_bytes() == pb.read_bytes() == (DATASET_DIR / "planner.jsonl").read_bytes()


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="unknown split"):
        load_items("planner", "test")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no eval set for skill 'nope'"):
        load_items("nope")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "input": {}}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        load_items("planner", path=bad)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "x", "skill": "credit_lookup", "input": {}}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="is for skill 'credit_lookup'"):
        load_items("planner", path=other)


def test_rouge_l_and_lcs():
    assert metrics.lcs_length("a b c d".split(), "a c d".split()) == 3
    r = metrics.rouge_l("the fund rose 2%", "the fund rose 2% in May")
    assert r["precision"] == 1.0 and abs(r["recall"] - 4 / 6) < 1e-9
    assert metrics.rouge_l("基金上涨", "基金净值上涨")["recall"] == pytest.approx(4 / 6)
    assert metrics.rouge_l("", "x")["f"] == 0.0


def test_metric_scorers():
    ref = {
        "skills": ["credit_lookup", "report_summary"],
        "plan": {
            "steps": [
                {"id": 1, "skill": "credit_lookup", "args": {"client": "C-1042"}, "depends_on": []},
                {"id": 2, "skill": "report_summary", "args": {"product": "HY-7"}, "depends_on": []},
            ]
        },
    }
    out = {
        "plan": {"steps": [{"id": 1, "skill": "credit_lookup", "args": {"client": "C-1042"}}]},
        "valid_before_repair": True,
    }
    s = metrics.score_planner(ref, out)
    assert s.score == pytest.approx(2 / 3) and s.metrics["valid_before_repair"] == 1.0
    assert metrics.score_planner({"skills": [], "plan": {"steps": []}}, {"plan": {"steps": []}}).score == 1.0
    c = metrics.score_item(
        "credit_lookup",
        {"grade": "B", "score": 600, "pd": 0.05},
        {"grade": "B", "score": 605, "explanation": "Score 605, grade B."},
    )
    assert c.metrics["grade_exact"] == 1.0 and c.metrics["score_within_tol"] == 1.0
    bad = metrics.score_item(
        "credit_lookup",
        {"grade": "B", "score": 600, "pd": 0.05},
        {"grade": "C", "score": 700, "explanation": "PD is 99%."},
    )
    assert bad.score < 0.34
    src = "NAV was 1.3847, up 1.16% over the quarter; net assets CNY 6.35 billion."
    good = metrics.score_item(
        "report_summary",
        {"key_figures": ["1.3847", "1.16%"], "summary": src},
        {"summary": "NAV 1.3847, up 1.16%."},
        src,
    )
    made_up = metrics.score_item(
        "report_summary",
        {"key_figures": ["1.3847", "1.16%"], "summary": src},
        {"summary": "NAV 1.3847, up 9.99%."},
        src,
    )
    assert good.metrics["coverage"] == 1.0 and good.metrics["faithfulness"] == 1.0
    assert made_up.metrics["faithfulness"] == 0.5 and made_up.score < good.score
    comp = metrics.score_item(
        "compliance_check",
        {"categories": ["pii"]},
        {"violations": [{"category": "pii"}, {"category": "suitability"}]},
    )
    assert comp.metrics["precision"] == 0.5 and comp.metrics["recall"] == 1.0
