"""End to end through the REAL embedded model: `fincopilot ask` plans, runs the step, synthesizes a cited,
number-checked answer and passes it through the compliance gate, all on SmolLM2-135M via the default gateway."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.mark.model
def test_ask_end_to_end_with_the_embedded_model(isolated_home, smollm2):
    from fincopilot.cli import app
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.tools.data import init_db

    init_db()
    res = CliRunner().invoke(
        app, ["ask", "What is the credit score of C-1042?", "--thread", "e2e"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    out = res.output
    assert '"skill": "credit_lookup"' in out and "Answer (" in out and "[1] step 1 credit_lookup" in out
    assert "backend=smollm2-135m" in out  # the worker's model call went to the embedded model
    assert "numbers checked:" in out and "unsupported: none" in out
    assert "status: answered" in out or "Held for human review" in out
    view = CopilotRunner().thread("e2e")
    assert view.turns[0]["content"] == "What is the credit score of C-1042?"
    from fincopilot.safety import audit

    audit.flush()
    events = [r.event for r in audit.rows()]
    assert {"request", "plan", "route", "step_finish", "compliance"} <= set(events)
    routes = [r for r in audit.rows(event="route")]
    assert {r.payload.get("skill") for r in routes} >= {"planner", "credit_lookup"}
