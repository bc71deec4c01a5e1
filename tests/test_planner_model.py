"""The planner with the REAL embedded SmolLM2-135M model: every one of ≥ 30 varied requests (English and
Chinese) ends with a valid plan that covers what was asked (after repair / fallback), or a direct answer for
requests that need no skill. The first round is one batched generation to keep CPU time down."""

from __future__ import annotations


import pytest

from fincopilot.agents.planner import plan_batch, validate_plan

from planner_requests import REQUESTS  # noqa: E402


@pytest.mark.model
def test_plan_validity_over_varied_requests_with_the_embedded_model(smollm2):
    assert len(REQUESTS) >= 30
    assert sum(1 for r, _ in REQUESTS if any("\u4e00" <= ch <= "\u9fff" for ch in r)) >= 10
    outcomes = plan_batch([r for r, _ in REQUESTS], backend=smollm2, max_repairs=0)
    assert all(o.rounds == 1 for o in outcomes)  # the model really answered every request
    sources = {}
    for (request, wanted), out in zip(REQUESTS, outcomes):
        sources[out.source] = sources.get(out.source, 0) + 1
        if wanted:
            assert out.plan.steps, (request, out)
            assert validate_plan(out.plan) == [], (request, out.plan)
            assert {s.skill for s in out.plan.steps} >= wanted, (request, out.plan)
        else:
            assert out.source == "direct" and not out.plan.steps, (request, out)
        if out.source in ("planner", "repaired"):
            assert out.backend == "smollm2-135m"
    print(f"\nplanner sources over {len(REQUESTS)} requests: {sources}")
