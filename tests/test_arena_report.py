"""`fincopilot arena run | report | promote` through the real CLI; the HTML and PNG reports render."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fincopilot.cli import app
from fincopilot.evals.report import pareto_front
from tests.arena_helpers import use, write_config


@pytest.fixture
def fakes(tmp_path):
    use(write_config(tmp_path))
    yield
    use(None)


def test_pareto_front():
    # (cost, score): b dominates c; a and b are on the front
    assert pareto_front([(0.0, 0.5), (1.0, 0.9), (2.0, 0.8)]) == [0, 1]


def test_cli_run_report_promote(fakes, tmp_path, isolated_home):
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "arena",
            "run",
            "--skill",
            "compliance_check",
            "--backends",
            "fake-quiet,fake-noisy",
            "--split",
            "all",
            "--limit",
            "10",
            "--seed",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "baseline:rules" in r.output and "fake-noisy" in r.output  # the baseline joins by default
    r = runner.invoke(
        app, ["arena", "run", "--skill", "planner", "--backends", "baseline:keyword", "--limit", "5"]
    )
    assert r.exit_code == 0, r.output
    html, png, md = tmp_path / "r.html", tmp_path / "r.png", tmp_path / "r.md"
    r = runner.invoke(app, ["arena", "report", "--html", str(html), "--png", str(png), "--markdown", str(md)])
    assert r.exit_code == 0, r.output
    page = html.read_text(encoding="utf-8")
    assert "chart-compliance_check" in page and "chart-planner" in page
    assert "Pareto frontier" in page and "score vs p95 latency" in page
    # every cost of the local fakes but one is 0 here; the noisy fake costs, so the axis is cost
    assert "score vs cost per item" in page and "quality vs % calls to" in page and "oracle router" in page
    assert "Paired comparisons" in page and "Routing</b>" in page and "fallback rate" in page
    assert '<script src="http' not in page and "Plotly.newPlot" in page  # plotly.js inlined: works offline
    assert len(page) > 1_000_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "| fake-quiet |" in md.read_text(encoding="utf-8")
    r = runner.invoke(app, ["arena", "promote"])
    assert r.exit_code == 0, r.output
    table = json.loads((isolated_home / "routing.json").read_text(encoding="utf-8"))
    # baselines are routable now (intended change): fake-quiet only ties the incumbent rules, so the rules stay
    assert table["skills"]["compliance_check"]["chain"][:2] == ["baseline:rules", "fake-quiet"]
    assert table["skills"]["planner"]["chain"] == ["baseline:keyword"]
    assert "incumbent baseline:rules" in r.output and "kept" in r.output


def test_cli_errors_are_one_line(fakes):
    runner = CliRunner()
    r = runner.invoke(app, ["arena", "report"])
    assert r.exit_code != 0 and "no arena results yet" in str(r.exception or r.output)
    r = runner.invoke(app, ["arena", "run", "--skill", "planner", "--backends", "x", "--split", "test"])
    assert r.exit_code != 0 and "unknown split" in str(r.exception or r.output)


def _summary(name, score, cost=0.0, p95=1.0, tokens=0.0):
    from fincopilot.evals.arena import CandidateSummary

    return CandidateSummary(
        candidate=name,
        items=4,
        score=score,
        metrics={},
        errors=0,
        p50_latency_s=p95,
        p95_latency_s=p95,
        mean_tokens=tokens,
        cost_per_item=cost,
        cost_per_1k_tokens=0.0,
        residency="local",
    )


def test_cost_axis_shows_tokens_when_every_cost_is_zero():
    from fincopilot.evals.report import cost_axis

    free = [_summary("baseline:x", 0.8, p95=0.01), _summary("model", 0.6, p95=9.0, tokens=600)]
    assert cost_axis(free) == ("tokens per item (every cost is 0)", [0.0, 600])
    paid = [_summary("baseline:x", 0.8), _summary("cloud", 0.9, cost=0.002)]
    assert cost_axis(paid) == ("cost per item", [0.0, 0.002])


def test_cost_quality_curve_random_oracle_and_chosen_point():
    from fincopilot.evals.report import cost_quality_curve

    board = [_summary("baseline:x", 0.5, p95=0.01), _summary("model", 0.5, p95=9.0, tokens=600)]
    # SCRIPTED per-item scores: the model gains on items 1-2 and loses on 3-4 (equal means)
    scores = {
        "1": {"baseline:x": 0.0, "model": 1.0},
        "2": {"baseline:x": 0.0, "model": 1.0},
        "3": {"baseline:x": 1.0, "model": 0.0},
        "4": {"baseline:x": 1.0, "model": 0.0},
    }
    curve = cost_quality_curve(board, scores, chosen="baseline:x")
    assert (curve.cheap, curve.costly, curve.cost_basis) == ("baseline:x", "model", "p95 latency")
    assert curve.shares == [0, 0.25, 0.5, 0.75, 1.0] and curve.random == [0.5] * 5
    assert curve.oracle == [0.5, 0.75, 1.0, 0.75, 0.5]  # a perfect router sends only items 1-2 to the model
    assert (curve.chosen_share, curve.chosen_quality) == (0.0, 0.5)
    assert cost_quality_curve(board[:1], scores, chosen=None) is None
