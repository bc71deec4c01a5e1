"""The advisor graph and CopilotRunner: parallel steps, failures, the synthesizer's number check, the compliance
gate with interrupt → process exit → resume, threads. Model calls go to scripted FAKE backends
(tests/graph_fakes.py) with fixed delays; the real model runs in tests/test_graph_model.py.
Workers, tools, DuckDB, the audit log and the SQLite checkpointer are all real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from graph_fakes import fake_gateway, planner_reply
from pydantic import BaseModel, ValidationError
from skill_helpers import prepare_home

from fincopilot.errors import InputError, NotFoundError
from fincopilot.graphs.runner import CopilotRunner
from fincopilot.graphs.state import Review
from fincopilot.tools.compliance_rules import risk_disclosure

DEMO = (
    "Client C-1042 wants the HY-7 bond fund: check credit, summarize the latest HY-7 report, "
    "make my recommendation compliant"
)


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    """One home with the database and the trained scorecard for the whole module (training takes seconds)."""
    return prepare_home(tmp_path_factory.mktemp("graph-home"))


@pytest.fixture
def home(shared_home, isolated_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(shared_home))
    return shared_home


def events_of(it):
    return [e for e in it]


def guaranteed_reply(messages, schema):
    """Fake model whose synthesizer draft cites every step but promises a guaranteed return (must be held)."""
    if getattr(schema, "__name__", "") == "_Draft":
        return json.dumps(
            {"answer": "Zhang Min has a solid credit profile [1]. HY-7 offers guaranteed returns [2]."}
        )
    return planner_reply(messages, schema)


# ---------------------------------------------------------------------------------------------- parallelism
def test_independent_steps_overlap_in_time(home, tmp_path):
    gw, _backend = fake_gateway(delay_s=1.0)
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = events_of(
        runner.run("Check the credit of C-1042 and summarize the HY-7 and GB-1 reports", thread_id="par")
    )
    finishes = [e.data for e in evs if e.type == "step_finish"]
    assert len(finishes) == 3 and all(f["ok"] for f in finishes), finishes
    starts = [f["started_at"] for f in finishes]
    ends = [f["finished_at"] for f in finishes]
    # every step started before any step finished: they ran at the same time
    assert max(starts) < min(ends)
    # the summaries each waited ~1 s on the fake model, concurrently: the steps together took less than their sum
    span = max(ends) - min(starts)
    assert span < sum(e - s for s, e in zip(starts, ends))
    assert evs[-1].type == "done" and evs[-1].data["status"] == "answered"


def test_event_order_and_answer_citations(home, tmp_path):
    gw, _ = fake_gateway()
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = events_of(runner.run(DEMO, thread_id="order"))
    types = [e.type for e in evs]
    # live planning progress (the model's first round) comes before the plan
    assert types[:3] == ["request", "planning", "plan"] and types[-1] == "done"
    assert evs[1].data == {"stage": "generating", "attempt": 1}
    assert types.index("answer") > max(i for i, t in enumerate(types) if t == "step_finish")
    assert types.index("compliance") == types.index("answer") + 1 and "token" not in types
    plan = evs[2].data
    # no compliance_check step: the graph's compliance gate checks the answer
    assert [s["skill"] for s in plan["steps"]] == ["credit_lookup", "report_summary"]
    assert [e.data["skill"] for e in evs if e.type == "step_start"].count("compliance_check") == 0
    answer = next(e.data for e in evs if e.type == "answer")
    assert {c["step_id"] for c in answer["citations"]} >= {1, 2}
    assert answer["unsupported_numbers"] == [] and not answer["flagged"]
    # the gate added the disclosure and checked the text it released, suitability included
    assert answer["text"].endswith(risk_disclosure(["HY-7"]))
    verdict = next(e.data for e in evs if e.type == "compliance")
    assert verdict["passed"] and verdict["client"] == "C-1042" and verdict["products"] == ["HY-7"]
    assert runner.thread("order").turns[-1]["content"] == answer["text"]
    assert all(e.request_id == evs[0].request_id and e.thread_id == "order" for e in evs)
    from fincopilot.safety import audit

    audit.flush()
    kinds = [r.event for r in audit.trail(evs[0].request_id)]
    for k in ("request", "plan", "step_start", "step_finish", "compliance", "answer"):
        assert k in kinds, kinds


# ---------------------------------------------------------------------------------------------- failures
def test_failed_step_is_recorded_and_dependents_skipped(home, tmp_path):
    plan = {
        "steps": [
            {"id": 1, "skill": "credit_lookup", "args": {"client": "C-9999"}, "depends_on": []},
            {"id": 2, "skill": "credit_lookup", "args": {"client": "$1.client_id"}, "depends_on": [1]},
            {"id": 3, "skill": "report_summary", "args": {"product": "HY-7"}, "depends_on": []},
        ]
    }

    def reply(messages, schema):
        if getattr(schema, "__name__", "") == "PlannerOutput":
            return json.dumps(plan)
        return planner_reply(messages, schema)

    gw, _ = fake_gateway(reply)
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = events_of(runner.run("credit of C-9999, then its client again, and the HY-7 report", thread_id="f"))
    fin = {e.data["id"]: e.data for e in evs if e.type == "step_finish"}
    assert not fin[1]["ok"] and "NotFoundError" in fin[1]["error"] and fin[1]["attempts"] == 1  # no retry
    assert not fin[2]["ok"] and "skipped" in fin[2]["error"]
    assert fin[3]["ok"]
    answer = next(e.data for e in evs if e.type == "answer")
    assert "failed" in answer["text"] and "[3]" in answer["text"]


def test_step_timeout_and_retry(home, tmp_path):
    from fincopilot.agents.skills import skill, unregister

    class SlowArgs(BaseModel):
        what: str

    class SlowOut(BaseModel):
        done: bool

    @skill(name="slow_test", args=SlowArgs, output=SlowOut, description="A deliberately slow skill.")
    def slow(args, ctx):
        time.sleep(3)
        return SlowOut(done=True)

    plan = {"steps": [{"id": 1, "skill": "slow_test", "args": {"what": "x"}, "depends_on": []}]}
    try:
        gw, _ = fake_gateway(lambda m, s: json.dumps(plan) if s.__name__ == "PlannerOutput" else "x")
        runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw, step_timeout_s=0.3, step_retries=1)
        evs = events_of(runner.run("run the slow thing x", thread_id="slow"))
    finally:
        unregister("slow_test")
    (fin,) = [e.data for e in evs if e.type == "step_finish"]
    assert not fin["ok"] and "did not answer within 0.3 s" in fin["error"] and fin["attempts"] == 2
    assert evs[-1].data["status"] in ("answered", "held")


def test_unsupported_number_is_never_sent():
    from fincopilot.agents.synthesizer import synthesize

    steps = [{"id": 1, "skill": "credit_lookup", "args": {"client": "C-1"}, "depends_on": []}]
    results = {
        "1": {
            "ok": True,
            "output": {
                "client_id": "C-1",
                "client_name": "Li Lei",
                "score": 612,
                "pd": 0.031,
                "grade": "C",
                "reason_codes": [],
                "explanation": "",
            },
        }
    }
    gw, _ = fake_gateway(lambda m, s: json.dumps({"answer": "Li Lei scores 999 points, PD 3.1% [1]."}))
    ans = synthesize("credit of C-1", steps, results, gateway=gw)
    assert "999" not in ans.text and ans.method in ("repaired", "template")
    assert any("999" in n for n in ans.notes)
    assert "612" in ans.text and ans.unsupported_numbers == [] and not ans.flagged
    good, _ = fake_gateway(
        lambda m, s: json.dumps({"answer": "Li Lei scores 612 points, a 3.10% PD [1]."}),
        backend_id="fake-good",
    )
    ans2 = synthesize("credit of C-1", steps, results, gateway=good)
    assert ans2.method == "llm" and ans2.citations[0].step_id == 1


# ---------------------------------------------------------------------------------------------- compliance gate
PART1 = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from graph_fakes import fake_gateway
    from test_graph import guaranteed_reply
    from fincopilot.graphs.runner import CopilotRunner
    gw, _ = fake_gateway(guaranteed_reply)
    runner = CopilotRunner({cp!r}, gateway=gw)
    for e in runner.run({req!r}, thread_id="held-1"):
        print(e.model_dump_json(), flush=True)
""")


