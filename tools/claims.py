"""Claim checking: each number in a text is checked WITH its claim against the source sentence it came from.

A number alone proves little: "a 3.39% increase in net assets" contains a source number, yet the report said
the NAV *fell* 3.39%. For every number in the text, `check_claims` reads its claim:

- quantity: what the number describes (NAV, fund size, yield, return, default rate, fee, duration, spread,
  coupon, drawdown, volatility, date), from the nearest quantity word in its clause;
- direction: up or down (rose/fell, increase/decrease, 上涨/下跌, 增/降, an explicit + or − sign);
- period: the quarter, half-year, year-to-date or trailing window it refers to (Q3, over the quarter,
  year to date, 近一季度, 今年以来, 过去12个月);
- unit: %, bp, years, a scale (亿, billion).

It then looks for a source sentence with the same value (formatting- and rounding-tolerant, `tools.numbers`)
whose claim agrees on every attribute both sides state. A claim with no such sentence is unsupported, with the
reason (invented number, wrong quantity, flipped direction, wrong period, wrong unit). Degenerate text (empty,
the title alone, a generation loop, a doubled word) is rejected before any claim is read.

`check_claims(text, sources)` is the one entry point: the report summarizer uses it on model summaries, and a
knowledge-base skill can use it on answers against retrieved passages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from fincopilot.tools.numbers import NumberMention, _matches, extract_numbers

# longest phrases first, so "net asset value" wins over "net assets" and 到期收益率 over 收益率
_QUANTITIES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        (
            ("net asset value", "nav"),
            ("nav", "nav"),
            ("unit value", "nav"),
            ("price per unit", "nav"),
            ("单位净值", "nav"),
            ("净值", "nav"),
            ("net assets", "fund_size"),
            ("assets under management", "fund_size"),
            ("fund size", "fund_size"),
            ("aum", "fund_size"),
            ("基金资产净值", "fund_size"),
            ("资产净值", "fund_size"),
            ("基金规模", "fund_size"),
            ("规模", "fund_size"),
            ("yield to maturity", "yield"),
            ("ytm", "yield"),
            ("yield", "yield"),
            ("到期收益率", "yield"),
            ("七日年化", "yield"),
            ("7-day", "yield"),
            ("return", "return"),
            ("performance", "return"),
            ("收益率", "return"),
            ("回报", "return"),
            ("涨幅", "return"),
            ("default rate", "default_rate"),
            ("defaults", "default_rate"),
            ("default", "default_rate"),
            ("违约率", "default_rate"),
            ("违约", "default_rate"),
            ("management fee", "fee"),
            ("custody fee", "fee"),
            ("subscription fee", "fee"),
            ("fee", "fee"),
            ("管理费", "fee"),
            ("托管费", "fee"),
            ("申购费", "fee"),
            ("费率", "fee"),
            ("duration", "duration"),
            ("久期", "duration"),
            ("spread", "spread"),
            ("利差", "spread"),
            ("coupon", "coupon"),
            ("票息", "coupon"),
            ("drawdown", "drawdown"),
            ("回撤", "drawdown"),
            ("volatility", "volatility"),
            ("波动率", "volatility"),
            ("daily income", "income"),
            ("日收益", "income"),
            ("initial level", "underlying"),
            ("期初价格", "underlying"),
            ("leverage", "leverage"),
            ("杠杆", "leverage"),
            ("cash", "cash"),
            ("现金", "cash"),
        ),
        key=lambda kv: -len(kv[0]),
    )
)
_QUANTITY_RE = re.compile(
    "|".join(
        rf"(?<![a-z]){re.escape(k)}(?![a-z])" if k.isascii() else re.escape(k) for k, _ in _QUANTITIES
    ).replace("(?<![a-z])yield(?![a-z])", r"(?<![a-z])yield(?![a-z])(?!\s+(?:bond|fund|note))"),
    re.IGNORECASE,
)
_QUANTITY_OF = {k: v for k, v in _QUANTITIES}

_UP = re.compile(
    r"\b(?:up|rose|rise[sn]?|rising|increase[sd]?|increasing|gain(?:ed|s)?|grew|grow(?:s|n)?|higher|"
    r"climb(?:ed|s)?|widen(?:ed|s)?|improv(?:ed|es))\b|上涨|上升|增长|增加|提高|走阔|上行|涨|增",
    re.IGNORECASE,
)
_DOWN = re.compile(
    r"\b(?:down|fell|fall(?:s|en)?|falling|decrease[sd]?|decreasing|decline[sd]?|drop(?:ped|s)?|"
    r"lost|lower|shr[ua]nk|tighten(?:ed|s)?|loss)\b|下跌|下降|减少|降低|收窄|下行|回落|亏损|跌|降|减",
    re.IGNORECASE,
)
_PERIODS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\bQ([1-4])\b|\b(first|second|third|fourth) quarter\b|([一二三四1-4])季度", re.IGNORECASE
        ),
        "q",
    ),
    (
        re.compile(
            r"\byear[- ]to[- ]date\b|\bytd\b|今年以来|年初至今|\bsince (?:the start of )?(?:the )?year\b",
            re.IGNORECASE,
        ),
        "ytd",
    ),
    (
        re.compile(
            r"\b(?:over|in|during|for) the (?:last |past )?quarter\b|\bquarterly\b|近一季度|本季度|上季度|"
            r"\bthis quarter\b|\blast quarter\b",
            re.IGNORECASE,
        ),
        "quarter",
    ),
    (
        re.compile(
            r"\b(?:trailing )?12[- ]month\b|过去12个月|近12个月|\bover the (?:last|past) year\b",
            re.IGNORECASE,
        ),
        "12m",
    ),
    (re.compile(r"\bH([12])\b|\b(first|second) half\b|([上下])半年", re.IGNORECASE), "h"),
)
_ORDINAL = {
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "上": "1",
    "下": "2",
}
_UNIT_AFTER = re.compile(
    r"\s*(years?|yrs?|年|months?|个月|days?|天|bonds|holdings|只|元|yuan|CNY|USD)", re.IGNORECASE
)
_NAME = re.compile(r"\b(?:[A-Z][a-z]+\s+)+(?:Fund|Note|Bond|Plan|Portfolio)\b")  # product names
_SENTENCE = re.compile(r".+?(?:[.!?](?=\s|$)|[。！？]|\n|$)", re.DOTALL)
_CLAUSE_BREAK = re.compile(r"[;；。!?！？\n]|，|,(?=\s)")


class Claim(BaseModel):
    """One number in the checked text, with what it claims and whether a source sentence supports it."""

    text: str = Field(description="the number as written")
    value: float
    quantity: str | None = None
    direction: str | None = Field(None, description="up | down | None")
    period: str | None = None
    unit: str | None = None
    supported: bool
    reason: str = ""
    source_sentence: str | None = Field(
        None, description="the source sentence that supports (or contradicts) it"
    )


class ClaimReport(BaseModel):
    """The verdict on a text: ok only when it is not degenerate and every claim is supported."""

    ok: bool
    claims: list[Claim] = Field(default_factory=list)
    degenerate: str | None = Field(None, description="why the text is degenerate (empty, title only, loop)")
    reasons: list[str] = Field(default_factory=list)

    @property
    def unsupported(self) -> list[Claim]:
        return [c for c in self.claims if not c.supported]

    @property
    def faithfulness(self) -> float:
        """Share of claims supported (1.0 when there are none)."""
        return 1.0 - len(self.unsupported) / len(self.claims) if self.claims else 1.0


def split_sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCE.finditer(text or "") if m.group(0).strip()]


def _clause_bounds(sentence: str, pos: int) -> tuple[int, int]:
    start, end = 0, len(sentence)
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.end() <= pos:
            start = m.end()
        elif m.start() >= pos:
            end = m.start()
            break
    return start, end


def _nearest(pattern: re.Pattern[str], before: str, after: str) -> re.Match[str] | None:
    """The last match in `before`, else the first in `after`."""
    hits = list(pattern.finditer(before))
    return hits[-1] if hits else pattern.search(after)


def _period_of(before: str, after: str) -> str | None:
    for text in (after, before):
        for pattern, kind in _PERIODS:
            m = pattern.search(text)
            if m:
                tail = next((g for g in m.groups() if g), None) if m.groups() else None
                return kind + _ORDINAL.get((tail or "").lower(), tail or "")
    return None


def read_claims(sentence: str) -> list[tuple[NumberMention, dict[str, str | None]]]:
    """Every number in `sentence` with its quantity, direction, period and unit (None where unstated)."""
    mentions = extract_numbers(sentence)
    named = _NAME.sub(lambda m: " " * len(m.group(0)), sentence)  # "High Yield Bond Fund" names no quantity
    out = []
    for i, m in enumerate(mentions):
        c_start, c_end = _clause_bounds(sentence, m.start)
        prev_end = max(c_start, mentions[i - 1].end if i else 0)
        next_start = min(c_end, mentions[i + 1].start if i + 1 < len(mentions) else c_end)
        before, after = sentence[prev_end : m.start], sentence[m.end : max(m.end, next_start)]
        q = _nearest(
            _QUANTITY_RE, named[prev_end : m.start], named[m.end : max(m.end, next_start)]
        ) or _nearest(_QUANTITY_RE, named[: m.start], "")
        unit_m = _UNIT_AFTER.match(sentence, m.end)
        unit = m.unit or (unit_m.group(1).lower() if unit_m else None)
        quantity = _QUANTITY_OF.get(q.group(0).lower(), _QUANTITY_OF.get(q.group(0))) if q else None
        if _is_date_part(m, unit, sentence):
            quantity, unit = "date", None
        out.append(
            (
                m,
                {
                    "quantity": quantity,
                    "direction": _direction(m, before, after),
                    "period": _period_of(before, after),
                    "unit": _unit_class(unit),
                },
            )
        )
    return out


def _is_date_part(m: NumberMention, unit: str | None, sentence: str) -> bool:
    """A year (2026, 2026年), or a month/day written next to 月/日 or a month name."""
    if m.unit is None and m.decimals == 0 and 1900 <= m.value <= 2100:
        return True
    tail = sentence[m.end : m.end + 1]
    return (
        m.unit is None
        and m.decimals == 0
        and (
            tail in ("月", "日")
            or bool(
                re.match(
                    r"\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
                    sentence[m.end :],
                    re.IGNORECASE,
                )
            )
        )
    )


def _direction(m: NumberMention, before: str, after: str) -> str | None:
    """An explicit sign, else the direction word nearest the number (before it, else after it)."""
    if m.text.startswith("+"):
        return "up"
    if m.text.startswith(("-", "−")):
        return "down"
    up, down = list(_UP.finditer(before)), list(_DOWN.finditer(before))
    if up or down:
        return "up" if (up[-1].start() if up else -1) > (down[-1].start() if down else -1) else "down"
    up_a, down_a = _UP.search(after), _DOWN.search(after)
    if up_a or down_a:
        return "up" if (up_a.start() if up_a else 10**9) < (down_a.start() if down_a else 10**9) else "down"
    return None


def _unit_class(unit: str | None) -> str | None:
    if unit is None:
        return None
    u = unit.lower()
    if u in ("year", "years", "yr", "yrs", "年"):
        return "years"
    if u in ("month", "months", "个月"):
        return "months"
    if u in ("day", "days", "天"):
        return "days"
    if u in ("%", "bp"):
        return "rate"
    if u in (
        "元",
        "yuan",
        "cny",
        "usd",
        "亿",
        "万",
        "千",
        "k",
        "m",
        "mn",
        "b",
        "bn",
        "thousand",
        "million",
        "billion",
        "trillion",
    ):
        return "amount"
    return None


# ------------------------------------------------------------------------------------------- verdicts
_ATTRS = ("quantity", "direction", "period", "unit")
_WORD = re.compile(r"[a-z]+|[\u4e00-\u9fff]", re.IGNORECASE)


def degenerate_reason(text: str, sources: Iterable[str] = ()) -> str | None:
    """Why `text` is not a usable summary or answer (None when it is)."""
    stripped = (text or "").strip()
    if not stripped:
        return "empty text"
    words = _WORD.findall(stripped.lower())
    if len(stripped) < 20 or len(words) < 4:
        return f"too short to be a summary ({len(stripped)} characters)"
    doubled = re.search(r"\b([a-z]{3,})\s+\1\b", stripped, re.IGNORECASE)
    if doubled:
        return f"generation loop: the word {doubled.group(1)!r} is repeated"
    if len(words) >= 12 and len(set(words)) / len(words) < 0.45:
        return "generation loop: most words repeat"
    sents = [re.sub(r"\W+", " ", s.lower()).strip() for s in split_sentences(stripped)]
    if len(sents) != len(set(sents)):
        return "generation loop: a sentence is repeated"
    key = re.sub(r"\W+", " ", stripped.lower()).strip()
    for src in sources:
        lines = (src or "").strip().split("\n", 1)
        if len(lines) < 2:  # no title line above a body
            continue
        first = re.sub(r"\W+", " ", lines[0].lower()).strip()
        if first and len(first) < 200 and key and key in first:
            return "the title only, no content"
    return None


def _pool(sources: Iterable[str]) -> list[tuple[str, NumberMention, dict[str, str | None]]]:
    return [
        (sent, m, attrs) for src in sources for sent in split_sentences(src) for m, attrs in read_claims(sent)
    ]


def _disagreement(claim: dict[str, str | None], source: dict[str, str | None]) -> str | None:
    """Every attribute both state differently (a direction the source does not state counts too), or None."""
    problems = []
    if claim.get("unit") == "rate" and source.get("unit") != "rate":
        problems.append("unit: the text gives a percentage, the source a plain figure")
    for attr in _ATTRS:
        a, b = claim.get(attr), source.get(attr)
        if a is not None and b is not None and a != b and not (attr == "unit" and problems):
            problems.append(f"{attr}: the text says {a}, the source says {b}")
    if claim.get("direction") and not source.get("direction"):
        problems.append(f"direction: the text says {claim['direction']}, the source states none")
    return "; ".join(problems) or None


def _judge(m: NumberMention, attrs: dict[str, str | None], pool) -> Claim:
    same_value = [(sent, sm, sa) for sent, sm, sa in pool if _matches(m, sm) and not (m.value * sm.value < 0)]
    base = {"text": m.text, "value": m.value, **attrs}
    if not same_value:
        return Claim(**base, supported=False, reason=f"{m.text}: no source states this number")
    problems = []
    for sent, _sm, sa in same_value:
        why = _disagreement(attrs, sa)
        if why is None:
            return Claim(**base, supported=True, source_sentence=sent)
        problems.append((why, sent))
    why, sent = problems[0]
    return Claim(**base, supported=False, reason=f"{m.text}: {why}", source_sentence=sent)


def check_claims(text: str, sources: Iterable[str], *, check_degenerate: bool = True) -> ClaimReport:
    """Check every number in `text` with its claim against `sources` (see the module docstring)."""
    sources = [s for s in sources if isinstance(s, str)]
    degenerate = degenerate_reason(text, sources) if check_degenerate else None
    if degenerate:
        return ClaimReport(ok=False, degenerate=degenerate, reasons=[degenerate])
    pool = _pool(sources)
    claims = [_judge(m, attrs, pool) for sent in split_sentences(text) for m, attrs in read_claims(sent)]
    reasons = [c.reason for c in claims if not c.supported]
    return ClaimReport(ok=not reasons, claims=claims, reasons=reasons)
