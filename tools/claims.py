"""Claim checking: each number in a text is checked WITH its claim against the source sentence it came from.

A number alone proves little: "a 3.39% increase in net assets" contains a source number, yet the report said
the NAV *fell* 3.39%. For every number in the text, `check_claims` reads its claim:

- quantity: what the number describes (NAV, fund size, yield, return, default rate, fee, duration, spread,
  coupon, drawdown, volatility, date), from the nearest quantity word in its clause;
- direction: up or down (rose/fell, slipped, cut, 上涨/下跌, 增/降, 缩短, 減少, an explicit + or − sign), from
  the number's own clause; a move between two stated levels ("from Y to X", "X, up from Y", "由Y降至X",
  "X（上月 Y）") gives both levels its direction, stated or, in a source only, derived from the levels;
- period: the quarter, half-year, year-to-date or trailing window it refers to (Q3, over the quarter,
  year to date, 近一季度, 今年以来, 过去12个月);
- unit: %, bp, years, a scale (亿, billion).

It then looks for a source sentence with the same value (formatting- and rounding-tolerant, `tools.numbers`)
whose claim agrees on every attribute both sides state ("the quarter" is the report's own quarter when its
title names one; a NAV change in % is a return; a signed rate is a rate with that direction). A claim with no
such sentence is unsupported, with the reason (invented number, wrong quantity, flipped direction, wrong
period, wrong unit). Degenerate text (empty,
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
            ("單位淨值", "nav"),
            ("净值", "nav"),
            ("淨值", "nav"),
            ("net assets", "fund_size"),
            ("assets under management", "fund_size"),
            ("fund size", "fund_size"),
            ("aum", "fund_size"),
            ("基金资产净值", "fund_size"),
            ("基金資產淨值", "fund_size"),
            ("资产净值", "fund_size"),
            ("資產淨值", "fund_size"),
            ("基金规模", "fund_size"),
            ("基金規模", "fund_size"),
            ("规模", "fund_size"),
            ("規模", "fund_size"),
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
            ("回報", "return"),
            ("涨幅", "return"),
            ("default rate", "default_rate"),
            ("defaults", "default_rate"),
            ("default", "default_rate"),
            ("违约率", "default_rate"),
            ("違約率", "default_rate"),
            ("违约", "default_rate"),
            ("違約", "default_rate"),
            ("management fee", "fee"),
            ("custody fee", "fee"),
            ("subscription fee", "fee"),
            ("fee", "fee"),
            ("管理费", "fee"),
            ("管理費", "fee"),
            ("托管费", "fee"),
            ("託管費", "fee"),
            ("申购费", "fee"),
            ("申購費", "fee"),
            ("费率", "fee"),
            ("費率", "fee"),
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
            ("波動率", "volatility"),
            ("daily income", "income"),
            ("日收益", "income"),
            ("initial level", "underlying"),
            ("期初价格", "underlying"),
            ("leverage", "leverage"),
            ("杠杆", "leverage"),
            ("槓桿", "leverage"),
            ("cash", "cash"),
            ("现金", "cash"),
            ("現金", "cash"),
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

# direction words, EN and ZH (simplified and traditional); 涨/漲/升/增 and 跌/降/减/減 cover their compounds, except
# 增强 ("enhanced", as in 指数增强基金: a fund's name, not a move)
_UP = re.compile(
    r"\b(?:up|rose|rise[sn]?|rising|increase[sd]?|increasing|gain(?:ed|s)?|grew|grow(?:s|n)?|higher|"
    r"climb(?:ed|s)?|widen(?:ed|s)?|improv(?:ed|es)|jump(?:ed|s)?|surge[sd]?|soar(?:ed|s)?|advance[sd]?|"
    r"rall(?:ied|ies|y)|rebound(?:ed|s)?|raise[sd]?|lift(?:ed|s)?|expand(?:ed|s)?|boost(?:ed|s)?|"
    r"lengthen(?:ed|s)?)\b|走阔|走闊|上行|攀升|走高|扩大|擴大|延长|延長|上调|上調|提高|涨|漲|升|增(?![强強])",
    re.IGNORECASE,
)
_DOWN = re.compile(
    r"\b(?:down|fell|fall(?:s|en)?|falling|decrease[sd]?|decreasing|decline[sd]?|drop(?:ped|s)?|"
    r"lost|lower(?:ed|s)?|shr[ua]nk|tighten(?:ed|s)?|loss|slip(?:ped|s)?|slid(?:e|es)?|cut(?:s)?|"
    r"trim(?:med|s)?|reduc(?:e|ed|es|ing)|eas(?:ed|es)|dip(?:ped|s)?|narrow(?:ed|s)?|shorten(?:ed|s)?|"
    r"contract(?:ed|s)?|plunge[sd]?|tumble[sd]?|sank|sinks?|retreat(?:ed|s)?|weaken(?:ed|s)?)\b|"
    r"收窄|下行|回落|亏损|虧損|缩短|縮短|下滑|走低|下调|下調|收缩|收縮|缩小|縮小|下挫|跌|降|减|減",
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
            r"\byear[- ]to[- ]date\b|\bytd\b|今年以[来來]|年初至今|\bsince (?:the start of )?(?:the )?year\b",
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
            r"\b(?:trailing )?12[- ]month\b|(?:过去|過去|近)12[个個]月|\bover the (?:last|past) year\b",
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
    r"\s*(years?|yrs?|年|months?|[个個]月|days?|天|bonds|holdings|只|元|yuan|CNY|USD)", re.IGNORECASE
)
# a number that labels rather than claims: a tenor ("3年期", "7-day", "10-year"); dates are found by _is_date_part
_TENOR = re.compile(r"-(?:day|week|month|year)\b|\s?(?:年期|天期|[个個]月期)", re.IGNORECASE)
_MONTH_NAME = re.compile(r"\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE)
_LEAD_WORD = re.compile(r"\s*[a-z]+", re.IGNORECASE)
# a move between two stated levels; the text between the two levels and just before the first
_CCY = r"(?:\s*(?:CNY|RMB|USD|HKD|EUR|US\$|\$|¥))?\s*"
_FROM_HEAD = re.compile(rf"(?:\bfrom|[由从從](?![于於而])[^\d，。；,;]{{0,8}}?){_CCY}$", re.IGNORECASE)
_TO_HEAD = re.compile(rf"(?:\bto|[至到]){_CCY}$", re.IGNORECASE)
_TO_GAP = re.compile(rf"[^\d,，;；。]{{0,30}}?(?:\bto\b|[至到])[^\d,，;；。]{{0,8}}?{_CCY}", re.IGNORECASE)
_FROM_GAP = re.compile(rf"[^\d;；。（(]{{0,40}}?(?:\bfrom|[（(]\s*from){_CCY}", re.IGNORECASE)
_WORD_FROM_GAP = re.compile(  # "X, up from Y", "X on 30 June 2026, up from Y" (the date is masked)
    rf"(?:\s*\b(?:on|at|as of)\b[^\d,，;；。()（）]{{0,24}}?)?\s*[,，(（]?\s*(?P<word>[a-z]+)\s+from{_CCY}",
    re.IGNORECASE,
)
_PRIOR_GAP = re.compile(  # "42%（上月 46%）", "2.35年（上季度末2.80年）", "1.8734 (31 July: 1.8215)"
    r"[^\d\s（(]{0,3}\s*[（(]\s*(?:(?:上月[末底]?|上季度?末|上年末|上期末?|前值|previous|prior|last (?:month|quarter))"
    r"\s*[:：]?|(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*|月[末底]?|年[末底])\s*[:：])"
    + _CCY,
    re.IGNORECASE,
)
_PRIOR_WORD = re.compile(r"上月|上季|上年|上期|前值|\b(?:previous|prior|last)\b", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_OF = re.compile(r"(\d{1,2})月|\b(" + "|".join(_MONTHS) + r")[a-z]*\b", re.IGNORECASE)
_PAREN_GAP = re.compile(r"[^\d()（）]{0,8}[（(]" + _CCY)
_DATED_TAIL = re.compile(r"[^\d()（）,，]{0,12}?\b(?:at|as of|on)\b[^()（）]{0,20}[)）]", re.IGNORECASE)
_COMPARED_GAP = re.compile(
    r"[^;；。]{0,30}?(?:\bcompared (?:with|to)|\bversus|\bvs\.?|相比|对比)" + _CCY, re.IGNORECASE
)
_PRIOR_TAIL = re.compile(
    r"[^\d,，;；。]{0,30}?(?:" + _PRIOR_WORD.pattern + r"|\bearlier\b|\bago\b|去年同期)", re.IGNORECASE
)
_JOINED = re.compile(r"\b(?:and|while|whereas|but)\b", re.IGNORECASE)  # two clauses, not one move
_NAME = re.compile(r"\b(?:[A-Z][a-z]+\s+)+(?:Fund|Note|Bond|Plan|Portfolio)\b")  # product names
_SENTENCE = re.compile(r".+?(?:[.!?](?=\s|$)|[。！？]|\n|$)", re.DOTALL)
_CLAUSE_BREAK = re.compile(r"[;；。!?！？\n]|，|,(?=\s)|\s(?:and|while|whereas|but)\s", re.IGNORECASE)


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


def _window(
    mentions: list[NumberMention], labels: list[bool], i: int, sentence: str
) -> tuple[int, int, bool, bool]:
    """The span a number's claim words are read from: its clause, cut at the neighbouring numbers that claim
    something (a date or a tenor does not cut it), and whether such a number precedes / follows in the clause."""
    m = mentions[i]
    c_start, c_end = _clause_bounds(sentence, m.start)
    claimers = [n for j, n in enumerate(mentions) if j != i and not labels[j]]
    prev = next((n for n in reversed(claimers) if n.end <= m.start), None)
    nxt = next((n for n in claimers if n.start >= m.end), None)
    has_prev, has_next = bool(prev and prev.end > c_start), bool(nxt and nxt.start < c_end)
    lo = prev.end if has_prev and prev else c_start
    hi = nxt.start if has_next and nxt else c_end
    return lo, max(m.end, hi), has_prev, has_next


def read_claims(sentence: str) -> list[tuple[NumberMention, dict[str, str | None]]]:
    """Every number in `sentence` with its quantity, direction, period and unit (None where unstated), plus
    `derived_direction`: the move between two stated levels written with no direction word ("from 1.58% to
    1.47%", "42%（上月 46%）"), which may support a direction a text states but never states one itself."""
    mentions = extract_numbers(sentence)
    named = _NAME.sub(lambda m: " " * len(m.group(0)), sentence)  # "High Yield Bond Fund" names no quantity
    labels = [_is_date_part(m, sentence) or bool(_TENOR.match(sentence, m.end)) for m in mentions]
    out = []
    for i, m in enumerate(mentions):
        lo, hi, has_prev, has_next = _window(mentions, labels, i, sentence)
        before, after = sentence[lo : m.start], sentence[m.end : hi]
        q = _nearest(_QUANTITY_RE, named[lo : m.start], named[m.end : hi]) or _nearest(
            _QUANTITY_RE, named[: m.start], ""
        )
        unit_m = _UNIT_AFTER.match(sentence, m.end)
        unit = _unit_class(m.unit or (unit_m.group(1).lower() if unit_m else None))
        quantity = _QUANTITY_OF.get(q.group(0).lower(), _QUANTITY_OF.get(q.group(0))) if q else None
        if _is_date_part(m, sentence):
            quantity, unit = "date", None
        elif quantity == "nav" and unit == "rate":
            quantity = "return"  # the NAV's change in % is the return
        attrs: dict[str, str | None] = {
            "quantity": quantity,
            "direction": None if labels[i] else _direction(m, before, after, has_prev, has_next, quantity),
            "period": _period_of(before, after),
            "unit": unit,
            "derived_direction": None,
        }
        out.append((m, attrs))
    _apply_moves(sentence, labels, out)
    return out


def _is_date_part(m: NumberMention, sentence: str) -> bool:
    """A year (2026, 2026年), or a month/day written next to 月/日 or a month name."""
    if m.unit is None and m.decimals == 0 and 1900 <= m.value <= 2100:
        return True
    tail = sentence[m.end : m.end + 1]
    return (
        m.unit is None
        and m.decimals == 0
        and (tail in ("月", "日") or bool(_MONTH_NAME.match(sentence, m.end)))
    )


def _word_direction(text: str) -> str | None:
    """The direction of the first direction word in `text`."""
    up, down = _UP.search(text), _DOWN.search(text)
    if not (up or down):
        return None
    return "up" if (up.start() if up else 10**9) < (down.start() if down else 10**9) else "down"


def _direction(
    m: NumberMention, before: str, after: str, has_prev: bool, has_next: bool, quantity: str | None
) -> str | None:
    """An explicit sign (not a drawdown's: that is a convention), else the direction word nearest the number in
    its clause, before it, else after it. A word right after the previous number is that number's ("the
    benchmark's 2.15% drop by 127 bp"); after the number, only a word right after it counts when another
    number follows in the clause ("a 20 bp rise in yields would cost 1.1%")."""
    if m.text.startswith(("+", "-", "−")) and quantity != "drawdown":
        return "up" if m.text.startswith("+") else "down"
    lead = _LEAD_WORD.match(before)
    if has_prev and lead and _word_direction(lead.group(0)):
        before = before[lead.end() :]
    hits = [(w.start(), d) for pat, d in ((_UP, "up"), (_DOWN, "down")) for w in pat.finditer(before)]
    if hits:
        return max(hits)[1]
    if has_next:
        lead = _LEAD_WORD.match(after)
        after = lead.group(0) if lead else ""
    return _word_direction(after)


def _move_order(head: str, gap: str, tail: str) -> int:
    """1 when two neighbouring levels are a move from the first to the second ("from Y to X", "由Y降至X"), -1
    from the second to the first ("to X from Y", "X, up from Y", "X（上月 Y）", "X (Y at 30 June)", "X, compared
    with Y for the prior half"), 0 when they are not a move."""
    if _JOINED.search(gap):
        return 0
    if _FROM_HEAD.search(head) and _TO_GAP.fullmatch(gap):
        return 1
    word = _WORD_FROM_GAP.fullmatch(gap)
    backward = (
        (_TO_HEAD.search(head) and _FROM_GAP.fullmatch(gap))
        or (word and _word_direction(word.group("word")))
        or _PRIOR_GAP.fullmatch(gap)
        or (_PAREN_GAP.fullmatch(gap) and _DATED_TAIL.match(tail))
        or (_COMPARED_GAP.fullmatch(gap) and _PRIOR_TAIL.match(tail))
    )
    return -1 if backward else 0


def _apply_moves(sentence: str, labels: list[bool], rows: list[tuple[NumberMention, dict]]) -> None:
    """Both levels of a move take its direction: the one its words state, else (as `derived_direction`) the
    one the two levels show."""
    text = sentence
    for (m, _), lab in zip(rows, labels):
        if lab:  # "由6月末的1.1358升至9月末的1.1402": dates inside a move are not levels
            text = text[: m.start] + " " * (m.end - m.start) + text[m.end :]
    levels = [(m, a) for (m, a), lab in zip(rows, labels) if not lab]
    for (ma, aa), (mb, ab) in zip(levels, levels[1:]):
        head, gap = text[max(0, ma.start - 16) : ma.start], text[ma.end : mb.start]
        order = _move_order(head, gap, text[mb.end : mb.end + 60])
        if not order:
            continue
        old, new = (ma, mb) if order == 1 else (mb, ma)
        stated = _word_direction(gap) or aa["direction"] or ab["direction"]
        derived = _level_direction(old, new)
        for attrs in (aa, ab):
            attrs["direction"] = attrs["direction"] or stated
            attrs["derived_direction"] = None if attrs["direction"] else derived


def _level_direction(old: NumberMention, new: NumberMention) -> str | None:
    if old.unit != new.unit or old.value == new.value:
        return None
    return "up" if new.value > old.value else "down"


def _table_moves(lines: list[str]) -> dict[str, str]:
    """Rows of a two-period table ("| 项目 | 11月末 | 10月末 |" then "| 平均剩余期限 | 87天 | 95天 |") → the
    direction from the older column's level to the newer's."""
    out: dict[str, str] = {}
    order: tuple[int, int] | None = None
    for line in (raw.strip() for raw in lines):
        if not line.startswith("|"):
            order = None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")][1:]
        if order is None:  # the header row
            order = _column_order(cells) or (-1, -1)
            continue
        nums = [extract_numbers(c) for c in cells]
        if order != (-1, -1) and len(cells) == 2 and all(len(n) == 1 for n in nums):
            direction = _level_direction(nums[order[0]][0], nums[order[1]][0])
            if direction:
                out[line] = direction
    return out


def _column_order(cells: list[str]) -> tuple[int, int] | None:
    """(older, newer) column of a header naming two periods: the one called prior (上月, previous), else the
    earlier month."""
    if len(cells) != 2:
        return None
    prior = [bool(_PRIOR_WORD.search(c)) for c in cells]
    if prior.count(True) == 1:
        return (0, 1) if prior[0] else (1, 0)
    months = [_MONTH_OF.search(c) for c in cells]
    if not all(months):
        return None
    nums = [int(m.group(1)) if m.group(1) else _MONTHS.index(m.group(2).lower()[:3]) + 1 for m in months if m]
    if nums[0] == nums[1]:
        return None
    return (0, 1) if nums[0] < nums[1] else (1, 0)


def _unit_class(unit: str | None) -> str | None:
    if unit is None:
        return None
    u = unit.lower()
    if u in ("year", "years", "yr", "yrs", "年"):
        return "years"
    if u in ("month", "months", "个月", "個月"):
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
        "億",
        "万",
        "萬",
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


def _report_quarter(source: str) -> str | None:
    """The quarter a report is about ("q3"), when its title or first sentence names exactly one."""
    named = {
        _period_of(m.group(0), "")
        for sent in split_sentences(source)[:2]
        for m in _PERIODS[0][0].finditer(sent)
    }
    return named.pop() if len(named) == 1 else None


def _pool(sources: Iterable[str]) -> list[tuple[str, NumberMention, dict[str, str | None]]]:
    """Every source claim; its direction is the stated one, else the one its two levels show (derived), and
    `report_quarter` is the quarter "the quarter" / 本季度 means in that report."""
    pool = []
    for src in sources:
        quarter, table = _report_quarter(src), _table_moves(src.split("\n"))
        for sent in split_sentences(src):
            for m, attrs in read_claims(sent):
                direction = attrs["direction"] or attrs["derived_direction"] or table.get(sent)
                pool.append((sent, m, {**attrs, "direction": direction, "report_quarter": quarter}))
    return pool


def _disagreement(claim: dict[str, str | None], source: dict[str, str | None]) -> str | None:
    """Every attribute both state differently (a direction the source does not state counts too), or None.
    In a report about Q3, "Q3" and "the quarter" are the same period."""
    problems = []
    if claim.get("unit") == "rate" and source.get("unit") != "rate":
        problems.append("unit: the text gives a percentage, the source a plain figure")
    for attr in _ATTRS:
        a, b = claim.get(attr), source.get(attr)
        if attr == "period" and {a, b} == {"quarter", source.get("report_quarter")}:
            continue
        if a is not None and b is not None and a != b and not (attr == "unit" and problems):
            problems.append(f"{attr}: the text says {a}, the source says {b}")
    if claim.get("direction") and not source.get("direction"):
        problems.append(f"direction: the text says {claim['direction']}, the source states none")
    return "; ".join(problems) or None


def _same_value(m: NumberMention, attrs: dict, sm: NumberMention, sa: dict) -> bool:
    """The same figure. Of opposite signs only when a sign is a direction both state (a rate: "-7.25%" is
    "下跌7.25%") or a drawdown's sign convention ("-4.9%" = "4.9%")."""
    if not _matches(m, sm):
        return False
    if m.value * sm.value >= 0:
        return True
    if "drawdown" in (attrs["quantity"], sa["quantity"]):
        return True
    return m.unit in ("%", "bp") and bool(attrs["direction"] and sa["direction"])


def _judge(m: NumberMention, attrs: dict[str, str | None], pool) -> Claim:
    same_value = [(sent, sm, sa) for sent, sm, sa in pool if _same_value(m, attrs, sm, sa)]
    base = {"text": m.text, "value": m.value, **{k: attrs[k] for k in _ATTRS}}
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
    reasons = [c.reason for c in claims if not c.supported] + unknown_identifiers(text, sources)
    return ClaimReport(ok=not reasons, claims=claims, reasons=reasons)


# ASCII neighbours only: a code is still a code between Chinese characters (代码SD-308, HY-7的收益)
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_-])[A-Z]{1,4}-\d{1,6}(?![A-Za-z0-9_-])")


def unknown_identifiers(text: str, sources: Iterable[str]) -> list[str]:
    """Product codes and client ids ('HY-7', 'C-1042') in `text` that no source names (an invented entity)."""
    known = {m.group(0) for src in sources for m in _IDENTIFIER.finditer(src or "")}
    return [
        f"{code}: no source names this product or client"
        for code in dict.fromkeys(m.group(0) for m in _IDENTIFIER.finditer(text or ""))
        if code not in known
    ]
