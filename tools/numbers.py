"""Numeric faithfulness: every number in generated text must appear in a cited source.

Numbers are compared by value, not by spelling: `1,234.5` = `1234.5`, `3.20%` = `3.2%`,
`1.2亿` = `120,000,000` (traditional 億/萬 too), and a figure rounded to the precision it is written with
(`3.2%` for a source's `3.21%`) counts as supported. Identifiers (`C-1042`, `HY-7`) and
citation markers (`[2]`) are not numbers, and the dash of a range (`2.90%-3.50%`) is not a minus sign.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from pydantic import BaseModel

_SCALE = {
    "亿": 1e8,
    "億": 1e8,
    "万": 1e4,
    "萬": 1e4,
    "千": 1e3,
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "trillion": 1e12,
}
_NUMBER = re.compile(
    r"""
    (?:
        (?<=[%％][-–~～])                 # the upper end of a range "2.90%-3.50%": no sign
        |(?<![A-Za-z0-9_.\-])(?<![%％])   # not inside a word or identifier (CJK text has no spaces)
        (?P<sign>[-+−])?
    )
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?P<unit>\s?(?:%|％|bps?|basis\ points|个基点|個基點|亿|億|万|萬|千|(?:k|m|mn|b|bn)\b|thousand|million|billion|trillion))?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_IDENTIFIER = re.compile(r"\b[A-Za-z]{1,6}-\d+[A-Za-z]?\b")


class NumberMention(BaseModel):
    """One number found in a text."""

    value: float
    text: str
    start: int
    end: int
    unit: str | None = None
    decimals: int = 0

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def extract_numbers(text: str) -> list[NumberMention]:
    """Every number written with digits in `text`, with its value scaled by its unit (亿, million, ...)."""
    masked = _mask(_mask(text, _CITATION), _IDENTIFIER)
    out: list[NumberMention] = []
    for m in _NUMBER.finditer(masked):
        raw = m.group("num").replace(",", "")
        value = float(raw)
        unit = (m.group("unit") or "").strip().lower() or None
        if unit in _SCALE:
            value *= _SCALE[unit]
        elif unit in ("％",):
            unit = "%"
        elif unit in ("bp", "bps", "basis points", "个基点", "個基點"):
            unit = "bp"
        if m.group("sign") in ("-", "−"):
            value = -value
        decimals = len(raw.split(".", 1)[1]) if "." in raw else 0
        out.append(
            NumberMention(
                value=value,
                text=text[m.start() : m.end()].strip(),
                start=m.start(),
                end=m.end(),
                unit=unit,
                decimals=decimals,
            )
        )
    return out


def _matches(claim: NumberMention, source: NumberMention) -> bool:
    if claim.unit in ("%", "bp") and source.unit in ("%", "bp") and claim.unit != source.unit:
        # 25 bp = 0.25 %
        a = claim.value / 100 if claim.unit == "bp" else claim.value
        b = source.value / 100 if source.unit == "bp" else source.value
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    for a, b in ((claim.value, source.value), (abs(claim.value), abs(source.value))):
        if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            return True
        # the claim rounds the source to the precision the claim is written with
        if claim.unit not in _SCALE and claim.decimals < source.decimals:
            if abs(a - b) <= 0.5 * 10 ** (-claim.decimals) + 1e-9:
                return True
        # scaled units: "1.2 billion" vs "1,200,000,000" or "1.23亿" rounded
        if claim.unit in _SCALE:
            step = _SCALE[claim.unit] * 10 ** (-claim.decimals)
            if abs(a - b) <= step / 2 + 1e-9:
                return True
    return False


def unsupported_numbers(text: str, sources: Iterable[str]) -> list[NumberMention]:
    """Numbers in `text` that appear in none of `sources` (by value, tolerant of formatting)."""
    pool = [n for s in sources for n in extract_numbers(s)]
    return [claim for claim in extract_numbers(text) if not any(_matches(claim, s) for s in pool)]


def numeric_faithfulness(text: str, sources: Iterable[str]) -> float:
    """Share of the numbers in `text` that are supported by `sources` (1.0 when `text` has none)."""
    claims = extract_numbers(text)
    if not claims:
        return 1.0
    bad = unsupported_numbers(text, list(sources))
    return 1.0 - len(bad) / len(claims)


_DIGIT_RUN = re.compile(r"\d+(?:[.,]\d+)*")


def copy_only_pattern(source: str, max_items: int) -> str:
    """A JSON-schema `pattern` for a string whose digits only spell numbers `source` writes, each as it is
    written there ("2.164", "10,000"; followed by "%" only where the source's is a percentage).

    A constrained decoder given it cannot invent a figure. Characters and copied numbers count as one item each
    (`max_items` bounds the string; JSON-schema `maxLength` beside a `pattern` is ignored by some decoders). The
    regex keeps to the subset llama.cpp's schema converter, llguidance and xgrammar share (no escape in a
    character class but the backslash's own), and its classes exclude the quote, which would otherwise let the
    string run past its closing quote in llama.cpp's grammar.
    """
    percent, plain = set(), set()
    for m in _DIGIT_RUN.finditer(source):
        (percent if source[m.end() : m.end() + 2].lstrip()[:1] in ("%", "％") else plain).add(m.group(0))

    def either(numbers: set[str]) -> str:
        return "|".join(re.escape(n) for n in sorted(numbers, key=lambda n: (-len(n), n)))

    item = r'[^0-9"\\]'
    if percent:
        item += f"|(?:{either(percent)})%"
    if plain:
        item += f'|(?:{either(plain)})[^0-9%"\\\\]'
    last = f"(?:{either(plain)})?" if plain else ""
    return f"^(?:{item}){{0,{max_items}}}{last}$"
