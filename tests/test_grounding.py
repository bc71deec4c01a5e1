"""Grounding of generated text in meaning (units, entities, attributes), not only numbers: the checker on
hand-written texts, the credit worker's validator with a scripted FAKE model, and the arena metric."""

from __future__ import annotations

import json

import pytest
from skill_helpers import prepare_home, run_skill, scripted_fake

from fincopilot.evals.metrics import score_item
from fincopilot.tools.grounding import ungrounded, unit_errors, unsupported_words

FACTS = (
    "Client Zhang Min (C-1042). Score 585. Probability of default 28.00%. Grade B. Main adverse factors: "
    "loan duration (months): 36 scores 35 points below the best bin; credit history: existing credits paid "
    "back duly till now scores 15 points below the best bin."
)


def test_a_flipped_direction_is_a_claim_error():
    # what the real SmolLM2 wrote in the arena example: the facts say 35 points BELOW the best bin
    text = "The client's score of 585 is 35 points above the best bin."
    assert ungrounded(text, [FACTS]) == ["'35 points above': the source states the opposite direction"]
    assert ungrounded("The loan duration scores 35 points below the best bin.", [FACTS]) == []


def test_invented_entities_and_attributes_are_unsupported():
    text = "Zhang Min is a Chinese banker with a history of high-risk lending; score 585, grade B."
    assert unsupported_words(text, [FACTS]) == ["chinese", "banker", "lending"]
    assert ungrounded(text, [FACTS]) == ["not in the source: chinese, banker, lending"]
    assert ungrounded("Zhang Min's loan duration lowers the score.", [FACTS]) == []


def test_a_number_in_the_wrong_unit_is_a_unit_error():
    assert unit_errors("Zhang Min scores 585 with a PD of 28 points.", [FACTS]) == [
        "'PD of 28 points': a PD is a probability (percent), not points",
        "'28 points': the source gives 28 in percent, not points",
    ]
    assert unit_errors("Her 585 percent score", [FACTS]) == [
        "'585 percent': the source gives 585 in points, not percent"
    ]
    assert unit_errors("a 28% probability of default and a score of 585", [FACTS]) == []
    assert unit_errors("a PD of 3 points", [FACTS]) == [
        "'PD of 3 points': a PD is a probability (percent), not points"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Zhang Min scores 585 points (grade B), an estimated 28.00% probability of default.",
        "The client's score of 585 (grade B) is mainly lowered by the loan duration and the credit history.",
        "Zhang Min has grade B: the long loan duration weighs most on the score.",
    ],
)
def test_faithful_paraphrases_pass(text):
    assert ungrounded(text, [FACTS]) == []


REFERENCE = {"score": 585, "grade": "B", "pd": 0.28}
OUTPUT = {
    "client_id": "C-1042",
    "client_name": "Zhang Min",
    "score": 585,
    "grade": "B",
    "pd": 0.28,
    "reason_codes": [
        {
            "attribute": "duration",
            "value": "36",
            "description": "loan duration (months): 36 scores 35 points below the best bin",
        }
    ],
}


def score_credit(reference, output):
    return score_item("credit_lookup", reference, output)


def test_arena_metric_fails_an_invented_explanation_even_with_faithful_numbers():
    invented = score_credit(
        REFERENCE,
        {
            **OUTPUT,
            "explanation": "Zhang Min, a Chinese banker with a history of "
            "high-risk lending, scores 585 (grade B).",
        },
    )
    assert invented.metrics["explanation_faithfulness"] == 1.0  # every number is right...
    assert invented.metrics["explanation_grounded"] == 0.0  # ...but the claims are invented
    wrong_unit = score_credit(
        REFERENCE, {**OUTPUT, "explanation": "Zhang Min scores 585, a PD of 28 points."}
    )
    assert wrong_unit.metrics["explanation_grounded"] == 0.0
    good = score_credit(
        REFERENCE,
        {**OUTPUT, "explanation": "Zhang Min scores 585 (grade B), mainly because of the loan duration."},
    )
    assert good.metrics["explanation_grounded"] == 1.0 and good.score == 1.0
    assert invented.score == wrong_unit.score == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def credit_home(tmp_path_factory):
    return prepare_home(tmp_path_factory.mktemp("grounding-home"))


def test_credit_worker_rejects_invented_claims_and_credits_the_template(credit_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(credit_home))
    base = run_skill("credit_lookup", {"client": "C-1042", "explain": False})
    invented = json.dumps(
        {
            "explanation": f"{base.client_name} is a Chinese banker with a history of high-risk "
            f"lending and scores {base.score} (grade {base.grade})."
        }
    )
    out = run_skill("credit_lookup", {"client": "C-1042"}, scripted_fake(invented))
    assert out.explanation_method == "template" and out.produced_by == "template"
    assert "banker" not in out.explanation
    for pd in (f"{base.pd * 100:.2f}", f"{round(base.pd * 100)}"):  # the PD's own figure, or rounded
        pd_points = json.dumps(
            {
                "explanation": f"{base.client_name} scores {base.score} (grade {base.grade}), a PD "
                f"of {pd} points."
            }
        )
        assert (
            run_skill("credit_lookup", {"client": "C-1042"}, scripted_fake(pd_points)).produced_by
            == "template"
        )
    good = json.dumps(
        {
            "explanation": f"{base.client_name} scores {base.score} (grade {base.grade}); the loan "
            "duration weighs most on the score."
        }
    )
    kept = run_skill("credit_lookup", {"client": "C-1042"}, scripted_fake(good))
    assert kept.explanation_method == "llm" and kept.produced_by == "scripted-fake"
