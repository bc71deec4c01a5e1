"""Planner: plan validation, the registry-built schema, the rules fallback, the repair loop, `plan --json`.

Model calls here go to a scripted FAKE backend (tests/graph_fakes.py); the real embedded model is exercised in
tests/test_planner_model.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from graph_fakes import fake_gateway, planner_reply
from planner_requests import REQUESTS
from pydantic import BaseModel, ValidationError

from fincopilot.agents.planner import (
    QUOTE_REF,
    Plan,
    PlanStep,
    classify,
    ensure_valid,
    fallback_plan,
    mentions,
    plan_batch,
    plan_request,
    planner_messages,
    planner_schema,
    resolve_client,
    resolve_plan,
    resolve_product,
    review_plan,
    validate_plan,
)
from fincopilot.errors import BackendError, ConfigError, InputError, PlanValidationError
from fincopilot.tools import data


def step(i, skill, args, deps=()):
    return {"id": i, "skill": skill, "args": args, "depends_on": list(deps)}


# ------------------------------------------------------------------------------------------ validate_plan
def test_valid_plan_has_no_problems():
    plan = {
        "steps": [
            step(1, "credit_lookup", {"client": "C-1042"}),
            step(2, "report_summary", {"product": "HY-7"}),
            step(3, "credit_lookup", {"client": "$1.client_id"}, [1, 2]),
        ]
    }
    assert validate_plan(plan) == []
    assert ensure_valid(plan).steps[2].depends_on == [1, 2]


def test_cycle_is_rejected_with_the_cycle_named():
    plan = {
        "steps": [
            step(1, "credit_lookup", {"client": "C-1"}, [2]),
            step(2, "credit_lookup", {"client": "C-2"}, [1]),
        ]
    }
    problems = validate_plan(plan)
    assert any("cycle" in p and "1" in p and "2" in p for p in problems), problems
    assert any("comes later" in p for p in problems), problems


def test_self_reference_and_missing_dependency():
    problems = validate_plan({"steps": [step(1, "credit_lookup", {"client": "C-1"}, [1, 7])]})
    assert "step 1 (credit_lookup) depends on itself" in problems
    assert "step 1 (credit_lookup) depends on step 7, which does not exist" in problems


def test_unknown_skill_names_the_registered_ones():
    problems = validate_plan({"steps": [step(1, "fx_quote", {"pair": "USD/CNY"})]})
    assert len(problems) == 1
    assert "unknown skill 'fx_quote'" in problems[0] and "credit_lookup" in problems[0]


def test_bad_and_unknown_arguments():
    problems = validate_plan(
        {
            "steps": [
                step(1, "credit_lookup", {"client": 42, "colour": "red"}),
                step(2, "compliance_check", {"client": "C-1"}),
            ]
        }
    )
    assert any("unknown argument(s) 'colour'" in p for p in problems), problems
    assert any(
        "step 1 (credit_lookup): argument client: Input should be a valid string" in p for p in problems
    )
    assert any("step 2 (compliance_check): argument text: Field required" in p for p in problems), problems


def test_duplicate_ids_and_empty_plan():
    assert "step id 1 is used more than once" in validate_plan(
        {"steps": [step(1, "credit_lookup", {"client": "C-1"}), step(1, "credit_lookup", {"client": "C-2"})]}
    )
    assert validate_plan({"steps": []}) == ["the plan has no steps and no direct answer"]
    assert validate_plan({"steps": [], "direct_answer": "Hello"}) == []


def test_malformed_plan_shapes_are_problems_not_crashes():
    assert validate_plan({"steps": "nope"})[0].startswith("steps")
    assert validate_plan({"steps": [{"skill": "credit_lookup"}]})[0].startswith("steps.0.id")
    with pytest.raises(PlanValidationError) as err:
        ensure_valid({"steps": [step(1, "nope", {})]})
    assert err.value.problems and "unknown skill" in str(err.value)


def test_output_references_are_checked_against_the_dependency_output_model():
    ok = {
        "steps": [
            step(1, "credit_lookup", {"client": "C-1042"}),
            step(2, "credit_lookup", {"client": "$1.client_id"}, [1]),
        ]
    }
    assert validate_plan(ok) == []
    bad_field = {
        "steps": [
            step(1, "credit_lookup", {"client": "C-1042"}),
            step(2, "credit_lookup", {"client": "$1.rating"}, [1]),
        ]
    }
    (problem,) = validate_plan(bad_field)
    assert "output has no field 'rating'" in problem and "grade" in problem
    not_a_dep = {
        "steps": [
            step(1, "credit_lookup", {"client": "C-1042"}),
            step(2, "credit_lookup", {"client": "$1.client_id"}),
        ]
    }
    assert "does not depend on it" in validate_plan(not_a_dep)[0]
    malformed = {"steps": [step(1, "credit_lookup", {"client": "$one"})]}
    assert "is not a reference like" in validate_plan(malformed)[0]
    quote_elsewhere = {"steps": [step(1, "credit_lookup", {"client": QUOTE_REF})]}
    assert (
        "$quote (the quoted draft) may only be a text argument, not 'client'"
        in validate_plan(quote_elsewhere)[0]
    )
    # the compliance gate checks the final answer: no step may stand for it
    answer = {"steps": [step(1, "compliance_check", {"text": "$answer"})]}
    assert "the compliance gate checks the final answer" in validate_plan(answer)[0]


# ------------------------------------------------------------------------------------------ schema
def test_schema_is_built_from_the_registry_and_rejects_unknown_skills():
    from fincopilot.agents.skills import skill, unregister

    schema = planner_schema()
    good = {
        "steps": [
            step(1, "credit_lookup", {"client": "C-1042"}),
            step(2, "report_summary", {"product": "HY-7"}),
        ]
    }
    assert [s.skill for s in schema.model_validate(good).steps] == ["credit_lookup", "report_summary"]
    with pytest.raises(ValidationError):
        schema.model_validate({"steps": [step(1, "fx_quote", {"pair": "USD/CNY"})]})
    with pytest.raises(ValidationError):  # arguments are typed per skill
        schema.model_validate({"steps": [step(1, "credit_lookup", {"product": "HY-7"})]})

    class FxArgs(BaseModel):
        pair: str

    class FxQuote(BaseModel):
        rate: float

    @skill(name="fx_quote_test", args=FxArgs, output=FxQuote, description="FX quote.")
    def fx(args, ctx):
        return FxQuote(rate=7.1)

    try:
        extended = planner_schema()
        assert extended is not schema
        parsed = extended.model_validate({"steps": [step(1, "fx_quote_test", {"pair": "USD/CNY"})]})
        assert parsed.steps[0].args.pair == "USD/CNY"
        assert "fx_quote_test(pair)" in planner_messages("x")[0].content
    finally:
        unregister("fx_quote_test")
    assert "fx_quote_test" not in json.dumps(planner_schema().model_json_schema())


def test_schema_is_small_and_bounded_for_constrained_decoding():
    from fincopilot.models.structured import bounded_json_schema, max_json_chars

    schema = planner_schema().model_json_schema()
    assert len(json.dumps(schema)) < 6000
    assert max_json_chars(bounded_json_schema(schema), unbounded=10**9) < 8000  # every string/list is bounded


# ------------------------------------------------------------------------------------------ rules fallback
@pytest.mark.parametrize("request_text,wanted", REQUESTS)
def test_fallback_plans_are_valid_and_cover_the_request(request_text, wanted):
    plan, note = fallback_plan(request_text)
    if wanted:
        assert validate_plan(plan) == [], note
        assert {s.skill for s in plan.steps} >= wanted
    else:
        assert plan.steps == []


def test_classify_extracts_entities_in_chinese_text_and_uses_context():
    it = classify("客户C-1042想买HY-7债券基金")
    assert it.clients == ["C-1042"] and it.products == ["HY-7"] and "compliance_check" not in it.skills
    assert set(it.skills) == {"credit_lookup", "report_summary"}  # bare entities: the gate checks suitability
    follow = classify("and summarize the report", context=["Client C-1042 wants HY-7"])
    assert follow.products == ["HY-7"] and follow.skills == ["report_summary"]


def test_the_prompt_lists_what_the_request_names_as_written(monkeypatch):
    client, product = data.get_client("C-1042"), data.get_product("HY-9")
    request = f"Does the {product.name_en.lower()} suit {client.name_en}? And c-1100 with HY-7, for {client.name_zh}"
    assert mentions([request])[0] == (
        [client.name_en, "c-1100", client.name_zh],
        [product.name_en.lower(), "HY-7"],
    )
    assert planner_messages(request)[-1].content == (
        f"{request}\n(named: clients {client.name_en}, c-1100, {client.name_zh}; "
        f"products {product.name_en.lower()}, HY-7)"
    )
    assert planner_messages("hello")[-1].content == "hello\n(named: no client or product)"
    draft = 'Is this OK to send to C-1042: "HY-7 cannot lose money, ever"'
    assert planner_messages(draft)[-1].content.endswith("(named: clients C-1042; products HY-7; quoted text)")
    msgs = planner_messages("hello")
    for asked, answer in zip(msgs[1:-1:2], msgs[2::2], strict=True):  # each example's note marks its quote
        assert asked.content.endswith("; quoted text)") == ('"$quote"' in answer.content), asked.content
    assert all("(named: " in m.content for m in planner_messages("hello")[1:] if m.role == "user")

    def unreadable(*_args, **_kw):
        raise ConfigError("the domain database is missing")

    monkeypatch.setattr(data, "connect", unreadable)
    assert mentions([request])[0] == (["c-1100"], ["HY-7"])  # ids and codes still found, no error


def test_missing_id_gets_a_clarifying_direct_answer():
    plan, _ = fallback_plan("check the client's credit")
    assert not plan.steps and "client id" in plan.direct_answer


# ------------------------------------------------------------------------------------------ planner loop
def test_planner_uses_the_model_plan_when_valid():
    gw, backend = fake_gateway()
    out = plan_request("Summarize the latest EQ-10 report", gateway=gw)
    assert out.source == "model" and out.valid_before_repair and out.backend == "fake-scripted"
    assert [s.args for s in out.plan.steps] == [{"product": "EQ-10"}]
    assert len(backend.calls) == 1


def test_a_valid_model_plan_is_trusted_even_when_the_rules_disagree():
    # the rules see credit AND report here; the model plans only the credit check: valid, so it is used
    only_credit = json.dumps({"steps": [step(1, "credit_lookup", {"client": "C-1042"})]})
    gw, backend = fake_gateway(lambda m, s: only_credit)
    out = plan_request("Check C-1042's credit and summarize the HY-7 report", gateway=gw)
    assert out.source == "model" and [s.skill for s in out.plan.steps] == ["credit_lookup"]
    assert len(backend.calls) == 1 and out.problems == []


def test_problems_are_fed_back_and_the_plan_repaired():
    answers = iter([json.dumps({"steps": [step(1, "credit_lookup", {"client": "C-9999"})]})])  # invented id

    def reply(messages, schema):
        return next(answers, None) or planner_reply(messages, schema)

    gw, backend = fake_gateway(reply)
    out = plan_request("Check C-1042's credit and summarize the HY-7 report", gateway=gw)
    assert out.source == "repaired" and not out.valid_before_repair and out.rounds == 2
    assert any("'C-9999' does not appear in the request" in p for p in out.problems)
    repair_prompt = backend.calls[1][-1].content
    assert "C-9999" in repair_prompt and "problems" in repair_prompt
    assert {s.skill for s in out.plan.steps} == {"credit_lookup", "report_summary"}


def test_progress_reports_each_round_and_why_a_plan_was_rejected():
    answers = iter([json.dumps({"steps": [step(1, "credit_lookup", {"client": "C-9999"})]})])  # invented id

    def reply(messages, schema):
        return next(answers, None) or planner_reply(messages, schema)

    gw, _ = fake_gateway(reply)
    seen: list[dict] = []
    out = plan_request(
        "Check C-1042's credit and summarize the HY-7 report", gateway=gw, on_progress=seen.append
    )
    assert out.source == "repaired"
    assert [(p["stage"], p["attempt"]) for p in seen] == [
        ("generating", 1),
        ("rejected", 1),
        ("generating", 2),
    ]
    assert seen[1]["backend"] == "fake-scripted" and "C-9999" in seen[1]["problems"][0]


def test_malformed_output_counts_as_a_failed_round_then_rules():
    gw, backend = fake_gateway(lambda m, s: "{not json")
    out = plan_request(
        "客户C-1042想买HY-7债券基金：查一下信用，总结最新的HY-7研报，并确保我的推荐合规",
        gateway=gw,
        max_repairs=2,
    )
    assert out.source == "rules" and out.reason.startswith("rules:")
    assert len(backend.calls) <= 2  # the repair repeats the first output: never a third generation
    assert validate_plan(out.plan) == []
    assert [s.skill for s in out.plan.steps] == ["credit_lookup", "report_summary"]


def test_a_repeated_round_stops_the_repairs():
    cyclic = json.dumps(
        {
            "steps": [
                step(1, "credit_lookup", {"client": "C-1042"}, [2]),
                step(2, "credit_lookup", {"client": "C-1042"}, [1]),
            ]
        }
    )
    gw, backend = fake_gateway(lambda m, s: cyclic)
    out = plan_request("Credit check for C-1042", gateway=gw, max_repairs=4)
    assert out.source == "rules" and out.rounds == 2 and len(backend.calls) == 2  # one wasted generation
    assert any("cycle" in p for p in out.problems)


def test_no_repair_when_the_backend_gave_no_output():
    def down(messages, schema):
        raise BackendError("connection refused")

    gw, _ = fake_gateway(down)
    out = plan_request("Credit check for C-1042", gateway=gw, max_repairs=3)
    assert out.source == "rules" and out.rounds == 1


def test_model_alone_raises_naming_the_problems():
    gw, _ = fake_gateway(
        lambda m, s: json.dumps({"steps": [step(1, "report_summary", {"product": "C-1042"})]})
    )
    with pytest.raises(PlanValidationError) as err:
        plan_request("Summarize the report for C-1042", gateway=gw, use_rules=False, max_repairs=0)
    assert any("is a client id, not a product" in p for p in err.value.problems)


def test_greeting_gets_a_direct_answer_not_a_plan():
    gw, _ = fake_gateway(lambda m, s: json.dumps({"steps": []}))
    out = plan_request("Hello!", gateway=gw)
    assert out.source == "model" and out.plan.steps == []


def test_hallucinated_plan_for_a_greeting_is_rejected():
    gw, _ = fake_gateway(lambda m, s: json.dumps({"steps": [step(1, "credit_lookup", {"client": "C-1042"})]}))
    out = plan_request("Hello!", gateway=gw, max_repairs=1)
    assert out.source == "rules" and out.plan.steps == []
    assert any("does not appear in the request" in p for p in out.problems)


# ------------------------------------------------------------------------------------------ types, entities, text
def test_client_id_in_a_product_slot_and_code_in_a_client_slot_are_type_errors():
    problems = validate_plan(
        {
            "steps": [
                step(1, "report_summary", {"product": "C-1042"}),
                step(2, "credit_lookup", {"client": "HY-7"}),
            ]
        }
    )
    assert any("product = 'C-1042' is a client id, not a product" in p for p in problems), problems
    assert any("client = 'HY-7' is a product code, not a client" in p for p in problems), problems


def test_names_resolve_through_the_database(db):
    client = data.get_client("C-1001")
    product = data.get_product("HY-7")
    request = f"Is the {product.name_en} suitable for {client.name_en}?"
    plan = Plan.model_validate(
        {
            "steps": [
                step(1, "credit_lookup", {"client": client.name_en}),
                step(2, "report_summary", {"product": product.name_en}),
            ]
        }
    )
    assert review_plan(plan, request) == []
    resolved, problems, questions = resolve_plan(plan, request)
    assert [s.args for s in resolved.steps] == [{"client": "C-1001"}, {"product": "HY-7"}]
    assert problems == [] and questions == []
    assert resolve_product(product.name_zh).value == "HY-7"
    assert resolve_client(client.name_zh).value == "C-1001"


def test_an_ambiguous_name_becomes_a_question_listing_candidates(db):
    gw, _ = fake_gateway(
        lambda m, s: json.dumps({"steps": [step(1, "report_summary", {"product": "High Yield"})]})
    )
    out = plan_request("Summarize the High Yield report", gateway=gw)
    assert out.source == "model" and not out.plan.steps
    assert "HY-7" in out.plan.direct_answer and "HY-8" in out.plan.direct_answer


def test_an_unknown_name_asks_instead_of_guessing(db):
    gw, backend = fake_gateway(
        lambda m, s: json.dumps({"steps": [step(1, "credit_lookup", {"client": "Zorro X"})]})
    )
    out = plan_request("What is Zorro X's credit score?", gateway=gw)
    assert not out.plan.steps and "Zorro X" in out.plan.direct_answer and len(backend.calls) == 1


def test_a_quoted_draft_goes_to_compliance_check_in_full():
    draft = (
        "Dear client, this fund is guaranteed to return 8% a year with no risk at all; past results "
        "prove it. Subscribe before Friday and tell your friends, the offer will not last."
    )
    request = f'Is this OK to send to my client: "{draft}"'
    plan = Plan.model_validate({"steps": [step(1, "compliance_check", {"text": QUOTE_REF})]})
    assert review_plan(plan, request) == []
    resolved, _, _ = resolve_plan(plan, request)
    assert resolved.steps[0].args["text"] == draft and len(draft) > 150
    literal = Plan.model_validate({"steps": [step(1, "compliance_check", {"text": draft[:60]})]})
    assert review_plan(literal, request) == []
    invented = Plan.model_validate({"steps": [step(1, "compliance_check", {"text": "All good, send it."})]})
    assert any("occurs in the request" in p for p in review_plan(invented, request))
    no_quote = Plan.model_validate({"steps": [step(1, "compliance_check", {"text": QUOTE_REF})]})
    assert any("quotes no text" in p for p in review_plan(no_quote, "Check compliance of my pitch"))
    rules, _ = fallback_plan(request)
    assert rules.steps[0].args["text"] == draft


def test_bad_requests_are_clear_errors():
    with pytest.raises(InputError, match="empty"):
        plan_request("   ", use_model=False)
    with pytest.raises(InputError, match="too long"):
        plan_request("x" * 5000, use_model=False)


def test_plan_batch_without_model_matches_rules():
    outs = plan_batch([r for r, _ in REQUESTS], use_model=False)
    assert all(validate_plan(o.plan) == [] for o in outs if o.plan.steps)


def test_plan_model_round_trips_public_shape():
    p = Plan(steps=[PlanStep(id=1, skill="credit_lookup", args={"client": "C-1"})])
    assert p.plan_json() == {
        "steps": [{"id": 1, "skill": "credit_lookup", "args": {"client": "C-1"}, "depends_on": []}]
    }


# ------------------------------------------------------------------------------------------ CLI
def _cli(*args, home):
    env = {**os.environ, "FINCOPILOT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "fincopilot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_plan_json_stdout_is_only_the_plan(isolated_home):
    res = _cli(
        "plan",
        "Client C-1042 wants HY-7: check credit and summarize the HY-7 report",
        "--json",
        "--no-model",
        home=isolated_home,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)  # the whole stdout parses
    assert set(data) == {"steps", "direct_answer", "source", "backend"} and data["source"] == "rules"
    assert [s["skill"] for s in data["steps"]][:2] == ["credit_lookup", "report_summary"]
    assert all(set(s) == {"id", "skill", "args", "depends_on"} for s in data["steps"])


def test_plan_cli_bad_input_is_one_line(isolated_home):
    res = _cli("plan", "   ", "--json", "--no-model", home=isolated_home)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().splitlines()[-1] == "error: the request is empty"


def test_a_valid_model_plan_numbered_from_2_is_renumbered_from_1():
    from fincopilot.agents.planner import renumbered

    plan = Plan(
        steps=[
            PlanStep(id=2, skill="credit_lookup", args={"client": "C-1042"}),
            PlanStep(
                id=5,
                skill="compliance_check",
                depends_on=[2],
                args={"text": QUOTE_REF, "client": "$2.client_id", "product": "HY-7"},
            ),
        ]
    )
    out = renumbered(plan)
    assert [s.id for s in out.steps] == [1, 2] and out.steps[1].depends_on == [1]
    assert out.steps[1].args["client"] == "$1.client_id" and out.steps[1].args["text"] == QUOTE_REF
    assert validate_plan(out) == []


def test_plan_request_returns_the_model_plan_numbered_from_1():
    two = {"steps": [{"id": 2, "skill": "credit_lookup", "args": {"client": "C-1042"}, "depends_on": []}]}
    gw, _ = fake_gateway(lambda messages, schema: json.dumps(two))
    out = plan_request("What is the credit grade of client C-1042?", gateway=gw)
    assert out.source == "model" and [(s.id, s.skill) for s in out.plan.steps] == [(1, "credit_lookup")]
