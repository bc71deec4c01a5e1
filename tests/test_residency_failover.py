"""Failover across residency (issue #14, item 1): when a local backend fails, the call goes to an external
backend only if the skill opted in (`routing.<skill>.external_failover = true`); either way it is audited.
The local backend is a scripted FAKE (it fails on purpose); the external one is a real HTTP server on loopback."""

from __future__ import annotations

import pytest

from fincopilot.errors import BackendError
from fincopilot.models.messages import messages
from fincopilot.models.registry import clear_instances
from fincopilot.safety import audit
from tests.capture_server import CaptureServer
from tests.safety_helpers import backend, gateway_for, leaked, make_clients_db, settings_of


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_instances()
    yield
    clear_instances()


def _broken_local() -> dict:
    return backend("local", kind="scripted", residency="local", options={"fail_times": 100})


def test_local_outage_does_not_send_text_off_premises_by_default(isolated_home):
    with CaptureServer() as srv:
        cfg = settings_of(_broken_local(), backend("cloud", base_url=srv.base_url))
        with pytest.raises(BackendError, match=r"cloud: external failover not enabled for 'credit_lookup'"):
            gateway_for(cfg).complete("credit_lookup", messages("Client Zhang Wei"), request_id="req-nofo")
    assert srv.bodies == []
    crossing = [r.payload for r in audit.rows("req-nofo", event="residency_failover")]
    assert crossing == [
        {
            "skill": "credit_lookup",
            "backend": "cloud",
            "allowed": False,
            "reason": "a local backend failed; external_failover is off for this skill",
        }
    ]


def test_opted_in_skill_fails_over_desensitized_and_audited(isolated_home):
    make_clients_db(isolated_home / "fincopilot.duckdb")
    with CaptureServer() as srv:
        cfg = settings_of(
            _broken_local(),
            backend("cloud", base_url=srv.base_url),
            routing={"credit_lookup": {"external_failover": True}},
        )
        out = gateway_for(cfg).complete(
            "credit_lookup", messages("Client Zhang Wei"), request_id="req-fo-ext"
        )
    assert out.backend_id == "cloud" and out.text == "ECHO: Client Zhang Wei"
    assert leaked(["Zhang Wei"], srv.bodies) == []
    events = [r.event for r in audit.rows("req-fo-ext")]
    assert events.index("residency_failover") < len(events) - 1 and events.count("route") == 2
    assert audit.rows("req-fo-ext", event="residency_failover")[0].payload["allowed"] is True


def test_external_first_choice_is_not_a_failover(isolated_home):
    with CaptureServer() as srv:
        cfg = settings_of(backend("cloud", base_url=srv.base_url), _broken_local())
        assert (
            gateway_for(cfg).complete("planner", messages("hi"), request_id="req-ext1").backend_id == "cloud"
        )
    assert audit.rows("req-ext1", event="residency_failover") == []
