"""Fine-tuning through the real embedded SmolLM2: a few LoRA steps on a tiny corpus.

The corpus is four compliance-flag examples with short prompts, so a step takes well under a second;
the base model loads once per session (`load_base`'s cache) and each run trains a private copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import pytest
from pydantic import BaseModel

from fincopilot.config import BackendSpec, settings
from fincopilot.errors import ConfigError, InputError
from fincopilot.models.messages import Message
from fincopilot.models.trainset import SkillTask

pytestmark = pytest.mark.model

# long enough (> 32 tokens) that the shared-prefix path of training is exercised
SYSTEM = (
    "You are a compliance officer at a bank. Flag every phrase in the advisor's text that promises or "
    "guarantees a return. Quote each phrase exactly as written. If there is none, return an empty list. "
    "Answer with JSON."
)

TEXTS = [
    ("This fund is guaranteed to return 8% a year.", "guaranteed_return", "guaranteed to return 8%"),
    ("The HY-7 bond fund is a balanced product.", None, None),
    ("本产品保本保收益，年化6%。", "guaranteed_return", "保本保收益"),
    ("Past performance does not guarantee future results.", None, None),
]


def _corpus(path: Path) -> Path:
    lines = []
    for text, category, quote in TEXTS:
        flags = [{"category": category, "quote": quote}] if category else []
        lines.append(
            json.dumps(
                {
                    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
                    "completion": json.dumps({"flags": flags}, ensure_ascii=False),
                },
                ensure_ascii=False,
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _opts(data: Path, out: Path, max_steps: int, **hyper):
    from fincopilot.models.adapter_card import Hyperparameters
    from fincopilot.models.finetune import FinetuneOptions

    hp = {
        "rank": 8,
        "alpha": 16,
        "learning_rate": 5e-3,
        "batch_size": 2,
        "epochs": 4,
        "max_steps": max_steps,
        "save_every": 2,
        "max_seq_len": 160,
        "warmup_steps": 0,
    }
    hp.update(hyper)
    return FinetuneOptions(
        skill="compliance_check",
        base="smollm2-135m",
        data=data,
        out=out,
        evaluate=False,
        hyper=Hyperparameters(**hp),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One 4-step run: (options, result)."""
    from fincopilot.evals.corpus import run_finetune as finetune

    root = tmp_path_factory.mktemp("finetune")
    data = _corpus(root / "corpus.jsonl")
    opts = _opts(data, root / "adapter", max_steps=4)
    return opts, finetune(opts, progress=False)


def test_adapter_folder_and_card_are_written(tiny):
    _opts, result = tiny
    out = result.out
    for name in ("adapter_model.safetensors", "adapter_config.json", "card.json", "README.md", "loss.png"):
        assert (out / name).is_file(), name
    card = json.loads((out / "card.json").read_text())
    assert card["backend_id"] == "smollm2-135m+compliance_check-lora"
    assert card["base_model"] == "embedded:smollm2-135m"
    assert card["steps"] == 4 and len(card["loss_curve"]) == 4
    assert card["corpus_sources"] == {"file": 4} and len(card["data_hash"]) == 16
    assert card["hyperparameters"]["rank"] == 8
    assert (
        json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
        == "embedded:smollm2-135m"
    )
    # lr 5e-3 on four examples: the completion loss falls
    losses = [loss for _, loss in card["loss_curve"]]
    assert min(losses[2:]) < losses[0]


