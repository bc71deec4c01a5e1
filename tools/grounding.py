"""Grounding of generated text in tool output: meaning, not only numbers.

`tools.numbers` checks that every number of a generated text appears in its sources. That is not enough:
"a Chinese banker with a history of high-risk lending" has no number at all, and "a PD of 28 points" uses a
number the facts contain (28%) in a unit they do not. `ungrounded(text, sources)` returns each claim of the
text that the sources do not support:

- **units**: a number stated with a unit ("28 points", "3.29%", "2.5 percent", "60 bps", "585分") must
  appear with the same unit in a source; a number the sources give only in another unit is a unit error;
- **direction**: "18 points above the best bin" when the source says 18 points *below* it is a claim error;
- **entities and attributes**: every content word (English) must occur in a source, or belong to the
  small vocabulary any explanation of such facts may use (`GENERIC`). Capitalised names, nationalities,
  occupations, invented histories ("banker", "Chinese", "lending") are therefore unsupported. Matching is on
  a light stem (plural/-ed/-ing/-ly removed), so "factors lowering" matches "factor lowers".

Deliberately lexical and explainable: a compliance officer can read why a text failed. It errs towards
rejecting (a rejected model sentence falls back to the template, which always passes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_UNITS = {
    "points": "points",
    "point": "points",
    "pts": "points",
    "pt": "points",
    "分": "points",
    "%": "percent",
    "percent": "percent",
    "per cent": "percent",
    "pct": "percent",
    "bps": "bps",
    "bp": "bps",
    "basis points": "bps",
    "months": "months",
    "month": "months",
    "years": "years",
    "year": "years",
}
_NUM_UNIT = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)*)\s*(basis points|per cent|percent|points|point|pts|pt|pct|bps|bp|"
    r"months|month|years|year|%|分)(?![A-Za-z])",
    re.IGNORECASE,
)
# "score 585" / "scores 585" / "评分585": a bare number right after the word score is in points
_SCORE_NUM = re.compile(r"\bscores?\s*(?:of\s*)?(\d+(?:\.\d+)?)|评分\s*(\d+)", re.IGNORECASE)
# quantities whose unit is fixed whatever the number: a PD (probability of default) is never in points
_QUANTITY_UNIT = re.compile(
    r"\b(pd|probability of default|default probability|default rate)\b\W+(?:[A-Za-z]+\W+){0,3}?"
    r"(\d+(?:[.,]\d+)*)\s*(points|point|pts|pt|分)(?![A-Za-z])",
    re.IGNORECASE,
)
# "18 points below the best bin": a number with a unit and a direction; the direction must match the source's
_DIRECTED = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)*)\s*(points|point|pts|%|percent|bps)\s+"
    r"(above|below|higher|lower|more|less|up|down)\b",
    re.IGNORECASE,
)
_SIGN = {"above": 1, "higher": 1, "more": 1, "up": 1, "below": -1, "lower": -1, "less": -1, "down": -1}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")

# Words any explanation of a credit/report fact may use without a source saying them (function words,
# hedges, and the generic vocabulary of scores and risk). Content nouns and adjectives are NOT here.
_GENERIC_TEXT = """
a an the this that these those it its is are was were be been being has have had do does did will would can could
may might should shall must of in on at to for from by with as and or but not no nor so than then also only very
more most less least much many some any each all both either neither such about above below between into over under
within without per via which who whom whose what when where while because since due therefore thus hence however
although though whereas if unless he she they them their his her him we our you your i me my one two three
client clients customer borrower applicant person they're it's score scores scored scoring scorecard grade graded
rating rated probability default defaults chance likelihood risk risks risky estimate estimated estimates
indicate indicates indicated indicating suggest suggests suggesting mean means meaning show shows showing reflect
reflects reflecting driven drive drives lower lowers lowered lowering low higher high highest lowest raise raises
reduce reduces reducing reduced main mainly primarily chiefly key major factor factors reason reasons overall
level moderate moderately good fair poor strong weak average relatively fairly quite slightly somewhat acceptable
credit creditworthiness worthiness quality profile assessment assessed result results point points percent
percentage bin best worst band range category explanation explain explains summary note notes noted given
currently current now today still both total based base basis associated related contribute contributes
contributing contribution impact impacts affect affects affected well better worse pd long longer short shorter
large larger small smaller recent several weigh weighs weighed weighing weight heavily most largely partly place
places put puts keep keeps pull pulls push pushes come comes came from account accounts"""
GENERIC = frozenset(_GENERIC_TEXT.split())


def _stem(word: str) -> str:
    w = re.sub(r"['’]s$", "", word.lower()).strip("'-")
    for suffix in ("ing", "ed", "ly", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def _value(text: str) -> float:
    return float(text.replace(",", ""))


def unit_claims(text: str) -> list[tuple[float, str, str]]:
    """(value, unit class, the words as written) for every number stated with a unit."""
    out = [(_value(m.group(1)), _UNITS[m.group(2).lower()], m.group(0)) for m in _NUM_UNIT.finditer(text)]
    for m in _SCORE_NUM.finditer(text):
        out.append((_value(m.group(1) or m.group(2)), "points", m.group(0)))
    return out


def unit_errors(text: str, sources: Sequence[str]) -> list[str]:
    """Numbers stated with a unit the sources do not give them in ("28 points" when the facts say 28%)."""
    known: dict[float, set[str]] = {}
    for source in sources:
        for value, unit, _ in unit_claims(source):
            known.setdefault(value, set()).add(unit)
    problems = [
        f"'{m.group(0).strip()}': a {m.group(1)} is a probability (percent), not points"
        for m in _QUANTITY_UNIT.finditer(text)
    ]
    for value, unit, written in unit_claims(text):
        units = known.get(value)
        if units is None or unit in units:
            continue  # a number the sources lack is the number check's business
        problems.append(
            f"'{written.strip()}': the source gives {value:g} in {', '.join(sorted(units))}, not {unit}"
        )
    return problems


def direction_errors(text: str, sources: Sequence[str]) -> list[str]:
    """A number stated with a direction ("18 points above") that the sources give with the opposite one."""
    known: dict[tuple[float, str], set[int]] = {}
    for source in sources:
        for m in _DIRECTED.finditer(source):
            known.setdefault((_value(m.group(1)), _UNITS[m.group(2).lower()]), set()).add(
                _SIGN[m.group(3).lower()]
            )
    problems = []
    for m in _DIRECTED.finditer(text):
        signs = known.get((_value(m.group(1)), _UNITS[m.group(2).lower()]))
        if signs and _SIGN[m.group(3).lower()] not in signs:
            problems.append(f"'{m.group(0)}': the source states the opposite direction")
    return problems


def unsupported_words(text: str, sources: Iterable[str], generic: frozenset[str] = GENERIC) -> list[str]:
    """Content words of `text` (English) that no source contains and that are not generic vocabulary."""
    supported = {_stem(w) for s in sources for w in _WORD.findall(s)}
    supported |= {_stem(w) for w in generic}
    out: list[str] = []
    for w in _WORD.findall(text):
        for part in w.split("-"):
            if part and _stem(part) not in supported and part.lower() not in out:
                out.append(part.lower())
    return out


def ungrounded(text: str, sources: Sequence[str], generic: frozenset[str] = GENERIC) -> list[str]:
    """Every claim of `text` the sources do not support: unit errors, then unsupported words (empty = grounded)."""
    problems = unit_errors(text, sources) + direction_errors(text, sources)
    words = unsupported_words(text, sources, generic)
    if words:
        problems.append("not in the source: " + ", ".join(words[:12]))
    return problems
