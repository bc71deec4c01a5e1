"""What the framework needs from a skill comes from its declaration (issue #13): a skill declared here, in a
test, gets its recommendation roles, per-category F1 and fine-tuning task picked up with no framework edit;
the framework modules that use them name no built-in skill."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel

from fincopilot.agents.skills import Evaluation, PerCategory, skill, unregister
from fincopilot.errors import InputError, NotFoundError
from fincopilot.evals.corpus import skill_task, supported_skills
from fincopilot.evals.metrics import ItemScore, aggregate, category_counts, category_f1
from fincopilot.graphs.advisor import recommendation
from fincopilot.models.messages import Message
from fincopilot.models.trainset import SkillTask

ROOT = Path(__file__).resolve().parents[1]
BUILT_INS = ("credit_lookup", "report_summary", "knowledge_qa", "compliance_check")
FRAMEWORK = ("graphs/advisor.py", "graphs/gate.py", "evals/arena.py", "evals/metrics.py", "evals/corpus.py")


class Args(BaseModel):
    who: str = ""
    code: str = ""
    text: str = ""


class Out(BaseModel):
    labels: list[str] = []


def _task() -> SkillTask:
    return SkillTask(
        skill="tagger_test",
        prompt=lambda inp: [Message(role="user", content=inp["text"])],
        schema=lambda: Out,
        target=lambda inp, ref: Out(labels=ref.get("labels", [])),
        score=lambda items, outputs: {"exact": 1.0},
    )


@pytest.fixture
def test_skills():
    """Three skills declared in this test: a client lookup, a product lookup, and a tagger with per-category
    F1 and a fine-tuning task."""

    @skill(name="whois_test", args=Args, output=Out, recommends={"client": "who"})
    def whois(args, ctx):
        return Out()

    @skill(name="fund_test", args=Args, output=Out, recommends={"product": "code"})
    def fund(args, ctx):
        return Out()

    per = PerCategory(
        names=("red", "blue"), gold=lambda ref: ref["labels"], predicted=lambda out: out.get("labels", [])
    )

    @skill(name="tagger_test", args=Args, output=Out, evaluation=Evaluation(per_category=per), finetune=_task)
    def tagger(args, ctx):
        return Out()

    yield
    for name in ("whois_test", "fund_test", "tagger_test"):
        unregister(name)


def _step(i: int, name: str, **args) -> tuple[dict, dict]:
    return {"id": i, "skill": name, "args": args}, {"ok": True, "args": args}


def _plan(*steps: tuple[dict, dict]) -> tuple[dict, dict]:
    return {"steps": [s for s, _ in steps]}, {str(s["id"]): r for s, r in steps}


def test_a_declared_skills_arguments_make_the_recommendation(test_skills):
    plan, results = _plan(
        _step(1, "whois_test", who="C-2001"),
        _step(2, "fund_test", code="GB-1"),
        _step(3, "fund_test", code="HY-7"),
        _step(4, "fund_test", code="GB-1"),
        _step(5, "tagger_test", text="declares nothing"),
    )
    assert recommendation(plan, results) == {"client": "C-2001", "products": ["GB-1", "HY-7"]}


def test_failed_steps_and_a_second_client_make_no_recommendation(test_skills):
    plan, results = _plan(_step(1, "whois_test", who="C-2001"), _step(2, "fund_test", code="GB-1"))
    results["2"]["ok"] = False
    assert recommendation(plan, results) is None
    plan, results = _plan(
        _step(1, "whois_test", who="C-2001"),
        _step(2, "whois_test", who="C-1042"),
        _step(3, "fund_test", code="X"),
    )
    assert recommendation(plan, results) is None


def test_an_unknown_recommendation_role_is_refused_at_declaration():
    with pytest.raises(InputError, match="recommends roles \\['account'\\]"):
        skill(name="bad_role_test", args=Args, output=Out, recommends={"account": "who"})  # type: ignore[dict-item]


def test_a_declared_per_category_metric_gives_f1_per_category(test_skills):
    items = [({"labels": ["red"]}, {"labels": ["red"]}), ({"labels": ["red"]}, {"labels": ["blue"]})]
    scores = [ItemScore(score=1.0, metrics=category_counts("tagger_test", ref, out)) for ref, out in items]
    agg = category_f1(aggregate("tagger_test", scores))
    assert agg["f1:red"] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))
    assert agg["f1:blue"] == 0.0
    assert category_counts("whois_test", {"labels": ["red"]}, {"labels": ["red"]}) == {}


def test_a_declared_finetune_task_is_supported(test_skills):
    assert "tagger_test" in supported_skills() and "planner" in supported_skills()
    assert skill_task("tagger_test").skill == "tagger_test"
    with pytest.raises(NotFoundError, match="tagger_test"):  # the message lists it among the supported
        skill_task("whois_test")


def _code_names(path: Path) -> set[str]:
    """The string constants (docstrings left out) and imported module names of a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    out = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    out -= {n.value for n in ast.walk(tree) if id(n) in docstrings}
    out |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    out |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return out


@pytest.mark.parametrize("rel", FRAMEWORK)
def test_framework_code_names_no_built_in_skill(rel):
    names = _code_names(ROOT / rel)
    found = sorted({b for b in BUILT_INS for n in names if b in n})
    assert not found, f"{rel} names built-in skills {found}"
