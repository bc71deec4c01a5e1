"""The router: constraints from the skill policy, config pin, promoted table reloaded without restart,
failover through the gateway when a backend errors. Backends are scripted FAKES (named as such)."""

from __future__ import annotations

import os
import time

import pytest

from fincopilot.config import settings
from fincopilot.models.messages import Message
from fincopilot.models.router import (
    CandidateStats,
    Router,
    new_table,
    route_for_skill,
    routing_path,
    write_routing_table,
)
from tests.arena_helpers import scripted_calls, use, write_config

EXTRA = """
[[backends]]
id = "fake-cloud"
kind = "scripted"
model = "scripted"
residency = "external"
cost_per_1k_tokens = 2.0
options = { replies = ["cloud says hi"] }
"""
ROUTING = """
[routing.report_summary]
min_score = 0.5
max_p95_latency_s = 10
max_cost_per_1k_tokens = 1.0

[routing.compliance_check]
residency = ["local"]

[routing.credit_lookup]
pin = "fake-quiet"
"""


@pytest.fixture
def cfg(tmp_path):
    use(write_config(tmp_path, extra=EXTRA, routing=ROUTING))
    yield settings()
    use(None)


def stats(**kw):
    return [CandidateStats(backend=b, score=s, p95_latency_s=lat) for b, (s, lat) in kw.items()]


def test_route_for_skill_applies_every_constraint(cfg):
    route = route_for_skill(
        "report_summary",
        [
            CandidateStats(backend="fake-quiet", score=0.7, p95_latency_s=2.0),
            CandidateStats(backend="fake-noisy", score=0.9, p95_latency_s=3.0),  # fine: cost 0.5 <= 1.0
            CandidateStats(backend="fake-cloud", score=0.95, p95_latency_s=1.0),  # too expensive
            CandidateStats(backend="smollm2-135m", score=0.8, p95_latency_s=30.0),  # too slow
            CandidateStats(backend="fake-down", score=0.2, p95_latency_s=1.0),  # below min_score
            CandidateStats(backend="baseline:extractive", score=0.99, p95_latency_s=0.1),
            CandidateStats(backend="gone", score=1.0, p95_latency_s=0.1),
        ],
        cfg,
        run_id="r1",
    )
    # baselines are routable; with the default backend excluded (too slow) the baseline is the incumbent, and
    # without paired evidence no challenger replaces it
    assert route.chain == ["baseline:extractive", "fake-noisy", "fake-quiet"]
    assert "cost 2.0/1k tokens > max 1.0" in route.excluded["fake-cloud"]
    assert "p95 latency 30.00s > max 10" in route.excluded["smollm2-135m"]
    assert "min_score 0.5" in route.excluded["fake-down"]
    assert "baseline:extractive" not in route.excluded
    assert route.excluded["gone"] == "not a configured backend"
    assert route.reason.startswith("incumbent baseline:extractive (classical baseline) kept")
    residency = route_for_skill("compliance_check", [CandidateStats(backend="fake-cloud", score=1.0)], cfg)
    assert residency.chain == [] and "residency 'external'" in residency.excluded["fake-cloud"]


def test_pin_wins_and_default_applies_without_results(cfg):
    router = Router()
    write_routing_table(
        new_table(
            {
                "credit_lookup": route_for_skill(
                    "credit_lookup", [CandidateStats(backend="fake-noisy", score=1.0)], cfg
                )
            }
        )
    )
    d = router.route("credit_lookup")
    assert d.chain == ["fake-quiet"] and d.source == "pin"
    d = router.route("planner")
    assert d.source == "default" and d.chain[0] == "smollm2-135m" and "no arena results" in d.reason


def test_preferred_backend_leads_and_a_skill_specific_backend_serves_only_its_skill(tmp_path):
    extra = (
        EXTRA
        + """
[[backends]]
id = "tuned-planner"
kind = "scripted"
model = "scripted"
skills = ["planner"]
"""
    )
    use(write_config(tmp_path, extra=extra, routing='[routing.planner]\nprefer = ["tuned-planner"]\n'))
    try:
        d = Router().route("planner")
        assert d.chain[:2] == ["tuned-planner", "smollm2-135m"] and "preferred by config" in d.reason
        assert "tuned-planner" not in Router().route("report_summary").chain  # it serves only the planner
    finally:
        use(None)


