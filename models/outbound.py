"""The outbound gate: the one place a call leaves for a backend.

`BaseBackend.complete`, `complete_batch` and `stream` send through it whoever calls them (the gateway,
the arena, a test, a script). For a spec whose `residency` is `external` (checked at call time), every
message is masked (`fincopilot.safety.desensitize.Pseudonymizer`), the masking is audited, and the
response text, the parsed object and streamed pieces are restored before anyone sees them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from fincopilot.errors import StructuredOutputError
from fincopilot.models.messages import Completion, Message, parse_structured
from fincopilot.safety import audit
from fincopilot.safety.desensitize import Pseudonymizer, StreamRestorer, current_pseudonymizer

_sending: contextvars.ContextVar[bool] = contextvars.ContextVar("fincopilot_outbound", default=False)


def is_external(backend: Any) -> bool:
    """Does `backend`'s spec say its data leaves the bank (`residency = "external"`)?"""
    return getattr(getattr(backend, "spec", None), "residency", "local") == "external"


def _gated(backend: Any) -> bool:
    # a call made while the gate is already sending (a backend calling its own public method) is not masked twice
    return is_external(backend) and not _sending.get()


@contextmanager
def _inside_gate() -> Iterator[None]:
    token = _sending.set(True)
    try:
        yield
    finally:
        _sending.reset(token)


def _masked(backend: Any, p: Pseudonymizer, batch: Sequence[Sequence[Message]]) -> list[list[Message]]:
    """Each conversation with its personal data masked; the replacement counts are audited."""
    before = dict(p.replaced)
    masked = [p.mask_messages(m) for m in batch]
    delta = {k: v - before.get(k, 0) for k, v in p.replaced.items() if v - before.get(k, 0)}
    audit.record(
        "desensitize",
        request_id=p.request_id,
        backend=getattr(backend, "id", "?"),
        residency="external",
        messages=sum(len(m) for m in masked),
        replaced=delta,
    )
    return masked


def _restored(p: Pseudonymizer, comp: Completion, schema: type[BaseModel] | None) -> Completion:
    text = p.restore(comp.text)
    parsed = comp.parsed
    if schema is not None and parsed is not None:
        try:
            parsed = schema.model_validate(p.restore_obj(parsed.model_dump(mode="python")))
        except Exception:  # noqa: BLE001 - a restored value broke a constraint: parse the restored text instead
            parsed = parse_structured(text, schema, backend_id=comp.backend_id)
    return comp.model_copy(update={"text": text, "parsed": parsed})


def _rescued(
    p: Pseudonymizer, err: StructuredOutputError, schema: type[BaseModel], backend: Any
) -> Completion:
    """A schema failure on masked output may be a token where the schema wants a real format (a pattern):
    parse the restored text; if that fails too, re-raise with the restored raw text."""
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


def outbound_complete(
    backend: Any,
    send: Callable[..., Completion],
    messages: Sequence[Message],
    *,
    schema: type[BaseModel] | None = None,
    **kwargs: Any,
) -> Completion:
    """`send(messages, schema=…, **kwargs)`, desensitized when `backend` is external."""
    if not _gated(backend):
        return send(messages, schema=schema, **kwargs)
    p = current_pseudonymizer()
    (masked,) = _masked(backend, p, [messages])
    try:
        with _inside_gate():
            comp = send(masked, schema=schema, **kwargs)
    except StructuredOutputError as err:
        if schema is None:
            raise
        return _rescued(p, err, schema, backend)
    return _restored(p, comp, schema)


def outbound_batch(
    backend: Any,
    send: Callable[..., list[Completion]],
    batch: Sequence[Sequence[Message]],
    *,
    schema: type[BaseModel] | None = None,
    **kwargs: Any,
) -> list[Completion]:
    """`send(batch, schema=…, **kwargs)`, desensitized when `backend` is external."""
    if not _gated(backend):
        return send(batch, schema=schema, **kwargs)
    p = current_pseudonymizer()
    masked = _masked(backend, p, batch)
    try:
        with _inside_gate():
            comps = send(masked, schema=schema, **kwargs)
    except StructuredOutputError as err:
        raise StructuredOutputError(str(err), backend_id=err.backend_id, raw=p.restore(err.raw)) from None
    return [_restored(p, c, schema) for c in comps]


def outbound_stream(
    backend: Any, send: Callable[..., Iterator[str]], messages: Sequence[Message], **kwargs: Any
) -> Iterator[str]:
    """`send(messages, **kwargs)`'s pieces, desensitized (and restored piece by piece) when `backend` is external."""
    if not _gated(backend):
        return send(messages, **kwargs)
    p = current_pseudonymizer()
    (masked,) = _masked(backend, p, [messages])
    with _inside_gate():
        pieces = send(masked, **kwargs)
    return _restored_stream(p, pieces)


def _restored_stream(p: Pseudonymizer, pieces: Iterator[str]) -> Iterator[str]:
    restorer = StreamRestorer(p)
    for piece in pieces:
        out = restorer.feed(piece)
        if out:
            yield out
    rest = restorer.flush()
    if rest:
        yield rest
