"""Desensitization: an `external` backend never receives raw personal data.

Before a call to a backend whose spec says `residency = "external"`, every message is rewritten: each
personal-data span (`pii.find_pii`, with the known client names) becomes a stable, typed pseudonym —
`<PERSON_1>`, `<ID_CARD_1>`, `<BANK_CARD_1>`, `<PHONE_1>`, `<EMAIL_1>`, `<ACCOUNT_1>` — the same value always
getting the same token within a request. The response text and the parsed object are restored before
anyone sees them, so the advisor reads the real values.

Enforcement is structural, not a convention agents must follow:

- `BaseBackend.__init_subclass__` passes every backend class through `guard_backend_class`, which wraps its
  public `complete`, `complete_batch` and `stream`: however the backend was obtained (the gateway,
  `get_backend(id)`, or constructing the class directly), a call on an external spec is desensitized.
- Backends that implement the protocol without subclassing `BaseBackend` are wrapped in a
  `DesensitizingProxy` by `ensure_protected`, which the registry and the gateway apply.

The check happens at call time on `self.spec.residency`, so re-marking a spec as external takes effect at once.
"""

from __future__ import annotations

import contextvars
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fincopilot.safety.pii import KINDS, canonical_value, find_pii, known_client_names

LABELS = {
    "name": "PERSON",
    "id_card": "ID_CARD",
    "bank_card": "BANK_CARD",
    "phone": "PHONE",
    "email": "EMAIL",
    "account_id": "ACCOUNT",
}
_LABEL_ALT = "|".join(sorted(LABELS.values(), key=len, reverse=True))
# Tolerant of what models do to tokens they echo: case, spaces inside the brackets, or dropped brackets.
_TOKEN_RE = re.compile(
    rf"<\s*({_LABEL_ALT})[_ ](\d+)\s*>|(?<![A-Za-z0-9_<])({_LABEL_ALT})_(\d+)(?![A-Za-z0-9_])", re.IGNORECASE
)
_MAX_TOKEN_LEN = max(len(v) for v in LABELS.values()) + 10


