"""`vllm`: an in-process `vllm.LLM` on a CUDA GPU, with guided JSON decoding, batching and LoRA.

Install with `pip install 'fincopilot[vllm]'` on a machine with a CUDA GPU; the import is guarded so
the rest of FinCopilot works without it. `model` is a model folder, a hub name already in the local
cache, a `.gguf` file, or `embedded:smollm2-135m`. Options (`[backends.options]`):

- `engine`: keyword arguments for `vllm.LLM` (e.g. `gpu_memory_utilization`, `max_model_len`, `dtype`).
- `tokenizer`: the tokenizer folder for GGUF models (vLLM reads weights, not always the tokenizer, from GGUF).
- `max_lora_rank` (default 16) when `adapter` is set; the adapter is applied per request (`LoRARequest`),
  so one engine serves the base and every adapter on it.

Guided decoding uses vLLM's structured-output API: `StructuredOutputsParams(json=...)` on recent
releases, `GuidedDecodingParams(json=...)` on older ones (both are detected). vLLM's own default
structured-output engine is xgrammar, the same library the transformers backend uses.
vLLM's offline `LLM` has no token streaming, so `stream` yields the whole answer once.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendError, ConfigError
from fincopilot.models.backends.transformers import resolve_model_ref
from fincopilot.models.base import BaseBackend
from fincopilot.models.messages import Message, Usage
from fincopilot.models.registry import register_kind
from fincopilot.models.structured import fit_json_schema, max_json_chars, truncated_error

INSTALL_HINT = "pip install 'fincopilot[vllm]' (needs a CUDA GPU)"

_ENGINES: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
_ENGINES_LOCK = threading.Lock()


def vllm_available() -> bool:
    """True when vLLM is importable and a CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def structured_params(json_schema: dict[str, Any]) -> dict[str, Any]:
    """The SamplingParams keyword for guided JSON, for whichever vLLM API is installed."""
    import vllm.sampling_params as sp

    if hasattr(sp, "StructuredOutputsParams"):  # vLLM >= 0.10.2
        return {"structured_outputs": sp.StructuredOutputsParams(json=json_schema)}
    if hasattr(sp, "GuidedDecodingParams"):  # vLLM 0.6 - 0.10
        return {"guided_decoding": sp.GuidedDecodingParams(json=json_schema)}
    raise ConfigError("this vLLM version has neither StructuredOutputsParams nor GuidedDecodingParams")


@register_kind("vllm")
class VLLMBackend(BaseBackend):
    """An in-process vLLM engine (one per model and engine settings, shared by backends)."""

    def __init__(self, spec: BackendSpec):
        super().__init__(spec)
        if importlib.util.find_spec("vllm") is None:
            raise ConfigError(
                f"backend {spec.id!r} has kind 'vllm' but vLLM is not installed: {INSTALL_HINT}"
            )
        if (
            spec.adapter is not None
            and not (Path(spec.adapter).expanduser() / "adapter_config.json").is_file()
        ):
            raise ConfigError(f"backend {spec.id!r}: LoRA adapter not found: {spec.adapter}")
        self._engine_args: dict[str, Any] = dict(spec.options.get("engine", {}))
        self._lora: Any = None

    def _engine(self) -> tuple[Any, threading.Lock]:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"backend {self.id!r}: vLLM needs a CUDA GPU and none is visible")
        from vllm import LLM

        folder, gguf = resolve_model_ref(self.spec.model)
        model = str(Path(folder) / gguf) if gguf else folder
        args = dict(self._engine_args)
        if self.spec.options.get("tokenizer"):
            args["tokenizer"] = self.spec.options["tokenizer"]
        elif gguf:
            args.setdefault("tokenizer", folder)
        if self.spec.adapter:
            args.update(enable_lora=True, max_lora_rank=int(self.spec.options.get("max_lora_rank", 16)))
        key = (model, repr(sorted(args.items())))
        with _ENGINES_LOCK:
            if key not in _ENGINES:
                try:
                    _ENGINES[key] = (LLM(model=model, **args), threading.Lock())
                except (OSError, ValueError, RuntimeError) as err:
                    raise ConfigError(f"backend {self.id!r}: vLLM cannot load {model}: {err}") from None
            return _ENGINES[key]

    def _lora_request(self) -> Any:
        if not self.spec.adapter:
            return None
        if self._lora is None:
            from vllm.lora.request import LoRARequest

            # a stable positive id per adapter path; vLLM caches adapters by it
            lora_id = abs(hash(str(Path(self.spec.adapter).resolve()))) % (2**31 - 1) + 1
            self._lora = LoRARequest(self.id, lora_id, str(Path(self.spec.adapter).expanduser().resolve()))
        return self._lora

    def _generate(self, messages, schema, max_tokens, temperature, seed=None):
        return self._generate_batch([messages], schema, max_tokens, temperature, seed=seed)[0]

    def _generate_batch(
        self,
        batch: Sequence[Sequence[Message]],
        schema: type[BaseModel] | None,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
    ) -> list[tuple[str, Usage, str | None]]:
        from vllm import SamplingParams

        llm, lock = self._engine()
        budget = max_tokens
        extra: dict[str, Any] = {}
        if schema is not None:
            js = fit_json_schema(schema, max_tokens)
            budget = max(max_tokens, max_json_chars(js, unbounded=0, bytes_per_char=4) + 4)
            extra = structured_params(js)
        params = SamplingParams(max_tokens=budget, temperature=temperature, seed=seed, **extra)
        conversations = [[{"role": m.role, "content": m.content} for m in msgs] for msgs in batch]
        with lock:  # the offline engine is not thread-safe; it batches the whole list itself
            try:
                outputs = llm.chat(conversations, params, use_tqdm=False, lora_request=self._lora_request())
            except (RuntimeError, ValueError) as err:
                raise BackendError(
                    f"backend {self.id!r}: vLLM generation failed: {err}", backend_id=self.id
                ) from None
        results = []
        for out in outputs:
            choice = out.outputs[0]
            usage = Usage(
                prompt_tokens=len(out.prompt_token_ids or []), completion_tokens=len(choice.token_ids)
            )
            if schema is not None and choice.finish_reason == "length":
                raise truncated_error(self.id, budget, choice.text)
            results.append((choice.text, usage, choice.finish_reason))
        return results
