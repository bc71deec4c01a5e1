"""The backend protocol: chat messages in; text, parsed object, usage, latency and backend id out."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from fincopilot.config import BackendSpec
from fincopilot.log import get_logger
from fincopilot.models import outbound
from fincopilot.models.messages import Completion, Message, Usage, parse_structured


@runtime_checkable
class Backend(Protocol):
    """The protocol every backend implements (see `BaseBackend` for the shared parts)."""

    id: str
    spec: BackendSpec

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion: ...

    def complete_batch(
        self,
        batch: Sequence[Sequence[Message]],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> list[Completion]: ...

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]: ...


log = get_logger(__name__)

_GATED = ("complete", "complete_batch", "stream")


def seeded(call: Any, seed: int | None, backend: Any) -> dict[str, int]:
    """`{"seed": seed}` when one is asked for and `call` (a kind's `_generate`, a protocol backend's `complete`)
    takes it; a `seed_unsupported` warning and nothing when it does not, so the call answers unseeded."""
    if seed is None:
        return {}
    params = inspect.signature(call).parameters.values()
    if any(p.name == "seed" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return {"seed": seed}
    log.warning("seed_unsupported", backend=backend.id, note="the sampled answer is not reproducible")
    return {}


class BaseBackend:
    """Shared behaviour: schema parsing into typed errors, default batch and stream.

    A backend kind subclasses this, sets `kind`, and implements `_generate` (and, if it can do better
    than the defaults, `_generate_batch`, `_stream` and `_ready`). The public `complete`,
    `complete_batch` and `stream` each send through the outbound gate
    (`fincopilot.models.outbound.outbound_*`, which desensitizes for an `external` spec), so however a
    backend was obtained — the gateway, the registry, or constructing the class — a call cannot skip
    the gate. A subclass that overrides them is refused when the class is defined.
    """

    kind: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overridden = [name for name in _GATED if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"backend class {cls.__name__} overrides {', '.join(overridden)}; implement _generate "
                f"(and _generate_batch, _stream, _ready) instead: the public calls go through the gateway"
            )

    def __init__(self, spec: BackendSpec):
        self.spec = spec
        self.id = spec.id

    # --- to implement -------------------------------------------------------------------
    def _generate(
        self, messages: Sequence[Message], schema: type[BaseModel] | None, max_tokens: int, temperature: float
    ) -> tuple[str, Usage, str | None]:
        """Return (text, usage, finish_reason). With a schema, constrain output to it if the backend can.

        A kind that can seed its sampling also takes a keyword `seed: int | None = None`: the same seed, prompt
        and temperature give the same answer."""
        raise NotImplementedError

    def _generate_batch(
        self,
        batch: Sequence[Sequence[Message]],
        schema: type[BaseModel] | None,
        max_tokens: int,
        temperature: float,
    ) -> list[tuple[str, Usage, str | None]]:
        return [self._generate(m, schema, max_tokens, temperature) for m in batch]

    def _stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Text pieces as they are generated; the default yields the whole completion once."""
        yield self._complete(messages, schema=None, max_tokens=max_tokens, temperature=temperature).text

    def _ready(self) -> None:
        """Load what the first call needs (before timing starts); the default needs nothing."""

    # --- public: through the outbound gate (models/outbound.py) ------------------------------------
    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> Completion:
        return outbound.outbound_complete(
            self,
            self._complete,
            messages,
            schema=schema,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
        )

    def complete_batch(
        self,
        batch: Sequence[Sequence[Message]],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> list[Completion]:
        return outbound.outbound_batch(
            self, self._complete_batch, batch, schema=schema, max_tokens=max_tokens, temperature=temperature
        )

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        return outbound.outbound_stream(
            self, self._stream, messages, max_tokens=max_tokens, temperature=temperature
        )

    def load(self) -> object:
        """Load the model now instead of on the first request (`serve` and `chat` warm up); remote kinds: no-op."""
        return None

    def close(self) -> None:
        """Release resources (servers, GPU memory); the default holds none."""

    # --- what the gate sends to -----------------------------------------------------------
    def _complete(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
    ) -> Completion:
        self._ready()
        start = time.perf_counter()
        text, usage, finish = self._generate(
            list(messages), schema, max_tokens, temperature, **seeded(self._generate, seed, self)
        )
        return self._finish(text, usage, finish, schema, time.perf_counter() - start)

    def _complete_batch(
        self,
        batch: Sequence[Sequence[Message]],
        *,
        schema: type[BaseModel] | None,
        max_tokens: int,
        temperature: float,
    ) -> list[Completion]:
        if not batch:
            return []
        self._ready()
        start = time.perf_counter()
        results = self._generate_batch([list(m) for m in batch], schema, max_tokens, temperature)
        per_item = (time.perf_counter() - start) / len(results)
        return [self._finish(t, u, f, schema, per_item) for t, u, f in results]

    def _finish(
        self,
        text: str,
        usage: Usage,
        finish: str | None,
        schema: type[BaseModel] | None,
        latency_s: float,
    ) -> Completion:
        parsed = parse_structured(text, schema, backend_id=self.id) if schema is not None else None
        return Completion(
            text=text,
            parsed=parsed,
            usage=usage,
            latency_s=latency_s,
            backend_id=self.id,
            model=self.spec.model,
            finish_reason=finish,
        )


class ProtocolBackend(BaseBackend):
    """A backend that implements the protocol without subclassing BaseBackend, put behind the gate.

    The registry wraps such an instance in this class, so its calls pass the outbound gate (models/outbound.py) too.
    """

    def __init__(self, inner: Backend):
        super().__init__(inner.spec)
        self.inner = inner
        self.kind = getattr(inner, "kind", "")

    def _complete(self, messages, *, schema, max_tokens, temperature, seed=None):  # noqa: D102
        return self.inner.complete(
            messages,
            schema=schema,
            max_tokens=max_tokens,
            temperature=temperature,
            **seeded(self.inner.complete, seed, self),
        )

    def _complete_batch(self, batch, *, schema, max_tokens, temperature):  # noqa: D102
        return self.inner.complete_batch(batch, schema=schema, max_tokens=max_tokens, temperature=temperature)

    def _stream(self, messages, *, max_tokens, temperature):  # noqa: D102
        return self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)

    def load(self) -> object:
        load = getattr(self.inner, "load", None)
        return load() if load is not None else None

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
