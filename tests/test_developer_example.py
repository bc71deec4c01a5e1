"""The developer example in docs/developer.md runs as written, matches graphs/examples.py, and its skill
works inside the advisor graph (planned by a scripted FAKE planner; the worker and the executor are real)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def doc_snippet() -> str:
    text = (ROOT / "docs" / "developer.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- example:developer -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/developer.md lost its example block"
    return m.group(1)


@pytest.fixture
def fresh_registry():
    from fincopilot.agents.skills import unregister

    unregister("fx_quote")
    yield
    unregister("fx_quote")


def test_snippet_is_short_and_is_the_shipped_example():
    code = doc_snippet()
    lines = code.strip("\n").splitlines()
    assert len(lines) < 30
    shipped = (ROOT / "graphs" / "examples.py").read_text(encoding="utf-8")
    body = shipped.split("# --- example: start", 1)[1].split("\n", 1)[1].split("# --- example: end ---")[0]
    assert body.strip() == "\n".join(lines[:-1]).strip()  # all but the final print line, verbatim


def test_snippet_runs(fresh_registry):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(doc_snippet(), "docs/developer.md", "exec"), {"__name__": "developer_example"})
    printed = out.getvalue()
    assert "'rate': 7.12" in printed and "'pair': 'USD/CNY'" in printed

    from fincopilot.agents.planner import planner_schema, validate_plan

    plan = {"steps": [{"id": 1, "skill": "fx_quote", "args": {"pair": "USD/CNY"}, "depends_on": []}]}
    assert validate_plan(plan) == []
    assert "fx_quote" in json.dumps(planner_schema().model_json_schema())
    assert (
        "missing"
        in validate_plan({"steps": [{"id": 1, "skill": "fx_quote", "args": {}, "depends_on": []}]})[0]
        or "Field required"
        in validate_plan({"steps": [{"id": 1, "skill": "fx_quote", "args": {}, "depends_on": []}]})[0]
    )


def test_new_skill_runs_in_the_advisor_graph(fresh_registry, tmp_path):
    from graph_fakes import fake_gateway, planner_reply

    exec(compile(doc_snippet(), "docs/developer.md", "exec"), {"__name__": "developer_example"})
    from fincopilot.graphs.runner import CopilotRunner

    plan = {"steps": [{"id": 1, "skill": "fx_quote", "args": {"pair": "USD/CNY"}, "depends_on": []}]}

    def reply(messages, schema):
        if schema.__name__ == "PlannerOutput":
            return json.dumps(plan)
        return planner_reply(messages, schema)

    gw, _ = fake_gateway(reply)
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = list(runner.run("What is the USD/CNY rate?", thread_id="fx"))
    fin = next(e.data for e in evs if e.type == "step_finish")
    assert fin["ok"] and fin["output"]["rate"] == 7.12
    answer = next(e.data for e in evs if e.type == "answer")
    assert "7.12" in answer["text"] and answer["citations"][0]["step_id"] == 1 and not answer["flagged"]
    assert evs[-1].data["status"] == "answered"


def test_langgraph_json_points_at_real_graph_factories(fresh_registry):
    import importlib.util

    cfg = json.loads((ROOT / "langgraph.json").read_text())
    assert set(cfg["graphs"]) == {"advisor", "fx_example"}
    for name, target in cfg["graphs"].items():
        path, attr = target.split(":")
        spec = importlib.util.spec_from_file_location(f"lg_{name}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # how `langgraph dev` loads it: by file path
        graph = getattr(module, attr)()
        assert {"__start__"} < set(graph.get_graph().nodes)
    from fincopilot.graphs.advisor import make_graph

    assert {"plan", "run_step", "join", "synthesize", "compliance", "review", "finalize"} <= set(
        make_graph().get_graph().nodes
    )


def test_readme_shows_the_same_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- example:developer -->\s*```python\n(.*?)```", readme, re.S)
    assert m, "README.md lost its developer example"
    assert m.group(1) == doc_snippet()
    assert len(m.group(1).strip("\n").splitlines()) < 30
