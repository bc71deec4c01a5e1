"""A skill in a separately installed package (its own pyproject with a `fincopilot.skills` entry point, built in a
temporary folder outside the repository and pip-installed into this environment) is planned by the rules
planner, run in parallel with a built-in skill in the advisor graph, rendered with its citation, and compared
in `fincopilot arena run --skill NAME`: with no edit to the framework. Model calls go to scripted FAKE backends
(tests/graph_fakes.py); the planner rules, executor, synthesizer, arena and DuckDB are real."""

from __future__ import annotations

import json

import pytest
from graph_fakes import fake_gateway
from plugin_helpers import installed_package
from skill_helpers import prepare_home
from typer.testing import CliRunner

NAME = "fx_rate_plugin"

PLUGIN = '''
"""A third-party FinCopilot skill: spot FX rates (a test fixture package)."""
import re
import time
from pathlib import Path

from pydantic import BaseModel

from fincopilot.agents.skills import Evaluation, Rendered, SkillContext, SourceRef, skill

RATES = {"USD/CNY": 7.12, "EUR/CNY": 7.71, "GBP/CNY": 9.02}
PAIR = re.compile(r"\\b([A-Z]{3})/([A-Z]{3})\\b")


class FxArgs(BaseModel):
    pair: str


class FxQuote(BaseModel):
    pair: str
    rate: float
    sources: list[str]


def render(out):
    return Rendered(text=f"{out['pair']} trades at {out['rate']}.",
                    sources=[SourceRef(label="FX desk fixing 10:00", url="https://fx.example/fixing")])


def metric(reference, output, source):
    ok = float(abs(float(output.get("rate", 0)) - reference["rate"]) < 1e-9)
    return {"score": ok, "rate_exact": ok}


def stale(item_input):
    return {"pair": item_input["pair"], "rate": 7.0, "sources": ["fx:yesterday"]}


@skill(name="fx_rate_plugin", args=FxArgs, output=FxQuote, description="Spot FX rate for a pair like USD/CNY.",
       examples=[("What is the USD/CNY exchange rate?", {"pair": "USD/CNY"})],
       intent=r"exchange rate|\\bfx\\b|汇率",
       plan_args=lambda e: [{"pair": "/".join(m)} for m in PAIR.findall(e.request)],
       needs="currency pair (like USD/CNY)", render=render,
       evaluation=Evaluation(eval_set=Path(__file__).with_name("fx_eval.jsonl"), metric=metric,
                             baselines={"baseline:stale": stale,
                                        "baseline:desk": lambda i: fx_rate_plugin.run(
                                            i, SkillContext(skill="fx_rate_plugin")).model_dump()},
                             headline=("rate_exact",)))
def fx_rate_plugin(args: FxArgs, ctx: SkillContext) -> FxQuote:
    time.sleep(0.5)  # long enough that a parallel step visibly overlaps
    return FxQuote(pair=args.pair, rate=RATES[args.pair.upper()], sources=["fx:desk-fixing"])
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "fincopilot-fx-plugin-test"
version = "0.0.1"

[project.entry-points."fincopilot.skills"]
fx_rate_plugin = "fincopilot_fx_plugin_test:fx_rate_plugin"

[tool.setuptools]
packages = ["fincopilot_fx_plugin_test"]

[tool.setuptools.package-data]
fincopilot_fx_plugin_test = ["*.jsonl"]
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """Build and install the plugin package (outside the repository tree); uninstall it afterwards."""
    from fincopilot.agents.skills import load_installed_skills, unregister

    items = [
        {"id": f"fx-{i}", "input": {"pair": p}, "reference": {"rate": r}, "split": "heldout"}
        for i, (p, r) in enumerate([("USD/CNY", 7.12), ("EUR/CNY", 7.71), ("GBP/CNY", 9.02)])
    ]
    files = {"__init__.py": PLUGIN, "fx_eval.jsonl": "\n".join(json.dumps(i) for i in items) + "\n"}
    src = tmp_path_factory.mktemp("fx-plugin")
    with installed_package(src, "fincopilot-fx-plugin-test", "fincopilot_fx_plugin_test", PYPROJECT, files):
        try:
            assert NAME in load_installed_skills(reload=True)
            yield NAME
        finally:
            unregister(NAME)


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    return prepare_home(tmp_path_factory.mktemp("plugin-home"))


@pytest.fixture
def home(shared_home, isolated_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(shared_home))
    return shared_home


def test_the_installed_skill_is_planned_by_the_rules(plugin):
    from fincopilot.agents.planner import fallback_plan, planner_messages, validate_plan

    plan, note = fallback_plan("What is the USD/CNY exchange rate, and check the credit of C-1042")
    assert validate_plan(plan) == [], note
    assert {(s.skill, json.dumps(s.args)) for s in plan.steps} == {
        (NAME, '{"pair": "USD/CNY"}'),
        ("credit_lookup", '{"client": "C-1042"}'),
    }
    plan, _ = fallback_plan("What is the exchange rate?")  # the skill says what it needs
    assert not plan.steps and "currency pair" in plan.direct_answer
    prompt = "\n".join(m.content for m in planner_messages("x"))
    assert f"{NAME}(pair)" in prompt and "What is the USD/CNY exchange rate?" in prompt


def test_the_installed_skill_runs_in_parallel_and_renders_with_its_citation(plugin, home, tmp_path):
    from fincopilot.graphs.runner import CopilotRunner

    gw, _ = fake_gateway()
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = list(
        runner.run("What is the EUR/CNY exchange rate, and check the credit of C-1042", thread_id="fx")
    )
    starts = [e.data for e in evs if e.type == "step_start"]
    finishes = {e.data["skill"]: e for e in evs if e.type == "step_finish"}
    assert {s["skill"] for s in starts} == {NAME, "credit_lookup"}
    assert finishes[NAME].data["ok"] and finishes[NAME].data["output"]["rate"] == 7.71
    # parallel: both steps started before the slow plugin step finished
    assert all(
        evs.index(next(e for e in evs if e.type == "step_start" and e.data["skill"] == s))
        < evs.index(finishes[NAME])
        for s in (NAME, "credit_lookup")
    )
    answer = next(e.data for e in evs if e.type == "answer")
    fx_step = next(s["id"] for s in starts if s["skill"] == NAME)
    assert f"EUR/CNY trades at 7.71. [{fx_step}]" in answer["text"] or f"7.71 [{fx_step}]" in answer["text"]
    cite = next(c for c in answer["citations"] if c["step_id"] == fx_step)
    assert cite["sources"] == [
        {
            "label": "FX desk fixing 10:00",
            "url": "https://fx.example/fixing",
            "passage": None,
            "internal": False,
        }
    ]
    assert not answer["flagged"]


def test_the_installed_skill_is_compared_in_the_arena(plugin, home):
    from fincopilot.cli import app

    res = CliRunner().invoke(
        app, ["arena", "run", "--skill", NAME, "--backends", "baseline:desk,baseline:stale", "--split", "all"]
    )
    assert res.exit_code == 0, res.output
    from fincopilot.evals.arena import latest_runs, leaderboard

    run = latest_runs(skill=NAME)[0]
    board = {s.candidate: s for s in leaderboard(run["run_id"])}
    assert board["baseline:desk"].score == 1.0 and board["baseline:stale"].score == 0.0
    assert board["baseline:desk"].metrics["rate_exact"] == 1.0
    assert "rate_exact" in res.output and "baseline:desk" in res.output