def test_interrupt_process_exit_resume_approve(home, tmp_path):
    cp = tmp_path / "checkpoints.sqlite"
    env = {**os.environ, "FINCOPILOT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    code = PART1.format(tests=str(Path(__file__).parent), cp=str(cp), req=DEMO)
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert res.returncode == 0, res.stderr[-3000:]
    evs = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert evs[-1]["type"] == "done" and evs[-1]["data"]["status"] == "held"
    held = next(e for e in evs if e["type"] == "held")
    assert "guaranteed_return" in held["data"]["reason"] and held["data"]["thread_id"] == "held-1"

    # the first process is gone; a fresh runner on the same SQLite file resumes the thread
    runner = CopilotRunner(cp, gateway=fake_gateway()[0])
    view = runner.thread("held-1")
    assert view.status == "held" and "guaranteed returns" in view.held["answer"]
    assert "held-1" in runner.threads()
    with pytest.raises(InputError, match="waiting for review"):
        events_of(runner.run("another question", thread_id="held-1"))
    out = events_of(runner.resume("held-1", Review(decision="approve", reviewer="officer-li")))
    assert [e.type for e in out][-2:] == ["review", "done"] and out[-1].data["status"] == "answered"
    view = runner.thread("held-1")
    assert view.status == "answered" and view.held is None
    assert view.turns[-1]["role"] == "assistant" and "guaranteed returns" in view.turns[-1]["content"]
    from fincopilot.safety import audit

    audit.flush()
    kinds = [r.event for r in audit.trail(evs[0]["request_id"])]
    assert "held" in kinds and "review" in kinds and kinds[-1] == "answer"
    with pytest.raises(InputError, match="no answer waiting"):
        events_of(runner.resume("held-1", Review(decision="approve", reviewer="x")))


def test_edit_and_reject_decisions(home, tmp_path):
    gw, _ = fake_gateway(guaranteed_reply)
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    for tid in ("e", "r"):
        assert events_of(runner.run(DEMO, thread_id=tid))[-1].data["status"] == "held"
    edited = "Zhang Min's credit is grade B [1]. HY-7 may lose value; returns are not guaranteed [2]."
    out = events_of(runner.resume("e", Review(decision="edit", reviewer="officer", text=edited)))
    assert out[-1].data["status"] == "answered"
    assert runner.thread("e").turns[-1]["content"] == edited
    out = events_of(runner.resume("r", Review(decision="reject", reviewer="officer")))
    assert out[-1].data["status"] == "rejected" and runner.thread("r").status == "rejected"
    with pytest.raises(ValidationError, match="needs the edited answer text"):
        Review(decision="edit", reviewer="x")


# ---------------------------------------------------------------------------------------------- threads
def test_thread_keeps_the_conversation_and_follow_ups_use_it(home, tmp_path):
    gw, _ = fake_gateway()
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    events_of(runner.run("What is the credit score of C-1042? Also the HY-7 product.", thread_id="conv"))
    evs = events_of(runner.run("now summarize the report", thread_id="conv"))
    plan = next(e.data for e in evs if e.type == "plan")
    assert plan["steps"][0]["args"] == {"product": "HY-7"}  # taken from the earlier turn
    view = runner.thread("conv")
    assert [t["role"] for t in view.turns] == ["user", "assistant", "user", "assistant"]
    assert view.status == "answered"


def test_greeting_is_answered_directly(home, tmp_path):
    gw, _ = fake_gateway(lambda m, s: json.dumps({"steps": []}) if s is not None else "Hi, happy to help.")
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = events_of(runner.run("Hello!", thread_id="hi"))
    assert not any(e.type.startswith("step") for e in evs)
    assert next(e.data for e in evs if e.type == "plan")["source"] == "model"
    assert evs[-1].data["status"] == "answered"
    assert "credit_lookup" in next(e.data for e in evs if e.type == "answer")["text"]


def test_runner_input_errors(home, tmp_path):
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=fake_gateway()[0])
    with pytest.raises(InputError, match="empty"):
        events_of(runner.run("  "))
    with pytest.raises(InputError, match="thread id"):
        events_of(runner.run("hi", thread_id="x" * 500))
    with pytest.raises(NotFoundError, match="unknown thread"):
        runner.thread("nope")
    with pytest.raises(NotFoundError, match="unknown thread"):
        events_of(runner.resume("nope", Review(decision="approve", reviewer="x")))


