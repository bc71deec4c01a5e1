"""The summarizer's fine-tuning corpus, its splits and its metrics (no model)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from fincopilot.agents.report_summary import TUNE_FILES, LlmSummary, finetune_task, judge_summary, rejection
from fincopilot.evals import summary_corpus
from fincopilot.evals.corpus import build_corpus
from fincopilot.evals.datasets import load_items
from fincopilot.evals.summary_eval import SETS as EVAL_SETS
from fincopilot.tools import datagen
from fincopilot.tools.claims import check_claims

SPLITS = ("train", "validation", "test")


def _items(split: str) -> list[dict]:
    path = summary_corpus.OUT_DIR / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def built():
    return summary_corpus.build()


def test_committed_splits_are_what_the_generator_writes(built):
    for split in SPLITS:
        assert [i["id"] for i in _items(split)] == [i["id"] for i in built[split]]
        assert _items(split) == json.loads(json.dumps(built[split], ensure_ascii=False))


def test_every_target_passes_the_gate_the_worker_applies(built):
    for items in built.values():
        for item in items:
            source, ref = item["input"]["text"], item["reference"]
            assert check_claims("\n".join([ref["summary"], *ref["key_figures"]]), [source]).ok, item["id"]
            assert rejection(ref["summary"], source) is None, item["id"]
            assert all(":" in f or "：" in f for f in ref["key_figures"]), item["id"]


HAND_WRITTEN_EVAL = tuple(s for s in EVAL_SETS if s.startswith("handwritten"))
HAND_WRITTEN_TRAIN = tuple(f.removesuffix(".jsonl") for f in TUNE_FILES if f.startswith("handwritten"))


@pytest.mark.parametrize("name", HAND_WRITTEN_EVAL + HAND_WRITTEN_TRAIN)
def test_every_hand_written_reference_passes_the_gate_the_worker_applies(name):
    for item in _items(name):
        source, ref = item["input"]["text"], item["reference"]
        assert check_claims(ref["summary"], [source]).ok, item["id"]
        assert all(check_claims(f, [source], check_degenerate=False).ok for f in ref["key_figures"]), item[
            "id"
        ]
        assert {"en", "zh"} >= {item["metadata"]["lang"]} and item["metadata"]["kind"] == "handwritten"


def test_splits_are_disjoint_report_families(built):
    families = {split: {i["metadata"]["family"] for i in items} for split, items in built.items()}
    assert families["train"] & (families["validation"] | families["test"]) == set()
    assert families["validation"] & families["test"] == set()
    assert all(len(built[s]) >= 18 for s in SPLITS)
    assert {i["metadata"]["lang"] for i in built["test"]} == {"en", "zh"}


def test_no_report_of_an_arena_heldout_item_is_trained_on(built):
    reports = datagen.reports()
    latest = {
        r["product_code"]: max(x["report_date"] for x in reports if x["product_code"] == r["product_code"])
        for r in reports
    }
    trained = {i["metadata"]["report_id"] for i in built["train"]}
    heldout = load_items("report_summary", "heldout")
    named = {
        r["report_id"]
        for item in heldout
        for r in reports
        if r["product_code"] == item.input["product"]
        and r["report_date"].isoformat() == (item.input.get("date") or latest[r["product_code"]].isoformat())
    }
    assert len(named) >= len(heldout) and not named & trained


def test_finetune_corpus_is_the_train_split_and_the_hand_written_training_reports_never_an_eval_one():
    corpus = build_corpus("report_summary")
    assert corpus.sources == {
        "domain": len(_items("train")) + sum(len(_items(n)) for n in HAND_WRITTEN_TRAIN)
    }
    held = [i for s in EVAL_SETS for i in _items(s)]
    assert not {i["id"] for i in held} & {e.id for e in corpus.examples}
    trained_texts = {i["input"]["text"] for n in HAND_WRITTEN_TRAIN for i in _items(n)}
    assert not {i["input"]["text"] for i in held} & trained_texts


def test_names_shorten_to_codes():
    assert (
        summary_corpus.shorten_names("the China Blue Chip Equity Fund (EQ-10) was 2.19") == "EQ-10 was 2.19"
    )
    assert summary_corpus.shorten_names("中国蓝筹股票基金（EQ-10）单位净值") == "EQ-10单位净值"


SOURCE = (
    "Demo Fund (DF-1) quarterly report, Q3 2026\n\nAs of 30 September 2026, the NAV per unit of the Demo Fund "
    "(DF-1) was 1.2345, down 3.39% over the quarter and +2.10% year to date. Net assets were CNY 6.35 billion."
)


def test_judge_summary_separates_faithful_from_sign_flipped():
    faithful = LlmSummary(
        summary="DF-1's NAV per unit was 1.2345 on 30 September 2026, down 3.39% over the quarter.",
        key_figures=["Net assets: 6.35 billion"],
    )
    flipped = LlmSummary(
        summary="DF-1's NAV per unit rose 3.39% over the quarter to 1.2345.",
        key_figures=["Net assets: 7.5 billion"],
    )
    good, bad = judge_summary(faithful, SOURCE), judge_summary(flipped, SOURCE)
    assert good.kept and good.supported == good.claims
    assert not bad.kept and bad.supported < bad.claims


def test_task_score_counts_failures_as_not_kept():
    item = SimpleNamespace(input={"text": SOURCE})
    ok = LlmSummary(
        summary="As of 30 September 2026, DF-1's NAV per unit was 1.2345, down 3.39% over the quarter.",
        key_figures=[],
    )
    scores = finetune_task().score([item, item], [ok, None])
    assert scores == {"kept": 0.5, "claim_faithfulness": 1.0, "failed": 0.5}
