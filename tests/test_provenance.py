"""`produced_by`: every step result and answer names what really produced it (a backend, or rules/template/extractive)."""

from __future__ import annotations

from fincopilot.agents.skills import produced_by
from fincopilot.agents.synthesizer import Answer

TRACE = [{"backend": "smollm2-135m", "latency_s": 0.2, "tokens": 40}]


def test_a_discarded_model_output_is_credited_to_the_fallback():
    assert produced_by({"method": "extractive"}, TRACE) == "extractive"
    assert produced_by({"explanation_method": "template"}, TRACE) == "template"


def test_kept_model_output_is_credited_to_its_backend():
    assert produced_by({"method": "llm"}, TRACE) == "smollm2-135m"
    assert produced_by({"passed": True, "violations": []}, TRACE) == "smollm2-135m"


def test_no_model_call_is_rules():
    assert produced_by({"passed": True, "violations": []}, []) == "rules"
    assert produced_by({"method": "llm"}, []) == "rules"  # claims the model but no call succeeded


def test_answer_names_its_producer_in_its_data():
    assert (
        Answer(text="x", method="template", backend="smollm2-135m").model_dump()["produced_by"] == "template"
    )
    assert Answer(text="x", method="llm", backend="smollm2-135m").produced_by == "smollm2-135m"
    assert Answer(text="x", method="direct").produced_by == "template"


def test_graph_credits_template_fallbacks_not_the_consulted_fake_backend(tmp_path, monkeypatch):
    """Through the real graph with a SCRIPTED FAKE model whose worker replies never parse: the workers fall
    back, so the steps are credited to template/extractive, not to the backend that was called."""
    from graph_fakes import fake_gateway
    from skill_helpers import prepare_home

    from fincopilot.graphs.runner import CopilotRunner

    monkeypatch.setenv("FINCOPILOT_HOME", str(prepare_home(tmp_path / "home")))
    gw, _ = fake_gateway()
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw)
    evs = list(runner.run("Check the credit of C-1042 and summarize the HY-7 report", thread_id="prov"))
    by_skill = {e.data["skill"]: e.data for e in evs if e.type == "step_finish"}
    assert by_skill["credit_lookup"]["produced_by"] == "template"
    assert by_skill["report_summary"]["produced_by"] == "extractive"
    answer = next(e.data for e in evs if e.type == "answer")
    assert answer["produced_by"] in ("fake-scripted", "template")
    assert answer["produced_by"] == (
        "fake-scripted" if answer["method"] in ("llm", "repaired") else "template"
    )


CREDIT = {"client_name": "Zhang Min", "client_id": "C-1042", "score": 712, "grade": "B", "pd": 0.018}
STEPS = [
    {"id": 1, "skill": "credit_lookup", "args": {"client_id": "C-1042"}},
    {"id": 2, "skill": "credit_lookup", "args": {"client_id": "C-9999"}},
]
RESULTS = {
    "1": {"ok": True, "output": CREDIT},
    "2": {"ok": False, "error": "BackendTimeout: step 2 (credit_lookup) did not finish within 300 s"},
}


def test_a_failed_step_is_said_plainly_and_its_error_text_is_not_a_model_claim():
    from fincopilot.agents.synthesizer import synthesize

    ans = synthesize("Credit of C-1042 and C-9999?", STEPS, RESULTS, use_model=False)
    assert (
        "Step 2 (credit_lookup) could not run: step 2 (credit_lookup) did not finish within 300 s [2]"
        in ans.text
    )
    assert "BackendTimeout" not in ans.text
    assert not ans.flagged and ans.unsupported_numbers == []  # "300" is the framework's, cited to step 2


def test_a_chinese_request_gets_a_chinese_answer():
    from fincopilot.agents._common import is_chinese
    from fincopilot.agents.synthesizer import synthesize

    ans = synthesize("请查询客户C-1042的信用情况", STEPS[:1], RESULTS, use_model=False)
    assert is_chinese(ans.text) and "信用评分为712" in ans.text and "1.80%" in ans.text
    assert not ans.flagged and ans.produced_by == "template"


def test_a_slow_model_part_keeps_the_scorecard_result_with_template_text(tmp_path, monkeypatch):
    """SCRIPTED FAKE model that takes 12 s; the step limit is 8 s, its model part gets half: the credit step
    still returns the score/grade/PD (template explanation), credited to the template, not lost."""
    from graph_fakes import fake_gateway, planner_reply
    from skill_helpers import prepare_home

    from fincopilot.graphs.runner import CopilotRunner

    monkeypatch.setenv("FINCOPILOT_HOME", str(prepare_home(tmp_path / "home")))

    def slow_worker(messages, schema):
        import time

        if getattr(schema, "__name__", "") not in ("PlannerOutput", "_Draft"):
            time.sleep(12)
        return planner_reply(messages, schema)

    gw, _ = fake_gateway(slow_worker)
    runner = CopilotRunner(tmp_path / "cp.sqlite", gateway=gw, step_timeout_s=8.0, step_retries=0)
    evs = list(runner.run("Check the credit of C-1042", thread_id="budget"))
    (fin,) = [e.data for e in evs if e.type == "step_finish" and e.data["skill"] == "credit_lookup"]
    assert fin["ok"], fin
    assert fin["output"]["explanation_method"] == "template" and fin["produced_by"] == "template"
    assert isinstance(fin["output"]["score"], int) and fin["output"]["grade"] and 0 < fin["output"]["pd"] < 1
