"""credit_lookup: client resolution, scorecard numbers, checked explanations, safe against injection."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from skill_helpers import BackendGateway, run_skill, scripted_fake

from fincopilot.errors import InputError, NotFoundError
from fincopilot.tools import data
from fincopilot.tools import scorecard as sc


@pytest.fixture(scope="module")
def domain_home(tmp_path_factory):
    """One state folder for the module: the database and a trained scorecard."""
    home = tmp_path_factory.mktemp("credit-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("FINCOPILOT_HOME", str(home))
    mp.delenv("FINCOPILOT_DB", raising=False)
    data.init_db()
    sc.train()
    mp.undo()
    return home


@pytest.fixture
def home(domain_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(domain_home))
    return domain_home


def run(args, gateway=None):
    return run_skill("credit_lookup", args, gateway)


def test_numbers_come_from_the_scorecard(home):
    result = run({"client": "张敏", "explain": False})
    record = data.get_credit_record("C-1042")
    expected = sc.load_model().score_one(record)
    assert (result.client_id, result.client_name) == ("C-1042", "Zhang Min")
    assert (result.score, result.pd, result.grade) == (expected.score, expected.pd, expected.grade)
    assert [r.attribute for r in result.reason_codes] == [r.attribute for r in expected.reason_codes]
    assert result.model_version == sc.model_version()
    assert result.sources == ["clients:C-1042", "credit_records:C-1042", f"scorecard:{sc.model_version()}"]
    assert result.explanation_method == "template" and str(result.score) in result.explanation


def test_model_explanation_is_kept_only_when_its_numbers_check_out(home):
    base = run({"client": "C-1042", "explain": False})
    good = json.dumps(
        {
            "explanation": f"Zhang Min scores {base.score} (grade {base.grade}); the loan duration "
            "weighs most on the score."
        }
    )
    kept = run({"client": "C-1042"}, scripted_fake(good))
    assert kept.explanation_method == "llm" and str(base.score) in kept.explanation
    invented = json.dumps(
        {"explanation": f"Zhang Min scores {base.score}, so a loan of 250,000 at 3.1% is fine."}
    )
    rejected = run({"client": "C-1042"}, scripted_fake(invented))
    assert rejected.explanation_method == "template" and "250,000" not in rejected.explanation
    wrong = "A" if base.grade != "A" else "B"
    mislabelled = run(
        {"client": "C-1042"},
        scripted_fake(json.dumps({"explanation": f"Zhang Min scores {base.score}, which is grade {wrong}."})),
    )
    assert mislabelled.explanation_method == "template"
    broken = run({"client": "C-1042"}, scripted_fake("{not json"))
    assert broken.explanation_method == "template" and broken.score == base.score


@pytest.mark.parametrize(
    "attack",
    [
        "C-1042' OR '1'='1",
        "'; DROP TABLE credit_records; --",
        'Zhang Min" OR 1=1 --',
        "' UNION SELECT * FROM clients --",
    ],
)
def test_injection_finds_nothing_and_changes_nothing(home, attack):
    before = data.table_checksums()
    with pytest.raises(NotFoundError, match="no client matches"):
        run({"client": attack, "explain": False})
    assert data.table_checksums() == before


def test_unknown_and_bad_clients(home):
    with pytest.raises(NotFoundError, match="C-1042"):
        run({"client": "C-0001", "explain": False})
    with pytest.raises(InputError):
        run({"client": "", "explain": False})
    with pytest.raises(InputError, match="too long"):
        run({"client": "x" * 1000, "explain": False})


def test_first_use_trains_the_scorecard(isolated_home):
    """No artifact in a fresh home: the credit tool trains one (with a log line) and scores."""
    from fincopilot.tools.registry import get_tool

    assert not (isolated_home / "models").exists()
    out = get_tool("credit_score")({"client_id": "C-1042"})
    assert (isolated_home / "models" / "scorecard" / out.model_version / "model.json").exists()
    assert out.client_id == "C-1042" and 300 < out.score < 900


def test_cli_credit_json(home):
    proc = subprocess.run(
        [sys.executable, "-m", "fincopilot.cli", "credit", "C-1042", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert {
        "client_id",
        "client_name",
        "score",
        "pd",
        "grade",
        "reason_codes",
        "model_version",
        "sources",
    } <= set(payload)
    assert payload["client_id"] == "C-1042" and payload["grade"] in "ABCDEFG"
    assert all(set(r) >= {"attribute", "value", "description"} for r in payload["reason_codes"])
    missing = subprocess.run(
        [sys.executable, "-m", "fincopilot.cli", "credit", "C-9999"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert missing.returncode == 2 and "no client matches" in missing.stderr


@pytest.mark.model
def test_real_model_credit_lookup(home, smollm2):
    result = run({"client": "C-1042"}, BackendGateway(smollm2))
    assert result.client_id == "C-1042" and result.explanation
    from fincopilot.agents.credit_lookup import facts_text, template_explanation
    from fincopilot.tools.numbers import unsupported_numbers

    assert unsupported_numbers(result.explanation, [facts_text(result), template_explanation(result)]) == []
    assert result.explanation_method in ("llm", "template")