class Pseudonymizer:
    """Maps personal-data values to typed tokens and back; one per request (thread-safe)."""

    def __init__(self, known_names: Iterable[str] | None = None, request_id: str | None = None):
        self.request_id = request_id
        self.known_names = tuple(known_names) if known_names is not None else known_client_names()
        self._lock = threading.Lock()
        self._token_of: dict[tuple[str, str], str] = {}
        self._value_of: dict[str, str] = {}
        self._count: dict[str, int] = {}
        self.replaced: dict[str, int] = {k: 0 for k in KINDS}

    def token_for(self, kind: str, surface: str) -> str:
        key = (kind, canonical_value(kind, surface))
        with self._lock:
            token = self._token_of.get(key)
            if token is None:
                n = self._count.get(kind, 0) + 1
                self._count[kind] = n
                token = f"<{LABELS[kind]}_{n}>"
                self._token_of[key] = token
                self._value_of[token] = surface
            self.replaced[kind] += 1
            return token

    def mask(self, text: str) -> str:
        """`text` with every personal-data span replaced by its token."""
        if not text:
            return text
        out, pos = [], 0
        for m in find_pii(text, self.known_names):
            out.append(text[pos : m.start])
            out.append(self.token_for(m.kind, m.text))
            pos = m.end
        out.append(text[pos:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """`text` with every known token replaced by the original value (unknown tokens stay as written)."""
        if not text or not self._value_of:
            return text

        def sub(m: re.Match[str]) -> str:
            label, n = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            return self._value_of.get(f"<{label.upper()}_{n}>", m.group(0))

        return _TOKEN_RE.sub(sub, text)

    def restore_obj(self, obj: Any) -> Any:
        """Restore tokens in every string inside nested dicts/lists/tuples."""
        if isinstance(obj, str):
            return self.restore(obj)
        if isinstance(obj, dict):
            return {k: self.restore_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.restore_obj(v) for v in obj)
        return obj

    def mask_messages(self, messages: Sequence[Any]) -> list[Any]:
        return [m.model_copy(update={"content": self.mask(m.content)}) for m in messages]

    @property
    def mapping(self) -> dict[str, str]:
        """token -> original value (stays on premises; never sent anywhere)."""
        with self._lock:
            return dict(self._value_of)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.replaced.items() if v}


# --- request scope: the same value gets the same token across all calls of one request ---------------------
_scope: contextvars.ContextVar[Pseudonymizer | None] = contextvars.ContextVar(
    "fincopilot_pseudonyms", default=None
)
_by_request: OrderedDict[str, Pseudonymizer] = OrderedDict()
_by_request_lock = threading.Lock()
_MAX_SCOPES = 512


@contextmanager
def pseudonym_scope(request_id: str | None) -> Iterator[Pseudonymizer]:
    """Use one Pseudonymizer for every external call of `request_id` inside the block (the gateway does this)."""
    current = _scope.get()
    if current is not None and request_id is None:
        yield current
        return
    if request_id is None:
        p = Pseudonymizer()
    else:
        with _by_request_lock:
            p = _by_request.get(request_id)
            if p is None:
                p = _by_request[request_id] = Pseudonymizer(request_id=request_id)
                while len(_by_request) > _MAX_SCOPES:
                    _by_request.popitem(last=False)
            else:
                _by_request.move_to_end(request_id)
    token = _scope.set(p)
    try:
        yield p
    finally:
        _scope.reset(token)


def _current_pseudonymizer() -> Pseudonymizer:
    p = _scope.get()
    return p if p is not None else Pseudonymizer()


# --- the guard ---------------------------------------------------------------------------------------------
_inside_guard: contextvars.ContextVar[bool] = contextvars.ContextVar("fincopilot_desensitized", default=False)


def is_external(backend: Any) -> bool:
    spec = getattr(backend, "spec", None)
    return getattr(spec, "residency", "local") == "external"


def _audit(backend: Any, p: Pseudonymizer, before: dict[str, int], calls: int) -> None:
    from fincopilot.safety import audit

    delta = {k: v - before.get(k, 0) for k, v in p.replaced.items() if v - before.get(k, 0)}
    audit.record(
        "desensitize",
        request_id=p.request_id,
        backend=getattr(backend, "id", "?"),
        residency="external",
        messages=calls,
        replaced=delta,
    )


def _restore_completion(p: Pseudonymizer, comp: Any, schema: Any) -> Any:
    from fincopilot.models.base import parse_structured

    text = p.restore(comp.text)
    parsed = comp.parsed
    if schema is not None and parsed is not None:
        try:
            parsed = schema.model_validate(p.restore_obj(parsed.model_dump(mode="python")))
        except Exception:  # noqa: BLE001 - a restored value broke a constraint: parse the restored text instead
            parsed = parse_structured(text, schema, backend_id=comp.backend_id)
    return comp.model_copy(update={"text": text, "parsed": parsed})


def _rescue_structured(p: Pseudonymizer, err: Any, schema: Any, backend: Any) -> Any:
    """A schema failure on masked output may be a token where the schema wants a real format (a pattern):
    parse the restored text; if that fails too, re-raise with the restored raw text."""
    from fincopilot.errors import StructuredOutputError
    from fincopilot.models.base import Completion, parse_structured

    raw = p.restore(err.raw)
    try:
        parsed = parse_structured(raw, schema, backend_id=getattr(backend, "id", None))
    except StructuredOutputError as again:
        raise StructuredOutputError(str(again), backend_id=again.backend_id, raw=raw) from None
    return Completion(
        text=raw,
        parsed=parsed,
        backend_id=getattr(backend, "id", "?"),
        model=getattr(getattr(backend, "spec", None), "model", ""),
        finish_reason="stop",
    )


def desensitized_complete(
    backend: Any, call: Callable[..., Any], messages: Sequence[Any], schema: Any = None, **kwargs: Any
) -> Any:
    """Run `call(masked_messages, schema=schema, **kwargs)` and restore its Completion."""
    from fincopilot.errors import StructuredOutputError

    p = _current_pseudonymizer()
    before = dict(p.replaced)
    masked = p.mask_messages(messages)
    _audit(backend, p, before, len(masked))
    token = _inside_guard.set(True)
    try:
        comp = call(masked, schema=schema, **kwargs)
    except StructuredOutputError as err:
        if schema is None:
            raise
        return _rescue_structured(p, err, schema, backend)
    finally:
        _inside_guard.reset(token)
    return _restore_completion(p, comp, schema)


def desensitized_batch(
    backend: Any, call: Callable[..., Any], batch: Sequence[Sequence[Any]], schema: Any = None, **kwargs: Any
) -> list[Any]:
    from fincopilot.errors import StructuredOutputError

    p = _current_pseudonymizer()
    before = dict(p.replaced)
    masked = [p.mask_messages(m) for m in batch]
    _audit(backend, p, before, sum(len(m) for m in masked))
    token = _inside_guard.set(True)
    try:
        comps = call(masked, schema=schema, **kwargs)
    except StructuredOutputError as err:
        raise StructuredOutputError(str(err), backend_id=err.backend_id, raw=p.restore(err.raw)) from None
    finally:
        _inside_guard.reset(token)
    return [_restore_completion(p, c, schema) for c in comps]


class _StreamRestorer:
    """Restores tokens in a stream of chunks, holding back a possible token split across chunks."""

    def __init__(self, p: Pseudonymizer):
        self.p, self.buf = p, ""

    def feed(self, chunk: str) -> str:
        self.buf += chunk
        cut = len(self.buf)
        # hold back from the last '<' or a trailing label-ish word that might still grow into a token
        lt = self.buf.rfind("<")
        if lt != -1 and ">" not in self.buf[lt:] and len(self.buf) - lt <= _MAX_TOKEN_LEN:
            cut = lt
        tail = re.search(rf"(?:{_LABEL_ALT}|[A-Z_]+)_?\d*$", self.buf[:cut], re.IGNORECASE)
        if tail and cut - tail.start() <= _MAX_TOKEN_LEN:
            cut = tail.start()
        out, self.buf = self.buf[:cut], self.buf[cut:]
        return self.p.restore(out)

    def flush(self) -> str:
        out, self.buf = self.buf, ""
        return self.p.restore(out)


def desensitized_stream(
    backend: Any, call: Callable[..., Iterator[str]], messages: Sequence[Any], **kwargs: Any
) -> Iterator[str]:
    p = _current_pseudonymizer()
    before = dict(p.replaced)
    masked = p.mask_messages(messages)
    _audit(backend, p, before, len(masked))
    restorer = _StreamRestorer(p)
    token = _inside_guard.set(True)
    try:
        chunks = call(masked, **kwargs)
    finally:
        _inside_guard.reset(token)
    for chunk in chunks:
        out = restorer.feed(chunk)
        if out:
            yield out
    rest = restorer.flush()
    if rest:
        yield rest


def _needs_guard(backend: Any) -> bool:
    return is_external(backend) and not _inside_guard.get()


def guard_backend_class(cls: type) -> type:
    """Wrap `complete`, `complete_batch` and `stream` defined on `cls` so external specs are desensitized."""
    for name in ("complete", "complete_batch", "stream"):
        # resolved through the MRO, so a mixin's unguarded method cannot slip past
        fn = cls.__dict__.get(name) or getattr(cls, name, None)
        if fn is None or getattr(fn, "__fincopilot_guarded__", False):
            continue
        setattr(cls, name, _guarded(name, fn))
    cls.__fincopilot_guarded__ = True
    return cls


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if name == "complete":

        @functools.wraps(fn)
        def complete(self, messages, *args, schema=None, **kwargs):
            if args or not _needs_guard(self):
                return fn(self, messages, *args, schema=schema, **kwargs)
            return desensitized_complete(self, lambda m, **kw: fn(self, m, **kw), messages, schema, **kwargs)

        wrapper = complete
    elif name == "complete_batch":

        @functools.wraps(fn)
        def complete_batch(self, batch, *args, schema=None, **kwargs):
            if args or not _needs_guard(self):
                return fn(self, batch, *args, schema=schema, **kwargs)
            return desensitized_batch(self, lambda b, **kw: fn(self, b, **kw), batch, schema, **kwargs)

        wrapper = complete_batch
    else:

        @functools.wraps(fn)
        def stream(self, messages, *args, **kwargs):
            if args or not _needs_guard(self):
                return fn(self, messages, *args, **kwargs)
            return desensitized_stream(self, lambda m, **kw: fn(self, m, **kw), messages, **kwargs)

        wrapper = stream
    wrapper.__fincopilot_guarded__ = True  # type: ignore[attr-defined]
    return wrapper


class DesensitizingProxy:
    """Wraps a backend object that does not subclass BaseBackend (a third-party protocol implementation)."""

    __fincopilot_guarded__ = True

    def __init__(self, inner: Any):
        self._inner = inner
        self.id = inner.id
        self.spec = inner.spec

    def complete(self, messages, *, schema=None, **kwargs):
        if not _needs_guard(self):
            return self._inner.complete(messages, schema=schema, **kwargs)
        return desensitized_complete(self, self._inner.complete, messages, schema, **kwargs)

    def complete_batch(self, batch, *, schema=None, **kwargs):
        if not _needs_guard(self):
            return self._inner.complete_batch(batch, schema=schema, **kwargs)
        return desensitized_batch(self, self._inner.complete_batch, batch, schema, **kwargs)

    def stream(self, messages, **kwargs):
        if not _needs_guard(self):
            return self._inner.stream(messages, **kwargs)
        return desensitized_stream(self, self._inner.stream, messages, **kwargs)

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def is_protected(backend: Any) -> bool:
    """Will a call on `backend` be desensitized if its spec is external?"""
    cls = type(backend)
    return isinstance(backend, DesensitizingProxy) or all(
        getattr(getattr(cls, n, None), "__fincopilot_guarded__", False)
        for n in ("complete", "complete_batch", "stream")
    )


def ensure_protected(backend: Any) -> Any:
    """`backend` itself when it is local or its class is guarded, else a DesensitizingProxy around it."""
    if not is_external(backend) or is_protected(backend):
        return backend
    return DesensitizingProxy(backend)
