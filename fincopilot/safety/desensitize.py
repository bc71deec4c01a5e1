"""Desensitization: an `external` backend never receives raw personal data.

Before a call to a backend whose spec says `residency = "external"`, every message is rewritten: each
personal-data span (`pii.find_pii`, with the known client names) becomes a stable, typed pseudonym —
`<PERSON_1>`, `<ID_CARD_1>`, `<BANK_CARD_1>`, `<PHONE_1>`, `<EMAIL_1>`, `<ACCOUNT_1>` — the same value always
getting the same token within a request. The response text and the parsed object are restored before
anyone sees them, so the advisor reads the real values.

This module does the masking and restoring; where it is applied is the outbound gate (models/outbound.py)
(`fincopilot.models.outbound.outbound_complete` and its batch and stream siblings), which every public
backend call passes through. The gate checks the spec's residency at call time, so re-marking a spec as
external takes effect at once.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
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


def current_pseudonymizer() -> Pseudonymizer:
    """The request's Pseudonymizer inside `pseudonym_scope`, else a fresh one."""
    p = _scope.get()
    return p if p is not None else Pseudonymizer()


class StreamRestorer:
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