def test_adapter_loads_through_the_backend_and_changes_outputs(tiny):
    import torch

    from fincopilot.models.backends.transformers import chat_prompt
    from fincopilot.models.registry import build_backend

    _, result = tiny
    # the transformers kind: the logits are compared in torch (the default llamacpp kind serving the same
    # adapter as GGUF LoRA is tested in test_models_llamacpp)
    base_spec = settings().backend("smollm2-135m").model_copy(update={"kind": "transformers"})
    base = build_backend(base_spec)
    tuned = build_backend(base_spec.model_copy(update={"id": "tuned", "adapter": str(result.out)}))
    prompt = [Message(role="system", content=SYSTEM), Message(role="user", content=TEXTS[0][0])]
    tok = base.loaded.tokenizer
    ids = tok(chat_prompt(tok, prompt), return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        a = base.loaded.model(**ids).logits[0, -1]
        b = tuned.loaded.model(**ids).logits[0, -1]
    assert (a - b).abs().max().item() > 1e-2
    # the shared base is untouched by training and by the adapter backend
    assert not any("lora" in name for name, _ in base.loaded.model.named_parameters())
    # and greedy text differs (short, unconstrained: the point is that generation goes through the adapter)
    said = {b.id: b.complete(prompt, max_tokens=12).text for b in (base, tuned)}
    assert said["smollm2-135m"] != said["tuned"], said
    tuned.close()


def test_shared_prefix_loss_equals_the_full_forward(tiny):
    import torch
    from peft import PeftModel

    from fincopilot.evals.corpus import skill_task
    from fincopilot.models.backends.transformers import load_base
    from fincopilot.models.finetune import _tokenize, batch_loss, shared_prefix_len
    from fincopilot.models.trainset import load_corpus_file

    opts, result = tiny
    model, tok = load_base("embedded:smollm2-135m", fresh=True)
    model = PeftModel.from_pretrained(model, str(result.out))
    rows = _tokenize(load_corpus_file(opts.data, skill_task("compliance_check")), tok, 256)
    prefix = shared_prefix_len(rows)
    assert prefix >= 32
    with torch.no_grad():
        full = batch_loss(model, rows, tok.pad_token_id, 0)
        shared = batch_loss(model, rows, tok.pad_token_id, prefix)
    assert float(shared) == pytest.approx(float(full), abs=1e-4)


def test_resume_continues_from_the_checkpoint(tiny, tmp_path):
    from fincopilot.evals.corpus import run_finetune as finetune

    opts, full = tiny
    first = finetune(_opts(opts.data, tmp_path / "a", max_steps=2), progress=False)
    assert (
        first.card.steps == 2 and (tmp_path / "a" / "checkpoints" / "step-000002" / "optimizer.pt").is_file()
    )
    second = finetune(_opts(opts.data, tmp_path / "a", max_steps=4), progress=False)
    assert second.resumed_from == 2 and second.card.steps == 4
    assert second.card.loss_curve[:2] == first.card.loss_curve
    # with the optimizer state restored, 2 + 2 steps equal 4 straight steps (seeds are fixed)
    for (_, got), (_, want) in zip(second.card.loss_curve, full.card.loss_curve):
        assert got == pytest.approx(want, abs=2e-3)


def test_a_chosen_checkpoint_exports_as_the_adapter_its_max_steps_would_write(tiny, tmp_path):
    from fincopilot.errors import InputError
    from fincopilot.models.finetune import export_checkpoint

    _, result = tiny
    out = tmp_path / "step2"
    card = export_checkpoint(result.out, 2, out)
    assert card.steps == 2 and card.hyperparameters.max_steps == 2 and card.heldout is None
    assert card.loss_curve == result.card.loss_curve[:2] and card.final_loss == result.card.loss_curve[1][1]
    assert card.command.endswith(" --max-steps 2") and "--max-steps 4" not in card.command
    weights = result.out / "checkpoints" / "step-000002" / "adapter_model.safetensors"
    assert (out / "adapter_model.safetensors").read_bytes() == weights.read_bytes()
    for name in ("adapter_config.json", "card.json", "README.md", "loss.png"):
        assert (out / name).is_file(), name
    assert "--max-steps 2" in (out / "README.md").read_text()
    with pytest.raises(InputError, match=r"no checkpoint of step 3 .*kept: 2, 4"):
        export_checkpoint(result.out, 3, tmp_path / "none")


def test_resume_refuses_a_checkpoint_from_other_data(tiny, tmp_path):
    from fincopilot.evals.corpus import run_finetune as finetune

    opts, _ = tiny
    finetune(_opts(opts.data, tmp_path / "a", max_steps=1, save_every=1), progress=False)
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(opts.data.read_text().splitlines()[:3]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="different run .*data_hash.*--no-resume"):
        finetune(_opts(other, tmp_path / "a", max_steps=1), progress=False)
    fresh = finetune(
        _opts(other, tmp_path / "a", max_steps=1).model_copy(update={"resume": False}), progress=False
    )
    assert fresh.resumed_from is None and fresh.card.examples == 3


def test_completion_outside_the_grammar_is_refused(tmp_path):
    from fincopilot.evals.corpus import run_finetune as finetune

    data = tmp_path / "bad.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": "x"}], "completion": '{"flags":[]}'}) + "\n"
    )
    with pytest.raises(InputError, match="file-1.*not a complete _Flags JSON"):
        finetune(_opts(data, tmp_path / "a", max_steps=1), progress=False)


def test_adapter_on_another_base_is_refused(tiny):
    from fincopilot.models.finetune import check_adapter_base

    _, result = tiny
    check_adapter_base(result.out, settings().backend("smollm2-135m"))
    other = BackendSpec(id="qwen", kind="transformers", model="/models/qwen2.5-0.5b.gguf")
    with pytest.raises(ConfigError, match="trained on base model 'embedded:smollm2-135m'.*'qwen'"):
        check_adapter_base(result.out, other)


def test_heldout_evaluation_scores_base_and_adapter(tiny):
    from fincopilot.evals.corpus import skill_task
    from fincopilot.models.finetune import evaluate_heldout
    from fincopilot.models.registry import build_backend

    _, result = tiny
    spec = settings().backend("smollm2-135m")
    backends = [
        build_backend(spec),
        build_backend(spec.model_copy(update={"id": "tuned", "adapter": str(result.out)})),
    ]

    class Verdict(BaseModel):  # tightly bounded, so two greedy answers stay short on a shared CPU
        category: Literal["guaranteed_return", "none"]

    base_task = skill_task("compliance_check")
    task = SkillTask(
        skill="compliance_check",
        prompt=base_task.prompt,
        schema=lambda: Verdict,
        target=lambda i, r: None,
        max_tokens=16,
        score=lambda items, outs: {
            "accuracy": sum(
                (
                    o is not None
                    and o.category
                    == (it.reference["violations"][0]["category"] if it.reference["violations"] else "none")
                )
                for it, o in zip(items, outs)
            )
            / len(items)
        },
    )
    items = [
        SimpleNamespace(input={"text": t}, reference={"violations": [{"category": c}] if c else []})
        for t, c, _ in TEXTS[:2]
    ]
    held = evaluate_heldout(task, backends, items=items, progress=False)
    assert set(held.scores) == {"smollm2-135m", "tuned"} and held.items == 2
    for row in held.scores.values():
        assert 0.0 <= row["accuracy"] <= 1.0
