"""Helpers shared by the built-in workers: fencing untrusted text, sentence splitting, input checks."""

from __future__ import annotations

import re

from fincopilot.safety.injection import check_untrusted, fence_untrusted
from fincopilot.tools.textnorm import (  # noqa: F401 - the workers' input checks and language
    MAX_TEXT,
    asks_in_chinese,
    check_text,
)

# A sentence ends at . ! ? only when no digit follows (so 7.88% and 1,234.5 stay whole).
_SENT_EN = re.compile(r".+?(?:[.!?](?=\s|$)|[。！？]|\n|$)", re.S)


def fence(text: str, label: str) -> str:
    """Wrap untrusted text (a report, a client's words) in a clearly delimited block for a prompt."""

    return fence_untrusted(text, label)


def flag_injection(text: str, label: str, request_id: str | None, skill: str) -> list[str]:
    """Audit (and return) prompt-injection patterns in untrusted text; the text stays fenced either way."""

    return check_untrusted(text, label, request_id=request_id, skill=skill)


def sentences(text: str) -> list[str]:
    """Split English or Chinese text into sentences (decimal points do not end a sentence)."""
    out = []
    for m in _SENT_EN.finditer(text):
        s = m.group(0).strip()
        if s:
            out.append(s)
    return out


def is_chinese(text: str) -> bool:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk > max(10, len(text) // 10)


def join_sentences(parts: list[str], chinese: bool) -> str:
    return ("" if chinese else " ").join(p.strip() for p in parts if p.strip())


SENTENCE_ENDS = (".", "!", "?", "。", "！", "？")


def tidy_generated(text: str) -> str:
    """Clean a small model's prose: drop a trailing fragment cut off by the length limit and repeated sentences."""
    parts = sentences(text.strip())
    if len(parts) > 1 and not parts[-1].endswith(SENTENCE_ENDS):
        parts = parts[:-1]
    seen: set[str] = set()
    kept = []
    for p in parts:
        key = re.sub(r"\W+", " ", p.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            kept.append(p)
    return join_sentences(kept, is_chinese(text))


def repetitive(text: str) -> bool:
    """True when most words repeat (a degenerate generation loop)."""
    words = re.findall(r"\w+", text.lower())
    return len(words) >= 12 and len(set(words)) / len(words) < 0.45
