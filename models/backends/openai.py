"""`openai`: any OpenAI-compatible chat server through the official `openai` client.

Works with vLLM's `vllm serve`, llama.cpp's servers, and cloud model APIs. `model` is the served
model name. Options (`[backends.options]`):

- `base_url` (default `https://api.openai.com/v1`), `api_key` or `api_key_env` (the name of an
  environment variable holding the key; local servers need none).
- `base_urls`: several replicas of the same served model (e.g. vLLM on several GPU hosts) instead of one
  `base_url`: each request goes to the healthy one with the fewest requests in flight; one that fails to
  connect or times out is skipped for `endpoint_cooldown_s` (default 10) and must answer `GET /models`
  before it takes traffic again (`models/endpoints.py`). The request moves to the next endpoint; when all
  are down the backend is unavailable and the gateway's breaker and failover take over.
- `structured_mode`: how a schema is sent as `response_format`:
  `json_schema` (OpenAI, vLLM, llama.cpp's C++ server), `json_object` (`{"type": "json_object",
  "schema": ...}`, which llama-cpp-python's server honours), or `auto` (default: `json_schema`, and
  on a 400/422 answer `json_object` from then on). `strict` (default false) sets OpenAI's strict flag.
- `extra_body`: a mapping merged into every request (server-specific sampling options).

`timeout_s` bounds each HTTP request; `max_retries` retries timeouts, connection errors, 429 and 5xx
with the client's exponential backoff. Failures become BackendTimeout / BackendUnavailable /
BackendError; output that does not parse or validate becomes StructuredOutputError.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigError
from fincopilot.log import get_logger
from fincopilot.models.base import BaseBackend
from fincopilot.models.endpoints import EndpointPool
from fincopilot.models.messages import Message, Usage
from fincopilot.models.registry import register_kind
from fincopilot.models.structured import fit_json_schema, max_json_chars, truncated_error

log = get_logger(__name__)

MODES = ("auto", "json_schema", "json_object")


@register_kind("openai")
class OpenAIBackend(BaseBackend):
    """A chat-completions endpoint reached with the official `openai` client."""

    def __init__(self, spec: BackendSpec):
        super().__init__(spec)
        opts = spec.options
        urls = [str(u) for u in opts.get("base_urls") or [opts.get("base_url", "https://api.openai.com/v1")]]
        self.base_url = urls[0]
        self.endpoints = EndpointPool(
            urls,
            cooldown_s=float(opts.get("endpoint_cooldown_s", 10.0)),
            probe=self._probe,
            backend_id=spec.id,
        )
        mode = str(opts.get("structured_mode", "auto"))
        if mode not in MODES:
            raise ConfigError(
                f"backend {spec.id!r}: options.structured_mode must be one of {MODES}, got {mode!r}"
            )
        self._mode = mode
        self._strict = bool(opts.get("strict", False))
        self._extra_body = dict(opts.get("extra_body", {}))
        self._api_key = self._resolve_key(opts)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _resolve_key(self, opts: dict[str, Any]) -> str:
        if opts.get("api_key"):
            return str(opts["api_key"])
        env = opts.get("api_key_env")
        if env:
            value = os.environ.get(str(env))
            if not value:
                raise ConfigError(
                    f"backend {self.id!r}: environment variable {env} (options.api_key_env) is not set"
                )
            return value
        return "not-needed"  # local servers accept any key; the client insists on one

    @property
    def structured_mode(self) -> str:
        """The response_format style in use (`auto` until the first structured call settles it)."""
        return self._mode

    @property
    def client(self) -> Any:
        """The client of the first endpoint."""
        return self.client_for(self.base_url)

    def client_for(self, url: str) -> Any:
        with self._lock:
            if url not in self._clients:
                import openai

                self._clients[url] = openai.OpenAI(
                    base_url=url,
                    api_key=self._api_key,
                    timeout=self.spec.timeout_s,
                    max_retries=self.spec.max_retries if len(self.endpoints) == 1 else 0,
                )
            return self._clients[url]

    def _probe(self, url: str) -> bool:
        """Active health check of a resting endpoint: does `GET {url}/models` answer?"""
        import httpx

        try:
            return (
                httpx.get(
                    url.rstrip("/") + "/models",
                    timeout=2.0,
                    headers={"Authorization": f"Bearer {self._api_key}"},
                ).status_code
                < 500
            )
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # --- requests -----------------------------------------------------------------------
    def _response_format(self, js: dict[str, Any], name: str, mode: str) -> dict[str, Any]:
        if mode == "json_object":
            return {"type": "json_object", "schema": js}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": js, "strict": self._strict}}

    def _request(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, seed: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            body["seed"] = seed
        if self._extra_body:
            body["extra_body"] = self._extra_body
        return body

    def _call(self, *, _retries: int | None = None, **body: Any) -> Any:
        """One request on the least-busy healthy endpoint, moving on to the next when one is down."""
        tried: set[str] = set()
        while True:
            endpoint = self.endpoints.acquire(tried)
            tried.add(endpoint.url)
            try:
                result = self._call_endpoint(endpoint.url, _retries, body)
            except (BackendTimeout, BackendUnavailable) as err:
                down = not isinstance(err, _RateLimited)  # 429: up but busy
                self.endpoints.release(endpoint, ok=not down)
                if not down or len(tried) >= len(self.endpoints):
                    raise
                log.warning("endpoint_down", backend=self.id, url=endpoint.url, error=str(err)[:200])
                continue
            except BaseException:
                self.endpoints.release(endpoint, ok=True)  # the endpoint answered; the request failed
                raise
            self.endpoints.release(endpoint, ok=True)
            return result

    def _call_endpoint(self, url: str, retries: int | None, body: dict[str, Any]) -> Any:
        """One request to one endpoint, with the openai errors turned into FinCopilot's typed errors."""
        import openai

        client = (
            self.client_for(url)
            if retries is None
            else self.client_for(url).with_options(max_retries=retries)
        )
        try:
            return client.chat.completions.create(**body)
        except openai.APITimeoutError:
            raise BackendTimeout(
                f"backend {self.id!r} ({url}) did not answer within timeout_s={self.spec.timeout_s:g} "
                f"after {self.spec.max_retries} retries",
                backend_id=self.id,
            ) from None
        except openai.APIConnectionError as err:
            raise BackendUnavailable(
                f"backend {self.id!r} cannot reach {url}: {err.__cause__ or err}", backend_id=self.id
            ) from None
        except openai.RateLimitError as err:
            raise _RateLimited(
                f"backend {self.id!r} is rate limited: {err.message}", backend_id=self.id
            ) from None
        except openai.AuthenticationError as err:
            raise BackendError(
                f"backend {self.id!r} rejected the API key: {err.message}", backend_id=self.id
            ) from None
        except openai.APIStatusError as err:
            raise _StatusError(
                f"backend {self.id!r} answered HTTP {err.status_code}: {err.message}",
                backend_id=self.id,
                status=err.status_code,
            ) from None

    def _generate(self, messages, schema, max_tokens, temperature, seed=None):
        budget = max_tokens
        if schema is None:
            response = self._call(**self._request(messages, budget, temperature, seed))
        else:
            # As in the transformers backend: caps on unbounded strings/arrays/numbers sized to the
            # budget keep a weak served model from looping, and the budget covers the longest valid answer.
            js = fit_json_schema(schema, max_tokens)
            budget = max(max_tokens, max_json_chars(js, unbounded=0, bytes_per_char=4) + 4)
            body = self._request(messages, budget, temperature, seed)
            if self._mode != "auto":
                response = self._call(
                    **body, response_format=self._response_format(js, schema.__name__, self._mode)
                )
            else:
                response = self._probe_structured(body, js, schema.__name__)
        if not response.choices:
            raise BackendError(f"backend {self.id!r} returned no choices", backend_id=self.id)
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = Usage(
            prompt_tokens=getattr(response.usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(response.usage, "completion_tokens", 0) or 0,
        )
        if schema is not None and choice.finish_reason == "length":
            raise truncated_error(self.id, budget, text)
        return text, usage, choice.finish_reason

    def _probe_structured(self, body: dict[str, Any], js: dict[str, Any], name: str) -> Any:
        """`auto` mode: try `json_schema` once without retries; if the server rejects the request
        format (llama-cpp-python answers 500 with a validation error), switch to `json_object`."""
        try:
            response = self._call(
                **body, response_format=self._response_format(js, name, "json_schema"), _retries=0
            )
        except _StatusError as err:
            if err.status not in (400, 422, 500) or "response_format" not in str(err):
                raise
            log.info("structured_mode_fallback", backend=self.id, status=err.status, mode="json_object")
            self._mode = "json_object"  # remembered for this backend instance
            return self._call(**body, response_format=self._response_format(js, name, "json_object"))
        self._mode = "json_schema"
        return response

    def _generate_batch(self, batch, schema, max_tokens, temperature):
        # the server batches concurrent requests itself; we bound how many we keep in flight
        workers = max(1, min(self.spec.max_concurrency, len(batch)))
        if workers == 1:
            return [self._generate(m, schema, max_tokens, temperature) for m in batch]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"openai-{self.id}") as pool:
            return list(pool.map(lambda m: self._generate(m, schema, max_tokens, temperature), batch))

    def _stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield content deltas as the server sends them."""
        import openai

        chunks = self._call(**self._request(messages, max_tokens, temperature), stream=True)
        try:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APITimeoutError:
            raise BackendTimeout(
                f"backend {self.id!r} stopped streaming for timeout_s={self.spec.timeout_s:g}",
                backend_id=self.id,
            ) from None
        except openai.APIConnectionError as err:
            raise BackendUnavailable(
                f"backend {self.id!r} dropped the stream: {err}", backend_id=self.id
            ) from None
        finally:
            chunks.close()


class _RateLimited(BackendUnavailable):
    """HTTP 429: the endpoint is up but busy; not a reason to mark it down."""


class _StatusError(BackendError):
    """An HTTP error status from the server (kept apart so `auto` mode can react to 400/422)."""

    def __init__(self, message: str, *, backend_id: str | None, status: int):
        super().__init__(message, backend_id=backend_id)
        self.status = status
