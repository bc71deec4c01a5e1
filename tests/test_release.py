"""The one release policy (graphs/release.py): what the asker sees while an answer is held (not the draft),
what a reviewer sees (the draft), how events fold into a run view; and the CLI built on it: `ask` never prints
a held draft, `review` shows it to the reviewer. The CLI runs use the scripted FAKE gateway of
test_graph_cli.py (database, workers, graph and checkpoints are real)."""

from __future__ import annotations

import json

from test_graph import guaranteed_reply  # noqa: E402
from test_graph_cli import fake_default, invoke  # noqa: E402, F401  (fixture re-used)

from fincopilot.graphs.events import Event
from fincopilot.graphs.release import RunView, fold, held_for, released, sees_drafts

DRAFT = "HY-7 offers guaranteed returns [2]."
VIOLATION = {"category": "guaranteed_return", "rule": "no-guarantees", "reason": "promises a return"}


def ev(type_: str, **data) -> Event:
    return Event(type=type_, request_id="r1", thread_id="t1", data=data)


def held_run() -> list[Event]:
    """A run whose draft fails the compliance gate, as the runner emits it."""
    return [
        ev("request", text="promise a return"),
        ev(
            "plan",
            steps=[{"id": 1, "skill": "credit_lookup", "args": {"client_id": "C-1042"}}],
            source="rules",
        ),
        ev("step_start", id=1, skill="credit_lookup", args={"client_id": "C-1042"}),
        ev("step_finish", id=1, skill="credit_lookup", ok=True, output={"score": 585}, produced_by="rules"),
        ev("answer", text=DRAFT, citations=[{"n": 1, "step_id": 1}], produced_by="fake-scripted"),
        ev("compliance", passed=False, violations=[VIOLATION]),
        ev("held", thread_id="t1", reason="guaranteed_return: promises a return"),
        ev("done", status="held"),
    ]


def texts(events) -> str:
    return json.dumps([e.model_dump(mode="json") for e in events])


def test_the_asker_never_sees_a_held_draft():
    seen = list(released(held_run(), reviewer=False))
    assert [e.type for e in seen] == [
        "request",
        "plan",
        "step_start",
        "step_finish",
        "compliance",
        "held",
        "done",
    ]
    assert "guaranteed returns" not in texts(seen)
    view = fold(seen)
    assert view.status == "held" and view.answer is None and view.produced_by is None
    assert view.held_reason == "guaranteed_return: promises a return"
    assert view.compliance["violations"] == [VIOLATION]


def test_a_reviewer_sees_the_draft_marked_as_draft():
    seen = list(released(held_run(), reviewer=True))
    answers = [e for e in seen if e.type == "answer"]
    assert len(answers) == 1 and answers[0].data["text"] == DRAFT and answers[0].data["draft"] is True
    assert [e.type for e in seen].index("answer") < [e.type for e in seen].index("compliance")
    view = fold(seen)
    assert view.status == "held" and view.answer["draft"] is True and view.produced_by == "fake-scripted"


def test_a_passing_answer_is_released_to_everyone_before_its_verdict():
    run = [*held_run()[:5], ev("compliance", passed=True, violations=[]), ev("done", status="answered")]
    for reviewer in (False, True):
        kinds = [e.type for e in released(run, reviewer=reviewer)]
        assert kinds[-3:] == ["answer", "compliance", "done"]
        view = fold(released(run, reviewer=reviewer))
        assert view.status == "answered" and view.answer["text"] == DRAFT and "draft" not in view.answer


def test_an_answer_without_a_verdict_waits_for_the_run_to_end_answered():
    """An edited answer after an approval is released with `done: answered`; a failed run releases nothing."""
    answered = [ev("answer", text="edited"), ev("done", status="answered")]
    assert [e.type for e in released(answered, reviewer=False)] == ["answer", "done"]
    failed = [ev("answer", text="half"), ev("error", message="boom"), ev("done", status="failed")]
    seen = list(released(failed, reviewer=True))
    assert [e.type for e in seen] == ["error", "done"]
    assert fold(seen).error == "boom" and fold(seen).status == "failed"


def test_held_payload_for_the_asker_and_for_the_reviewer():
    held = {"answer": DRAFT, "violations": [VIOLATION], "reason": "r", "thread_id": "t1", "request": "q"}
    assert held_for(held, reviewer=True) == held
    assert held_for(held, reviewer=False) == {"violations": [VIOLATION], "reason": "r", "thread_id": "t1"}
    assert held_for(None, reviewer=False) is None
    assert sees_drafts("compliance_officer") and not sees_drafts("advisor") and not sees_drafts("operator")


def test_run_view_tracks_steps_from_plan_to_finish():
    view = RunView()
    for event in held_run()[:3]:
        view.add(event)
    assert view.steps[1]["state"] == "running" and not view.finished and view.finished_steps() == {}
    view.add(held_run()[3])
    assert view.steps[1]["state"] == "ok" and view.finished_steps()[1]["output"] == {"score": 585}
    assert view.plan_source == "rules" and view.thread_id == "t1" and view.request_id == "r1"


# --- the CLI ---------------------------------------------------------------------------------------------
REQUEST = (
    "Client C-1042 wants the HY-7 bond fund: check credit, summarize the latest HY-7 report, "
    "make my recommendation compliant"
)


def test_cli_ask_does_not_print_a_held_draft_and_review_shows_it(isolated_home, fake_default):  # noqa: F811
    fake_default(guaranteed_reply)
    from fincopilot.tools.data import init_db

    init_db()
    res = invoke("ask", REQUEST, "--thread", "rel-held")
    assert res.exit_code == 0, res.output
    assert "Held for human review" in res.output and "guaranteed_return" in res.output
    assert (
        "offers guaranteed returns" not in res.output and "Answer (" not in res.output
    )  # the draft is not shown
    as_json = invoke("ask", REQUEST, "--thread", "rel-held-json", "--json")
    lines = [json.loads(line) for line in as_json.output.splitlines() if line.startswith("{")]
    kinds = [d["type"] for d in lines if "type" in d and "event" not in d]  # events, not log lines
    assert kinds[-1] == "done" and "held" in kinds and "answer" not in kinds
    assert "offers guaranteed returns" not in as_json.output  # the draft (the verdict quotes its span)

    shown = invoke("review", "rel-held", "--show")  # the reviewer sees the draft
    assert '"status": "held"' in shown.output and "offers guaranteed returns" in shown.output
    edited = (
        "HY-7 offers guaranteed returns, really [2]."  # still non-compliant: held again, shown as a draft
    )
    res = invoke("review", "rel-held", "--edit", edited, "--reviewer", "officer-wang")
    assert res.exit_code == 0, res.output
    assert "Draft answer (held, not released)" in res.output and "really" in res.output
    assert "Held for human review" in res.output