def test_promoted_table_reloads_without_restart(cfg):
    router = Router()
    assert router.route("report_summary").source == "default"
    write_routing_table(
        new_table(
            {
                "report_summary": route_for_skill(
                    "report_summary",
                    [
                        CandidateStats(backend="fake-quiet", score=0.6, p95_latency_s=1),
                        CandidateStats(backend="fake-noisy", score=0.9, p95_latency_s=1),
                    ],
                    cfg,
                    run_id="r1",
                )
            }
        )
    )
    d = router.route("report_summary")
    assert d.chain == ["fake-noisy", "fake-quiet"] and d.source == "table" and "arena run r1" in d.reason
    time.sleep(0.01)
    write_routing_table(
        new_table(
            {
                "report_summary": route_for_skill(
                    "report_summary",
                    [
                        CandidateStats(backend="fake-quiet", score=0.95, p95_latency_s=1),
                        CandidateStats(backend="fake-noisy", score=0.9, p95_latency_s=1),
                    ],
                    cfg,
                    run_id="r2",
                )
            }
        )
    )
    st = routing_path().stat()
    os.utime(routing_path(), ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse file systems
    d = router.route("report_summary")  # same router object: no restart
    assert d.chain == ["fake-quiet", "fake-noisy"] and "arena run r2" in d.reason


def test_broken_table_falls_back_to_default_with_reason(cfg):
    routing_path().write_text("{not json", encoding="utf-8")
    d = Router().route("planner")
    assert d.source == "default" and "unreadable" in d.reason


def test_gateway_fails_over_along_the_promoted_chain(cfg):
    from fincopilot.models.gateway import Gateway
    from fincopilot.safety.resilience import HealthRegistry

    write_routing_table(
        new_table(
            {
                "planner": route_for_skill(
                    "planner",
                    [
                        CandidateStats(backend="fake-down", score=0.9),
                        CandidateStats(backend="fake-quiet", score=0.8),
                    ],
                    cfg,
                    run_id="r1",
                )
            }
        )
    )
    gw = Gateway(router=Router(), health=HealthRegistry(), sleep=lambda s: None)
    out = gw.complete("planner", [Message(role="user", content="hi")])
    assert out.backend_id == "fake-quiet"


def test_promote_from_arena_results_then_running_router_follows(cfg):
    from fincopilot.evals.arena import promote, run_arena

    router = Router()  # created before any results exist
    assert router.route("compliance_check").source == "default"
    run_arena(
        "compliance_check",
        ["fake-noisy", "fake-quiet", "fake-cloud", "baseline:rules"],
        split="all",
        progress=False,
        bootstrap_rounds=10,
    )
    table, path = promote()
    assert path == routing_path()
    route = table.skills["compliance_check"]
    # the default backend was not measured, so the rules baseline is the incumbent: fake-quiet only ties it
    # (no paired evidence of a gain) and keeps its place in the failover chain (intended change: baselines route)
    assert route.chain[:3] == ["baseline:rules", "fake-quiet", "fake-noisy"]
    assert route.incumbent == "baseline:rules" and "kept" in route.reason
    assert any(line.startswith("fake-quiet − baseline:rules") for line in route.evidence)
    assert "residency" in route.excluded["fake-cloud"]
    d = router.route("compliance_check")
    assert d.chain[0] == "baseline:rules" and d.source == "table"
    assert "fake-cloud" in d.excluded


def test_evidence_decides_a_challenger_replaces_the_incumbent_only_when_significant(cfg):
    from fincopilot.models.router import PairEvidence

    measured = stats(**{"smollm2-135m": (0.60, 1.0), "fake-quiet": (0.70, 1.0), "fake-noisy": (0.75, 1.0)})
    weak = [
        PairEvidence(
            a="fake-quiet",
            b="smollm2-135m",
            items=40,
            mean=0.10,
            ci_low=0.02,
            ci_high=0.18,
            better="fake-quiet",
        ),
        PairEvidence(a="smollm2-135m", b="fake-noisy", items=40, mean=-0.15, ci_low=-0.31, ci_high=0.01),
    ]
    route = route_for_skill("planner", measured, cfg, pairs=weak)
    # the default backend is the incumbent; fake-noisy has the higher mean but its interval contains 0
    assert route.chain[0] == "fake-quiet" and route.incumbent == "smollm2-135m"
    assert (
        route.reason.startswith("fake-quiet replaces incumbent smollm2-135m") and "> 0 at 95%" in route.reason
    )
    assert "fake-noisy − smollm2-135m: +0.150 [-0.010, +0.310] (not above 0 at 95%)" in route.evidence
    kept = route_for_skill("planner", measured, cfg, pairs=weak[1:])
    assert kept.chain[0] == "smollm2-135m" and "kept" in kept.reason
    # a current route other than the default is the incumbent when it is measured
    held = route_for_skill("planner", measured, cfg, pairs=weak[1:], incumbent="fake-noisy")
    assert held.chain[0] == "fake-noisy" and held.reason.startswith(
        "incumbent fake-noisy (current route) kept"
    )


def test_a_call_routed_to_a_baseline_is_answered_by_the_worker_rules_and_credited(cfg):
    from fincopilot.agents.skills import SkillContext, get_skill
    from fincopilot.models.gateway import Gateway
    from fincopilot.safety.resilience import HealthRegistry

    write_routing_table(
        new_table(
            {
                "report_summary": route_for_skill(
                    "report_summary",
                    stats(**{"baseline:extractive": (0.9, 0.01), "fake-quiet": (0.6, 1.0)}),
                    cfg,
                )
            }
        )
    )
    gw = Gateway(router=Router(), health=HealthRegistry(), sleep=lambda s: None)
    sk = get_skill("report_summary")
    out = sk.run(
        {"product": "HY-7"}, SkillContext(skill="report_summary", allowed_tools=sk.tools, gateway=gw)
    )
    assert out.produced_by == "extractive" and out.method == "extractive"
    assert scripted_calls("fake-quiet") == 0  # the baseline answered: no model was called
    from fincopilot.safety import audit

    audit.flush()
    route = audit.rows(event="route")[-1].payload
    assert route["backend"] == "baseline:extractive" and "classical baseline" in route["router_reason"]
