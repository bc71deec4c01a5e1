"""The learned compliance check: on by default beside the rules, negation-aware, and measured on the
adversarial split (never used in training) against the rules-only baseline."""

from __future__ import annotations

import pytest

from fincopilot.agents.compliance_check import check_learned, check_rules
from fincopilot.evals.compliance_adversarial import (
    DEVELOPMENT,
    FINAL_PATH,
    ISSUE_PROMISES,
    SPLITS,
    TEST_PATH,
    evaluate,
    load_items,
)
from fincopilot.tools import compliance_corpus, datagen
from fincopilot.tools.claims import split_sentences
from fincopilot.tools.compliance_corpus import HELD_OUT_PRODUCTS
from fincopilot.tools.compliance_model import load_model
from fincopilot.tools.compliance_rules import CATEGORIES


@pytest.fixture(scope="module")
def scores():
    return {s.system: s for s in evaluate()}


def test_adversarial_splits_are_apart_from_the_training_corpus():
    train = {e.text for e in compliance_corpus.generate()}
    for split, path in SPLITS.items():
        assert not train & {i["text"] for i in load_items(path)}, split


def test_the_products_own_texts_are_clean_training_texts_except_the_reports_tests_run_on():
    product = [e for e in compliance_corpus.generate() if e.family.startswith(("report-", "framework-"))]
    assert product and all(not e.labels for e in product)
    texts = {e.text for e in product}
    assert any("widened by" in t and " bp to " in t for t in texts)  # report sentences of the bond template
    assert any("Name a client id (like C-" in t for t in texts)
    held_out = [r for r in datagen.reports() if r["product_code"] in HELD_OUT_PRODUCTS]
    naming = {s for r in held_out for s in split_sentences(r["body"]) if r["product_code"] in s}
    assert naming and not texts & naming  # no sentence of a report the graph tests answer from


@pytest.mark.parametrize(
    ("split", "rows_per_language"),
    [
        ("dev3", 40),
        ("test2", 60),
        ("test3", 40),
        ("test4", 40),
        ("test5", 40),
        ("test6", 40),
        ("test7", 40),
        ("test8", 100),
        ("test9", 100),
        ("test10", 100),
        ("test11", 100),
        ("test12", 100),
        ("test13", 100),
        ("test", 100),
    ],
)
def test_the_hand_written_splits_have_both_languages_half_violating(split, rows_per_language):
    items = load_items(SPLITS[split])
    for lang in ("en", "zh"):
        rows = [i for i in items if i["lang"] == lang]
        violating = sum(1 for i in rows if i["categories"])
        assert len(rows) >= rows_per_language and 0.4 <= violating / len(rows) <= 0.6, (split, lang)
        # the violations cover all five categories in each language
        assert {c for i in rows for c in i["categories"]} == set(CATEGORIES), (split, lang)


def test_every_split_has_the_shape_and_no_text_twice():
    assert TEST_PATH.name == "compliance_adversarial_test14.jsonl"
    # every split but the held-out ones (scored, never looked into) is a development split
    assert set(SPLITS) - set(DEVELOPMENT) == {"test", "test6", "test7"} and set(DEVELOPMENT) <= set(SPLITS)
    seen: dict[str, str] = {}
    for split, path in SPLITS.items():
        items = load_items(path)
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids)), split
        for i in items:
            assert set(i) == {"id", "lang", "text", "categories"}, (split, i["id"])
            assert i["lang"] in ("en", "zh") and i["text"].strip(), (split, i["id"])
            assert set(i["categories"]) <= set(CATEGORIES), (split, i["id"])
            assert i["text"] not in seen, (split, i["id"], seen.get(i["text"]))  # no text in two splits
            seen[i["text"]] = split
    for split, prefix in (
        ("dev3", "dev3-"),
        ("test2", "test2-"),
        ("test3", "test3-"),
        ("test4", "test4-"),
        ("test5", "test5-"),
        ("test6", "test6-"),
        ("test7", "test7-"),
        ("test8", "test8-"),
        ("test9", "test9-"),
        ("test10", "test10-"),
        ("test11", "test11-"),
        ("test12", "test12-"),
        ("test13", "test13-"),
        ("test", "test14-"),
    ):
        assert all(i["id"].startswith(prefix) for i in load_items(SPLITS[split])), split


def test_learned_path_beats_the_rules_with_few_false_alarms(scores):
    rules, learned = scores["rules"], scores["rules+learned"]
    for lang in ("en", "zh"):
        # floors below the measured level on this development split (0.93 EN / 0.97 ZH at the 2% budget with corpus
        # v14, no false alarms; evals/examples/compliance-semantic.md); the issue's goal is 0.95 / 0.05 on unseen text
        assert learned.languages[lang].recall.value >= 0.85
        assert learned.languages[lang].recall.value >= rules.languages[lang].recall.value + 0.5
        assert learned.languages[lang].false_alarm_rate.value <= 0.05
    assert learned.category_f1["guaranteed_return"].value > rules.category_f1["guaranteed_return"].value


@pytest.mark.parametrize(
    "text",
    [
        *ISSUE_PROMISES,
        pytest.param(
            "No part of your capital can be lost with HY-7.",  # a promise built from a negation
            marks=pytest.mark.xfail(
                strict=True,
                reason="known regression since corpus v8: clean twins about conditional capital protection "
                "pull this promise below the threshold (0.36 against 0.62 in v9; "
                "evals/examples/compliance-semantic.md); strict, so the test says when a later corpus catches it",
            ),
        ),
    ],
)
def test_the_issues_disguised_promises_are_caught_by_the_learned_path(text):
    assert check_rules(text).passed  # the rules alone miss them
    result = check_learned(text)
    assert not result.passed
    assert {v.rule for v in result.violations} == {"CMP-ML-GR"}
    assert all(v.span in text for v in result.violations)  # spans quote the original text


@pytest.mark.parametrize(
    "text",
    [
        "Returns are not guaranteed; you may lose part of your principal.",
        "There is no guarantee that the fund will double; it could also lose value.",
        "本产品不保本，也不保证收益。",
        "HY-7的到期收益率为7.88%，久期3.7年。",
    ],
)
def test_negated_and_factual_texts_stay_clean(text):
    assert check_learned(text).passed


def test_thresholds_are_calibrated_on_validation_families():
    model = load_model()
    for category, m in model.models.items():
        assert 0.5 <= m.threshold < 1.0, category
        assert m.val_fpr <= 0.05, category
    families = {compliance_corpus.split_of(e): set() for e in compliance_corpus.generate()}
    for e in compliance_corpus.generate():
        families[compliance_corpus.split_of(e)].add(e.family)
    assert not families["train"] & families["validation"]


def test_the_skill_runs_the_learned_check_by_default():
    from skill_helpers import run_skill

    out = run_skill("compliance_check", {"text": "HY-7 delivers an assured 7.5% every year."})
    assert "CMP-ML-GR" in {v.rule for v in out.violations}
    off = run_skill(
        "compliance_check", {"text": "HY-7 delivers an assured 7.5% every year.", "learned": False}
    )
    assert off.passed


def test_the_split_written_after_development_still_shows_the_gain():
    items = load_items(FINAL_PATH)
    rules, learned = (s for s in evaluate(items))
    for lang in ("en", "zh"):
        assert learned.languages[lang].recall.value >= rules.languages[lang].recall.value + 0.25
        assert learned.languages[lang].false_alarm_rate.value <= 0.2
