"""`fincopilot demo`, `ask` and `review` in-process, with the model gateway swapped for a scripted FAKE one
(the real-model run of `ask` is in tests/test_graph_model.py). Database, workers, graph, checkpoints are real."""

from __future__ import annotations

import sys

import pytest
from graph_fakes import fake_gateway  # noqa: E402
from test_graph import guaranteed_reply  # noqa: E402
from typer.testing import CliRunner


@pytest.fixture
def fake_default(monkeypatch):
    from fincopilot.models import gateway as gw_module

    def use(reply=None):
        gw, _ = fake_gateway(reply) if reply else fake_gateway()
        monkeypatch.setattr(gw_module, "_default", gw)
        return gw

    return use


def invoke(*args):
    from fincopilot.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_demo_on_a_fresh_home_initializes_the_database_and_answers(isolated_home, fake_default):
    fake_default()
    from fincopilot.paths import db_path

    assert not db_path().exists()
    res = invoke("demo")
    assert res.exit_code == 0, res.output
    out = res.output
    assert db_path().exists() and "running `fincopilot data init`" in out
    assert "Client C-1042 wants the HY-7 bond fund" in out
    for needle in (
        '"skill": "credit_lookup"',
        '"skill": "report_summary"',
        "Answer (",
        "Citations",
        "[1] step 1 credit_lookup",
        "Trace",
        "backend=",
        "latency=",
        "Compliance",
        "status: answered",
    ):
        assert needle in out, needle


def test_held_answer_is_explained_and_approved_from_the_cli(isolated_home, fake_default):
    fake_default(guaranteed_reply)
    from fincopilot.tools.data import init_db

    init_db()
    res = invoke(
        "ask",
        "Client C-1042 wants the HY-7 bond fund: check credit, summarize the latest HY-7 report, "
        "make my recommendation compliant",
        "--thread",
        "cli-held",
    )
    assert res.exit_code == 0, res.output
    assert "Held for human review" in res.output and "guaranteed_return" in res.output
    assert "fincopilot review cli-held --approve" in res.output
    shown = invoke("review", "cli-held", "--show")
    assert '"status": "held"' in shown.output
    res = invoke("review", "cli-held", "--approve", "--reviewer", "officer-wang")
    assert res.exit_code == 0 and "status: answered" in res.output


def test_review_needs_exactly_one_decision(isolated_home, capsys):
    from fincopilot.cli import main

    sys_argv = sys.argv
    sys.argv = ["fincopilot", "review", "t", "--approve", "--reject"]
    try:
        with pytest.raises(SystemExit) as exc:
            main()
    finally:
        sys.argv = sys_argv
    assert exc.value.code == 2
    assert "choose exactly one of --approve, --reject, --edit TEXT" in capsys.readouterr().err
