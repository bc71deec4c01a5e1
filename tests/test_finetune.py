"""Fine-tuning without the model: corpus files, base checks, adapter discovery, cards, metrics."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fincopilot.config import BackendSpec, settings, use_config
from fincopilot.errors import ConfigError, InputError, NotFoundError, UnknownBackendError
from fincopilot.evals.corpus import skill_task
from fincopilot.models.adapter_card import adapter_backends
from fincopilot.models.trainset import SkillTask, corpus_hash, load_corpus_file, render_target


def request_of(example) -> str:
    """The request of a planner training example (its last user turn without the entity note)."""
    return example.messages[-1].content.rsplit("\n(named: ", 1)[0]


def _flags_task() -> SkillTask:
    from fincopilot.agents.compliance_check import _Flags

    return SkillTask(
        skill="compliance_check",
        prompt=lambda inp: [{"role": "user", "content": inp["text"]}],  # type: ignore[list-item,dict-item]
        schema=lambda: _Flags,
        target=lambda inp, ref: _Flags.model_validate(ref) if ref else None,
        score=lambda items, outs: {},
    )


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- corpus files ---------------------------------------------------------------------------------


def test_corpus_file_reads_chat_and_item_lines(tmp_path):
    task = skill_task("compliance_check")
    path = _write(
        tmp_path / "c.jsonl",
        [
            json.dumps({"messages": [{"role": "user", "content": "hi"}], "completion": '{"flags": []}'}),
            "",
            json.dumps(
                {
                    "id": "x1",
                    "input": {"text": "This fund is guaranteed to return 8% a year."},
                    "reference": {},
                }
            ),
        ],
    )
    examples = load_corpus_file(path, task)
    assert [e.source for e in examples] == ["file", "file"]
    assert examples[1].id == "x1"
    # the item line went through the production prompt and was labelled by the rules
    assert examples[1].messages[0].role == "system"
    assert "guaranteed_return" in examples[1].completion
    assert (
        json.loads(examples[1].completion)["flags"][0]["quote"]
        in "This fund is guaranteed to return 8% a year."
    )


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (
            ['{"messages": [{"role": "user", "content": "a"}], "completion": "x"}', "{not json"],
            "line 2: not valid JSON",
        ),
        (['{"prompt": "a", "answer": "b"}'], "line 1: needs either 'messages' and 'completion'"),
        (['{"messages": [{"role": "robot", "content": "a"}], "completion": "x"}'], "line 1: messages.0.role"),
        (['{"messages": [], "completion": "x"}'], "line 1: messages"),
        (['{"messages": [{"role": "user", "content": "a"}], "completion": ""}'], "line 1: completion"),
        (["[1, 2]"], "line 1: expected a JSON object"),
        (
            ['{"input": {"text": "a"}, "reference": {}, "split": "heldout"}'],
            "line 1: held-out items must not",
        ),
        (['{"input": {}, "reference": {}}'], "line 1"),
    ],
)
def test_malformed_corpus_names_the_line(tmp_path, lines, needle):
    path = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(InputError) as err:
        load_corpus_file(path, skill_task("compliance_check"))
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_empty_or_missing_corpus_is_refused(tmp_path):
    empty = _write(tmp_path / "empty.jsonl", ["", "  "])
    with pytest.raises(InputError, match="has no examples"):
        load_corpus_file(empty, skill_task("compliance_check"))
    with pytest.raises(InputError, match="corpus file not found"):
        load_corpus_file(tmp_path / "nope.jsonl", skill_task("compliance_check"))


def test_unknown_skill_names_supported_ones():
    with pytest.raises(NotFoundError, match="supported skills: .*planner"):
        skill_task("astrology")


def test_render_target_matches_the_grammar_separators():
    from fincopilot.agents.compliance_check import _Flag, _Flags

    obj = _Flags(flags=[_Flag(category="misleading_claim", quote="稳赚不赔")])
    assert render_target(obj) == '{"flags": [{"category": "misleading_claim", "quote": "稳赚不赔"}]}'


def test_corpus_hash_depends_on_content_and_order(tmp_path):
    task = skill_task("compliance_check")
    path = _write(
        tmp_path / "c.jsonl",
        [
            json.dumps({"messages": [{"role": "user", "content": t}], "completion": '{"flags": []}'})
            for t in "ab"
        ],
    )
    examples = load_corpus_file(path, task)
    assert corpus_hash(examples) == corpus_hash(list(examples))
    assert corpus_hash(examples) != corpus_hash(examples[::-1])
    assert len(corpus_hash(examples)) == 16


# --- bases ------------------------------------------------------------------------------------------


def test_unknown_base_is_refused():
    from fincopilot.models.finetune import resolve_base

    with pytest.raises(UnknownBackendError, match="unknown backend 'gpt-17'.*smollm2-135m"):
        resolve_base("gpt-17")


def test_non_transformers_base_is_refused(tmp_path):
    from fincopilot.models.finetune import resolve_base

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'default_backend = "fake"\n[[backends]]\nid = "fake"\nkind = "scripted"\nmodel = "scripted"\n',
        encoding="utf-8",
    )
    use_config(cfg)
    with pytest.raises(
        ConfigError,
        match="'scripted' backend; LoRA fine-tuning needs a local 'transformers' or 'llamacpp' base",
    ):
        resolve_base("fake")


def test_cli_reports_unknown_base_as_one_line(tmp_path):
    from typer.testing import CliRunner

    from fincopilot.cli import app

    result = CliRunner().invoke(app, ["finetune", "--skill", "planner", "--base", "nope", "--no-eval"])
    assert isinstance(result.exception, UnknownBackendError)
    assert "unknown backend 'nope'" in str(result.exception)


# --- adapter discovery and base matching -------------------------------------------------------------


def _fake_adapter(
    folder: Path,
    *,
    base_model: str = "embedded:smollm2-135m",
    base: str = "smollm2-135m",
    skill: str = "planner",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": base_model}), encoding="utf-8"
    )
    card = {
        "backend_id": f"{base}+{skill}-lora",
        "base_backend": base,
        "base_model": base_model,
        "skill": skill,
    }
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


SHIPPED = [
    "smollm2-135m",
    "smollm2-135m+planner-lora",
    "smollm2-135m+report_summary-lora",
]  # the default config's backends


def test_adapters_in_home_register_as_backends(isolated_home):
    assert [b.id for b in settings().backends] == SHIPPED
    folder = _fake_adapter(isolated_home / "adapters" / "compliance", skill="compliance_check")
    spec = settings().backend("smollm2-135m+compliance_check-lora")  # picked up without a restart
    assert spec.skills == ["compliance_check"]  # an adapter serves only the skill it was trained for
    base = settings().backend("smollm2-135m")
    assert spec.adapter == str(folder)
    assert (spec.kind, spec.model, spec.max_concurrency) == (base.kind, base.model, base.max_concurrency)
    assert base.adapter is None


def test_adapter_with_mismatched_base_is_skipped_with_reason(isolated_home):
    _fake_adapter(
        isolated_home / "adapters" / "compliance", base_model="/models/qwen.gguf", skill="compliance_check"
    )
    with pytest.raises(
        UnknownBackendError, match="trained on model '/models/qwen.gguf'.*runs 'embedded:smollm2-135m'"
    ):
        settings().backend("smollm2-135m+compliance_check-lora")
    _fake_adapter(isolated_home / "adapters" / "other+planner-lora", base="other")
    specs, problems = adapter_backends(settings())
    assert specs == []
    assert "base backend 'other' is not configured" in problems["other+planner-lora"]


def test_broken_card_does_not_break_settings(isolated_home):
    folder = isolated_home / "adapters" / "junk"
    folder.mkdir(parents=True)
    (folder / "card.json").write_text("{oops", encoding="utf-8")
    assert [b.id for b in settings().backends] == SHIPPED


def test_check_adapter_base_refuses_a_different_model(tmp_path):
    from fincopilot.models.finetune import check_adapter_base

    spec = BackendSpec(id="smollm2-135m", kind="transformers", model="embedded:smollm2-135m")
    good = _fake_adapter(tmp_path / "good")
    check_adapter_base(good, spec)  # same base: accepted
    bad = _fake_adapter(tmp_path / "bad", base_model="HuggingFaceTB/SmolLM2-360M-Instruct")
    with pytest.raises(ConfigError, match="trained on base model 'HuggingFaceTB/SmolLM2-360M-Instruct'"):
        check_adapter_base(bad, spec)
    (bad / "card.json").unlink()  # without a card, peft's adapter_config is checked
    with pytest.raises(ConfigError, match="SmolLM2-360M"):
        check_adapter_base(bad, spec)
    with pytest.raises(ConfigError, match="LoRA adapter not found"):
        check_adapter_base(tmp_path / "missing", spec)


# --- metrics and card ------------------------------------------------------------------------------


def test_compliance_metrics_count_categories_with_verbatim_quotes():
    from fincopilot.agents.compliance_check import _Flag, _Flags

    task = skill_task("compliance_check")
    items = [
        SimpleNamespace(
            input={"text": "Guaranteed 8% a year."},
            reference={"violations": [{"category": "guaranteed_return"}]},
        ),
        SimpleNamespace(input={"text": "A balanced fund."}, reference={"violations": []}),
    ]
    perfect = [_Flags(flags=[_Flag(category="guaranteed_return", quote="Guaranteed 8%")]), _Flags()]
    assert task.score(items, perfect)["category_f1"] == 1.0
    invented = [_Flags(flags=[_Flag(category="guaranteed_return", quote="not in the text")]), None]
    assert task.score(items, invented)["category_recall"] == 0.0


def test_model_card_has_scores_and_command(tmp_path):
    from fincopilot.models.adapter_card import AdapterCard, HeldoutScores, Hyperparameters
    from fincopilot.models.finetune import model_card, plot_loss

    held = HeldoutScores(
        items=10,
        headline="skill_set_f1",
        seconds=12.0,
        scores={"smollm2-135m": {"skill_set_f1": 0.4}, "smollm2-135m+planner-lora": {"skill_set_f1": 0.8}},
    )
    card = AdapterCard(
        backend_id="smollm2-135m+planner-lora",
        skill="planner",
        base_backend="smollm2-135m",
        base_model="embedded:smollm2-135m",
        data_hash="abc",
        corpus_sources={"train_split": 3},
        examples=3,
        hyperparameters=Hyperparameters(),
        steps=2,
        epochs_done=1.0,
        train_seconds=3.0,
        final_loss=0.5,
        loss_curve=[(1, 1.0), (2, 0.5)],
        heldout=held,
        command="fincopilot finetune --skill planner --base smollm2-135m",
        created_at="now",
        versions={},
    )
    text = model_card(card)
    assert "| smollm2-135m+planner-lora | 0.800 |" in text
    assert "fincopilot finetune --skill planner --base smollm2-135m" in text
    assert "base_model: embedded:smollm2-135m" in text
    plot_loss(card.loss_curve, tmp_path / "loss.png", "t")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the planner corpus --------------------------------------------------------------------------------


def test_planner_corpus_never_contains_heldout_items():
    from fincopilot.evals.corpus import build_corpus
    from fincopilot.evals.datasets import load_items

    corpus = build_corpus("planner")
    heldout = {i.id for i in load_items("planner", "heldout")}
    train = {i.id for i in load_items("planner", "train")}
    from_split = {e.id for e in corpus.examples if e.source == "train_split"}
    assert from_split and from_split <= train and not from_split & heldout
    heldout_requests = {i.input["request"] for i in load_items("planner", "heldout")}
    assert not any(request_of(e) in heldout_requests for e in corpus.examples if e.source == "train_split")
    assert corpus.sources["domain"] > 0 and corpus.dataset_version
    # the prompt is the production prompt, the target parses as the production schema
    from fincopilot.agents.planner import planner_messages, planner_schema

    ex = corpus.examples[0]
    assert ex.messages == planner_messages(request_of(ex))
    planner_schema().model_validate_json(ex.completion)
    assert build_corpus("planner").data_hash == corpus.data_hash  # deterministic


def test_planner_domain_examples_are_the_generated_train_split_only():
    # the domain source is evals/sets/planner/train.jsonl; no validation or test frame enters a corpus
    from fincopilot.evals.planner_corpus import load_split_frames

    examples = skill_task("planner").domain()
    assert len(examples) > 1000 and all(item_id.startswith("planner-train-") for item_id, _, _ in examples)
    held_out = load_split_frames("validation") | load_split_frames("test")
    assert held_out and not held_out & load_split_frames("train")


def test_planner_metrics():
    from fincopilot.agents.planner import planner_schema

    task = skill_task("planner")
    item = SimpleNamespace(
        input={"request": "Check the credit of client C-1042 and summarize the HY-7 report."},
        reference={"skills": ["credit_lookup", "report_summary"], "plan": {}},
    )
    half = planner_schema().model_validate(
        {"steps": [{"id": 1, "skill": "credit_lookup", "args": {"client": "C-1042"}, "depends_on": []}]}
    )
    full = planner_schema().model_validate(
        {
            "steps": [
                {"id": 1, "skill": "credit_lookup", "args": {"client": "C-1042"}, "depends_on": []},
                {"id": 2, "skill": "report_summary", "args": {"product": "HY-7"}, "depends_on": []},
            ]
        }
    )
    invented = planner_schema().model_validate(
        {
            "steps": [
                {"id": 1, "skill": "credit_lookup", "args": {"client": "C-9999"}, "depends_on": []},
                {"id": 2, "skill": "report_summary", "args": {"product": "HY-7"}, "depends_on": []},
            ]
        }
    )
    s = task.score([item] * 4, [full, half, invented, None])
    assert s["skill_set_f1"] == pytest.approx((1 + 2 / 3 + 1 + 0) / 4)
    # half is a valid plan (a missing step costs skill-set F1, it is no longer a validity gate: issue #11);
    # invented fails grounding; None is no plan
    assert s["validity_before_repair"] == pytest.approx(2 / 4)
    assert s["skill_set_exact"] == pytest.approx(2 / 4)


def test_heldout_scoring_with_a_scripted_fake_backend():
    """Plumbing only (a scripted FAKE backend); the real model is scored in test_finetune_model.py."""
    from fincopilot.evals.datasets import dataset_version, load_items
    from fincopilot.models.backends.scripted import ScriptedBackend
    from fincopilot.models.finetune import evaluate_heldout

    credit_only = (
        '{"steps": [{"id": 1, "skill": "credit_lookup", "args": {"client": "C-1042"}, "depends_on": []}]}'
    )
    fake = ScriptedBackend.from_function("fake-planner", lambda messages, schema: credit_only)
    broken = ScriptedBackend.from_function("fake-broken", lambda messages, schema: "not json")
    held = evaluate_heldout(
        skill_task("planner"),
        [fake, broken],
        items=load_items("planner", "heldout"),
        limit=6,
        progress=False,
        dataset_version=dataset_version("planner"),
    )
    assert held.items == 6 and held.dataset_version
    # evenly spaced: the limited sample is not just the first kind in the file
    kinds = {i.metadata.get("kind") for i in load_items("planner", "heldout")[::6]}
    assert len(kinds) > 1
    assert 0 < held.scores["fake-planner"]["skill_set_f1"] < 1
    assert held.scores["fake-broken"] == {
        "validity_before_repair": 0.0,
        "skill_set_f1": 0.0,
        "skill_set_exact": 0.0,
    }


def test_backend_refuses_a_configured_adapter_trained_on_another_base(tmp_path):
    """An adapter named directly in a config file is checked too, before the base model is even loaded."""
    from fincopilot.models.registry import build_backend

    bad = _fake_adapter(tmp_path / "bad", base_model="HuggingFaceTB/SmolLM2-360M-Instruct")
    spec = BackendSpec(id="custom-lora", kind="transformers", model="embedded:smollm2-135m", adapter=str(bad))
    with pytest.raises(ConfigError, match="trained on base model 'HuggingFaceTB/SmolLM2-360M-Instruct'"):
        _ = build_backend(spec).loaded
