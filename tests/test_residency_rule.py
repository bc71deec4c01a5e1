"""`residency_verdict`: the one residency rule the router and the gateway both ask."""

from __future__ import annotations

from fincopilot.models.router import residency_verdict
from tests.safety_helpers import backend, settings_of

CFG = settings_of(
    backend("local", kind="scripted", residency="local"),
    backend("cloud", residency="external"),
    routing={"credit_lookup": {"residency": ["local"]}, "report_summary": {"external_failover": True}},
)
LOCAL, CLOUD = CFG.backend("local"), CFG.backend("cloud")


def test_a_residency_outside_the_policy_is_refused_always():
    refusal, crossing = residency_verdict(CLOUD, "credit_lookup", CFG)
    assert "residency 'external' not allowed for 'credit_lookup'" in refusal and not crossing
    assert residency_verdict(LOCAL, "credit_lookup", CFG, local_failed=True).refusal is None


def test_external_after_a_local_failure_needs_the_opt_in():
    assert residency_verdict(CLOUD, "knowledge_qa", CFG) == (
        None,
        False,
    )  # first choice or overflow: no opt-in
    refused = residency_verdict(CLOUD, "knowledge_qa", CFG, local_failed=True)
    assert refused.crossing and "external failover not enabled for 'knowledge_qa'" in refused.refusal
    assert residency_verdict(CLOUD, "report_summary", CFG, local_failed=True) == (None, True)
