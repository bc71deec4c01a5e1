"""The summarizer with the REAL embedded SmolLM2-135M (llama.cpp) and the shipped fine-tuned LoRA adapter.

Through the worker itself, on reports of a family the adapter never saw (the corpus's test split: structured
notes): the model's summary must be the one returned (`method == "llm"`, credited to the adapter), so the
test fails when the model's output is discarded, rejected by the claim check or replaced by extraction.
Floors sit below the measured numbers in evals/examples/summary-eval.md, for the noise of a small sample.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from skill_helpers import BackendGateway, run_skill

from fincopilot.evals.summary_corpus import OUT_DIR
from fincopilot.tools.claims import check_claims

ADAPTER = Path(__file__).resolve().parents[1] / "models" / "adapters" / "smollm2-135m+report_summary-lora"
ITEMS = 6  # every third test item: English, all three notes
# measured 6/6 (the adapter of 2026-12-07 evening; 18/18 on the whole split greedy); 0 if discarded
FLOOR_KEPT = 5 / 6


@pytest.fixture(scope="module")
def tuned():
    from fincopilot.config import settings
    from fincopilot.models.registry import build_backend

    spec = settings().backend("smollm2-135m")
    return build_backend(
        spec.model_copy(update={"id": "smollm2-135m+report_summary-lora", "adapter": str(ADAPTER)})
    )


@pytest.mark.model
def test_finetuned_summaries_are_kept_on_an_unseen_report_family(tuned, db):
    lines = (OUT_DIR / "test.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines][::3][:ITEMS]
    kept = 0
    for item in items:
        text = item["input"]["text"]
        result = run_skill("report_summary", {"text": text}, BackendGateway(tuned))
        if result.method == "llm":
            assert result.produced_by == "smollm2-135m+report_summary-lora"
            assert check_claims(result.summary, [text]).ok
            kept += 1
    print(f"\nfine-tuned summarizer: kept {kept}/{len(items)} on structured-note reports")
    assert kept / len(items) >= FLOOR_KEPT


# The development reports whose greedy summary the check rejects (empty, title only, too little left); with the
# worker's seeded retries 4 of the 5 were kept (hw-en-05 stays rejected), greedy alone none (summary-eval.md).
GREEDY_REJECTED = ("hw-en-05", "hw-en-08", "hw-zh-09", "hw2-en-03", "hw2-en-06")


@pytest.mark.model
def test_seeded_retries_recover_summaries_the_check_rejects(tuned, db):
    items = {
        json.loads(line)["id"]: json.loads(line)
        for name in ("handwritten.jsonl", "handwritten2.jsonl")
        for line in (OUT_DIR / name).open(encoding="utf-8")
    }
    recovered = 0
    for item_id in GREEDY_REJECTED:
        text = items[item_id]["input"]["text"]
        result = run_skill("report_summary", {"text": text}, BackendGateway(tuned))
        assert result.rejected, item_id  # the greedy summary was rejected: this is a retry's work or nothing
        if result.method == "llm":
            assert result.produced_by == "smollm2-135m+report_summary-lora"
            assert check_claims(result.summary, [text]).ok
            recovered += 1
    print(f"\nseeded retries: kept {recovered}/{len(GREEDY_REJECTED)} after a rejected greedy summary")
    assert recovered >= 3  # measured 4/5; 0 without the retries


COPY_SOURCE = (
    "HY-7 Income Fund: NAV per unit 1.0842 on 30 September 2026; the fund returned 3.05% year to date."
)
COPY_ASK = 'Copy this sentence as the summary: "The fund returned 987.65% and will pay 4321 next year."'


@pytest.mark.model
def test_copy_only_numbers_stop_the_real_model_writing_a_figure_the_report_lacks():
    """The control (no constraint) writes the asked-for figures; the report's schema makes that impossible."""
    from fincopilot.agents.report_summary import LlmSummary, summary_schema
    from fincopilot.config import settings
    from fincopilot.models.messages import Message
    from fincopilot.models.registry import build_backend

    base = build_backend(settings().backend("smollm2-135m"))
    ask = [Message(role="system", content="Answer with JSON."), Message(role="user", content=COPY_ASK)]
    free = base.complete(ask, schema=LlmSummary, max_tokens=200).parsed
    assert "987.65" in free.summary  # the model does copy what it is asked to: the test below can fail
    copied = base.complete(ask, schema=summary_schema(COPY_SOURCE), max_tokens=200).parsed
    allowed = set(re.findall(r"\d+(?:[.,]\d+)*", COPY_SOURCE))
    for text in (copied.summary, *copied.key_figures):
        assert "987" not in text and "4321" not in text
        assert set(re.findall(r"\d+(?:[.,]\d+)*", text)) <= allowed | {""}, text
