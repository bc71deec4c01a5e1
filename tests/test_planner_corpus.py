"""The planner corpus: template-disjoint splits, gold plans that the production checks accept, the hand-written set."""

from __future__ import annotations

import json

import pytest

from fincopilot.agents.planner import Plan, planner_schema, quoted_text, resolve_plan, review_plan
from fincopilot.evals import planner_corpus as pc
from fincopilot.evals.planner_eval import gold_plan, load_set, score_plan, wilson
from fincopilot.models.trainset import render_target


def test_test_and_validation_frames_are_never_seen_in_training():
    train, validation, test = (pc.load_split_frames(s) for s in ("train", "validation", "test"))
    assert train and validation and test
    assert not train & test and not train & validation and not validation & test


def test_every_kind_and_language_is_in_every_split():
    kinds = {}
    for split in ("train", "validation", "test"):
        for item in load_set(split):
            kinds.setdefault(split, set()).add((item["metadata"]["kind"], item["metadata"]["lang"]))
    assert kinds["train"] == kinds["validation"] == kinds["test"]
    assert len(kinds["test"]) >= 30  # 15+ kinds x 2 languages


def test_committed_splits_are_what_the_generator_writes(tmp_path):
    pc.write_all(tmp_path)
    for split in ("train", "validation", "test"):
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (pc.SETS_DIR / f"{split}.jsonl").read_bytes(), (
            split
        )


@pytest.mark.parametrize(
    "split", ["validation", "test", "handwritten", "drafts", "drafts_named", "drafts3", "drafts4", "quoted"]
)
def test_gold_plans_pass_the_production_checks_and_resolve(split, db):
    for item in load_set(split):
        plan = Plan.model_validate(item["reference"]["plan"])
        request, context = item["input"]["request"], item["input"].get("context") or []
        assert review_plan(plan, request, context) == [] if plan.steps else True, item["id"]
        _, problems, questions = resolve_plan(plan, request)
        assert problems == [] and questions == [], item["id"]
        planner_schema().model_validate(item["reference"]["plan"])  # a decoder could emit it


def test_corpus_has_the_variety_the_planner_needs():
    items = load_set("train")
    kinds = {i["metadata"]["kind"] for i in items}
    assert {
        "compare",
        "draft",
        "draft_suit",
        "draft_client",
        "followup_credit",
        "chitchat",
        "out_of_scope",
        "multi_summary",
        "quoted_other",
        "summary_quoted",
    } <= kinds
    assert {i["metadata"]["style"] for i in items} == {"formal", "casual", "terse", "typos"}
    assert sum(bool(i["metadata"]["by_name"]) for i in items) > 300  # names, not only ids
    compare = next(i for i in items if i["metadata"]["kind"] == "compare")
    skills = [s["skill"] for s in compare["reference"]["plan"]["steps"]]
    # the graph's compliance gate checks each product's suitability: no compliance_check step
    assert skills == ["credit_lookup", "report_summary", "report_summary"]
    draft = next(i for i in items if i["metadata"]["kind"] == "draft_suit")
    assert [s["args"]["text"] for s in draft["reference"]["plan"]["steps"]] == ["$quote"]
    to_client = next(i for i in items if i["metadata"]["kind"] == "draft_client")
    (step,) = to_client["reference"]["plan"]["steps"]
    assert step["args"]["product"] in to_client["reference"]["quote"]  # named only inside the quote
    # quoted text is not always a draft: a phrase to translate has no steps, a quoted name is a product
    marked = [i for i in items if quoted_text(i["input"]["request"]) is not None]
    assert any(not i["reference"]["plan"]["steps"] for i in marked)
    assert any(i["metadata"]["kind"] == "summary_quoted" for i in marked)


@pytest.mark.parametrize(
    "split",
    ["train", "validation", "test", "handwritten", "drafts", "drafts_named", "drafts3", "drafts4", "quoted"],
)
def test_no_plan_checks_the_final_answer_in_a_step(split):
    # the compliance gate is a graph node: a plan never has an answer-check step
    for item in load_set(split):
        for st in item["reference"]["plan"]["steps"]:
            assert st["skill"] != "compliance_check" or st["args"]["text"] != "$answer", item["id"]


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("handwritten", 40),
        ("drafts", 16),
        ("drafts_named", 16),
        ("drafts3", 32),
        ("drafts4", 48),
        ("quoted", 16),
    ],
)
def test_sets_written_by_hand_are_apart_from_the_generator(name, size):
    hand = load_set(name)
    assert len(hand) >= size and {i["metadata"]["lang"] for i in hand} == {"en", "zh"}
    generated = {i["input"]["request"] for s in ("train", "validation", "test") for i in load_set(s)}
    frames = set().union(*(pc.load_split_frames(s) for s in ("train", "validation", "test")))
    assert not any(i["input"]["request"] in generated or i["input"]["request"] in frames for i in hand)


def test_metrics_compare_resolved_arguments(db):
    item = {
        "id": "x",
        "input": {"request": "Summarize the High Yield Bond Fund report"},
        "reference": {
            "plan": {
                "steps": [{"id": 1, "skill": "report_summary", "args": {"product": "High Yield Bond Fund"}}]
            }
        },
    }
    gold = gold_plan(item)
    assert gold.steps[0].args == {"product": "HY-7"}
    right = Plan.model_validate(
        {"steps": [{"id": 1, "skill": "report_summary", "args": {"product": "HY-7"}}]}
    )
    wrong = Plan.model_validate(
        {"steps": [{"id": 1, "skill": "report_summary", "args": {"product": "HY-8"}}]}
    )
    assert score_plan(right, gold) == {"skill_set": True, "arguments": True}
    assert score_plan(wrong, gold) == {"skill_set": True, "arguments": False}
    assert score_plan(None, gold) == {"skill_set": False, "arguments": False}
    lo, hi = wilson(18, 20)
    assert 0.68 < lo < 0.7 and 0.97 < hi < 0.98


def test_training_targets_are_the_decoders_bytes():
    item = next(i for i in load_set("train") if i["metadata"]["kind"] == "draft_suit")
    target = render_target(planner_schema().model_validate(item["reference"]["plan"]))
    assert '"args": {"text": "$quote", "client": ' in target  # schema order, xgrammar's separators
    assert Plan.model_validate(json.loads(target)).plan_json()["steps"][0]["skill"] == "compliance_check"