def test_concurrent_threads_share_one_runner(home, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=fake_gateway(delay_s=0.2)[0])
    reqs = {"t1": "Summarize the GB-1 report", "t2": "Summarize the IG-3 report", "t3": "credit of C-1042"}
    with ThreadPoolExecutor(3) as pool:
        done = dict(
            zip(reqs, pool.map(lambda kv: events_of(runner.run(kv[1], thread_id=kv[0])), reqs.items()))
        )
    for tid, evs in done.items():
        assert evs[-1].data["status"] == "answered", (tid, evs[-1])
        assert all(e.thread_id == tid for e in evs)
    assert set(runner.threads()) == set(reqs)


def test_internal_error_ends_the_run_as_failed_and_the_thread_recovers(home, tmp_path, monkeypatch):
    import fincopilot.agents.synthesizer as synth

    real = synth.synthesize

    def broken(*a, **k):
        raise RuntimeError("synthesizer exploded")

    monkeypatch.setattr(synth, "synthesize", broken)
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=fake_gateway()[0])
    evs = events_of(runner.run("credit of C-1042", thread_id="boom"))
    assert [e.type for e in evs][-2:] == ["error", "done"]
    assert "synthesizer exploded" in evs[-2].data["message"] and evs[-1].data["status"] == "failed"
    assert runner.thread("boom").status == "failed"
    monkeypatch.setattr(synth, "synthesize", real)
    runner = CopilotRunner(
        tmp_path / "cp.sqlite", gateway=fake_gateway()[0]
    )  # same file, working synthesizer
    evs = events_of(runner.run("credit of C-1042", thread_id="boom"))
    assert evs[-1].data["status"] == "answered"


def test_every_log_line_of_a_request_carries_its_request_id(home, tmp_path, capsys):
    from fincopilot import log

    log.configure("info", json=True)
    try:
        gw, _ = fake_gateway()
        runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
        capsys.readouterr()
        evs = events_of(runner.run(DEMO, thread_id="logs"))
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    finally:
        log.configure()
    # parallel steps run in LangGraph's worker threads and the gateway's timeout threads: the id must follow
    assert len(lines) >= 5 and {"route"} <= {x["event"] for x in lines}
    assert {x.get("request_id") for x in lines} == {evs[0].request_id}
