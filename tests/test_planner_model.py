"""The planner with the REAL embedded SmolLM2-135M (llama.cpp), base and fine-tuned (the shipped LoRA adapter).

Floors come from the measured numbers in evals/examples/planner-eval.md (set well below them, for the noise
of a small sample), and every test fails when the model's output is discarded: the model rows count only
plans whose source is the model's own first output (no rules, no repair).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from planner_requests import REQUESTS

from fincopilot.agents.planner import plan_batch, validate_plan
from fincopilot.evals.planner_eval import gold_plan, load_set, score_plan

ADAPTER = Path(__file__).resolve().parents[1] / "models" / "adapters" / "smollm2-135m+planner-lora"
TEST_ITEMS = 40  # the first 40 test items: every (kind, language) group of the split once
FLOOR_SKILL_SET = 0.8  # measured 40/40 (200/200 on the whole split, evals/examples/planner-eval.md); 0 when output is discarded
FLOOR_VALID = 0.85  # measured 40/40 (200/200 on the whole split)
FLOOR_QUOTED = 0.6  # exact arguments, measured 13/16 (adapters before: 14/16, 0/16)
FLOOR_DRAFTS = 0.75  # exact arguments, measured 13/16 (adapters before: 14/16; 4/8 before draft frames)
FLOOR_DRAFTS_NAMED = 0.75  # exact arguments, measured 14/16 (the adapter before: 11/16, EN 3/8)
FLOOR_DRAFTS3 = 0.75  # exact arguments, measured 32/32 on this set written blind (16 of them tested)


@pytest.fixture(scope="module")
def tuned():
    from fincopilot.config import settings
    from fincopilot.models.registry import build_backend

    spec = settings().backend("smollm2-135m")
    return build_backend(spec.model_copy(update={"id": "smollm2-135m+planner-lora", "adapter": str(ADAPTER)}))


def alone(backend, items: list[dict]) -> list[tuple[dict, object]]:
    """Each item with the plan the model wrote on its first attempt (None when it was not valid)."""
    outs = plan_batch(
        [i["input"]["request"] for i in items],
        backend=backend,
        max_repairs=0,
        use_rules=False,
        contexts=[i["input"]["context"] for i in items],
    )
    for out in outs:
        assert out.rounds == 1 and out.backend == backend.id
    return [
        (item, out.plan if out.ok and out.source == "model" and out.valid_before_repair else None)
        for item, out in zip(items, outs, strict=True)
    ]


@pytest.mark.model
def test_finetuned_planner_alone_on_the_template_disjoint_test_split(tuned, db):
    planned = alone(tuned, load_set("test")[:TEST_ITEMS])
    exact = sum(score_plan(plan, gold_plan(item))["skill_set"] for item, plan in planned)
    valid = sum(plan is not None for _, plan in planned)
    print(
        f"\nfine-tuned planner alone: exact skill set {exact}/{len(planned)}, first-attempt valid {valid}/{len(planned)}"
    )
    assert exact / len(planned) >= FLOOR_SKILL_SET
    assert valid / len(planned) >= FLOOR_VALID


@pytest.mark.model
@pytest.mark.parametrize(
    ("set_name", "floor", "per_language"),
    [
        ("drafts", FLOOR_DRAFTS, 8),  # quoted drafts for a named client and product: a compliance check
        ("drafts_named", FLOOR_DRAFTS_NAMED, 8),  # one-sentence drafts that name the product inside the quote
        ("drafts3", FLOOR_DRAFTS3, 8),  # written blind; the first 8 a language: 4 inside the quote, 4 outside
        ("quoted", FLOOR_QUOTED, 8),  # quoted phrases and product names in quotes: no draft to check
    ],
)
def test_finetuned_planner_on_quoted_text_written_by_hand(tuned, db, set_name, floor, per_language):
    items = load_set(set_name)
    items = [
        i for lang in ("en", "zh") for i in [i for i in items if i["metadata"]["lang"] == lang][:per_language]
    ]
    planned = alone(tuned, items)
    exact = sum(score_plan(plan, gold_plan(item))["arguments"] for item, plan in planned)
    print(f"\nfine-tuned planner alone on {set_name}: exact arguments {exact}/{len(planned)}")
    assert exact / len(planned) >= floor


@pytest.mark.model
def test_base_model_pipeline_always_ends_in_a_valid_plan(smollm2):
    outcomes = plan_batch([r for r, _ in REQUESTS], backend=smollm2, max_repairs=0)
    assert all(o.rounds == 1 for o in outcomes)  # the model really answered every request
    for (request, _), out in zip(REQUESTS, outcomes):
        assert not out.plan.steps or validate_plan(out.plan) == [], (request, out.plan)
        if out.source == "model":
            assert out.backend == "smollm2-135m"
    assert sum(o.source == "model" for o in outcomes) >= 3  # some plans are the model's own
