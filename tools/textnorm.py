"""A normalized view of text for compliance checks, with every character mapped back to the original.

Disguises that defeat plain patterns: full-width letters and digits (`８％`), zero-width characters
(`稳\u200b赚`), spacing inside words (`保 本 保 息`, `g u a r a n t e e d`) and traditional Chinese
(`穩賺不賠`). `normalize(text)` undoes all of them:

1. Unicode NFKC per character (full-width → half-width, compatibility forms, ideographic space → space);
2. zero-width and soft-hyphen characters removed;
3. words spelled out with separators between single characters (`g-u-a-r-a-n-t-e-e-d`, `稳-赚-不-赔`,
   `保.本`, three or more characters; two for CJK) joined;
4. spaces between two CJK characters removed, and runs of single letters separated by single spaces
   (three or more) joined into one word;
5. traditional → simplified Chinese with OpenCC (`t2s`).

`Normalized.original_span(start, end)` maps a span of the normalized text back to the original, so a
violation found on the normalized view quotes exactly what the advisor wrote.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from fincopilot.errors import InputError
from fincopilot.log import get_logger

log = get_logger(__name__)

MAX_TEXT = 20_000  # the longest text a worker or the compliance check accepts


def check_text(text: str | None, what: str = "text", max_len: int = MAX_TEXT) -> str:
    """Reject empty or oversized input with a clear error."""
    if text is None or not isinstance(text, str) or not text.strip():
        raise InputError(f"{what} is empty")
    if len(text) > max_len:
        raise InputError(f"{what} is too long ({len(text):,} characters; at most {max_len:,})")
    return text


def asks_in_chinese(text: str) -> bool:
    """Whether a request or draft is written in Chinese (even a short one, with ids in Latin letters)."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return cjk >= 2 and cjk * 4 >= latin


ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e")
_SINGLE_LETTERS = re.compile(r"(?<![A-Za-z])(?:[A-Za-z] ){2,}[A-Za-z](?![A-Za-z])")
_CJK = "\u3400-\u9fff\uf900-\ufaff"
_SEP = r" ?[-.*_·|~/+] ?"
_SPELLED = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z](?:{_SEP}[A-Za-z]){{2,}}(?![A-Za-z0-9])"  # g-u-a-r-a-n-t-e-e-d
    rf"|(?<![{_CJK}])[{_CJK}](?:{_SEP}[{_CJK}])+(?![{_CJK}])"  # 稳-赚-不-赔, 保.本
)


@dataclass(frozen=True)
class Normalized:
    """The normalized text and, for each of its characters, the index of the original character."""

    original: str
    text: str
    index: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """(start, end) in the original text of the normalized span [start, end)."""
        if not self.text or start >= end:
            pos = self.index[start] if start < len(self.index) else len(self.original)
            return pos, pos
        return self.index[start], self.index[end - 1] + 1

    def original_text(self, start: int, end: int) -> str:
        s, e = self.original_span(start, end)
        return self.original[s:e]


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


@lru_cache(maxsize=1)
def _t2s():
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a declared dependency
        log.warning("opencc_missing", detail="traditional Chinese is not converted; pip install opencc")
        return None
    return opencc.OpenCC("t2s")


def _width_and_invisible(text: str) -> tuple[list[str], list[int]]:
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch in ZERO_WIDTH:
            continue
        for out in unicodedata.normalize("NFKC", ch):
            if out in ZERO_WIDTH:
                continue
            chars.append(" " if out.isspace() and out != "\n" else out)
            index.append(i)
    return chars, index


def _drop_inner_spaces(chars: list[str], index: list[int]) -> tuple[list[str], list[int]]:
    keep = [True] * len(chars)
    for i, ch in enumerate(chars):
        if ch != " ":
            continue
        j = i - 1
        while j >= 0 and chars[j] == " ":
            j -= 1
        k = i + 1
        while k < len(chars) and chars[k] == " ":
            k += 1
        if 0 <= j and k < len(chars) and _is_cjk(chars[j]) and _is_cjk(chars[k]):
            keep[i] = False
    text = "".join(chars)
    for m in _SINGLE_LETTERS.finditer(text):
        for p in range(m.start(), m.end()):
            if text[p] == " ":
                keep[p] = False
    return [c for c, k in zip(chars, keep) if k], [x for x, k in zip(index, keep) if k]


def _drop_spelling_separators(chars: list[str], index: list[int]) -> tuple[list[str], list[int]]:
    text = "".join(chars)
    keep = [True] * len(chars)
    for m in _SPELLED.finditer(text):
        for p in range(m.start(), m.end()):
            if not (text[p].isalpha() or _is_cjk(text[p])):
                keep[p] = False
    return [c for c, k in zip(chars, keep) if k], [x for x, k in zip(index, keep) if k]


def _simplify(chars: list[str], index: list[int]) -> tuple[list[str], list[int]]:
    converter = _t2s()
    if converter is None or not any(_is_cjk(c) for c in chars):
        return chars, index
    whole = converter.convert("".join(chars))
    if len(whole) == len(chars):
        return list(whole), index
    return [converter.convert(c) or c for c in chars], index  # phrase conversion changed length: char by char


def normalize(text: str) -> Normalized:
    """The normalized view of `text` (see the module docstring) with its map back to `text`."""
    chars, index = _width_and_invisible(text)
    chars, index = _drop_spelling_separators(chars, index)
    chars, index = _drop_inner_spaces(chars, index)
    chars, index = _simplify(chars, index)
    out = "".join(chars)
    if len(out) != len(index):  # a per-character conversion returned more than one character
        index = [index[min(i, len(index) - 1)] for i in range(len(out))]
    return Normalized(original=text, text=out, index=tuple(index))
