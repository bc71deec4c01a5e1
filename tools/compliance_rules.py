"""Compliance rules for outgoing advisory text, in English and Chinese.

Categories (field names fixed by CONTRACTS.md):

- `guaranteed_return`: promised or guaranteed returns, "risk-free", 保本保息, 稳赚不赔 ...
- `misleading_claim`: performance predictions stated as fact, "never lost money", superlatives, past
  performance presented as a guarantee of future results ...
- `missing_risk_disclosure`: the text recommends a product but says nothing about its risks (only checked
  when the text is a recommendation);
- `suitability`: the product is unsuitable for the client (only when both are given; SUIT-xxx rules);
- `pii`: ID-card numbers, bank cards, phones and emails in the text (`fincopilot.safety.pii.find_pii`).

Every rule has an id (CMP-GR-001 ...; 0xx = English, 1xx = Chinese) so a violation can be cited and
audited. Negated statements ("returns are not guaranteed", 不保证收益, 并非无风险) do not fire: each
pattern either excludes negation words inside its match or is checked for a negation just before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from fincopilot.safety.pii import find_pii
from fincopilot.tools.textnorm import normalize

Category = Literal["guaranteed_return", "misleading_claim", "missing_risk_disclosure", "suitability", "pii"]
CATEGORIES: tuple[str, ...] = (
    "guaranteed_return",
    "misleading_claim",
    "missing_risk_disclosure",
    "suitability",
    "pii",
)


class Violation(BaseModel):
    category: Category
    rule: str = Field(description="rule id, e.g. CMP-GR-001 or SUIT-001")
    span: str = Field(description="the offending text, verbatim")
    reason: str


class ComplianceResult(BaseModel):
    passed: bool
    violations: list[Violation] = Field(default_factory=list)
    produced_by: str = Field(
        "rules", description="what decided: 'rules', or the backend id whose review counted too"
    )


@dataclass(frozen=True)
class PatternRule:
    id: str
    category: str
    language: Literal["en", "zh"]
    pattern: re.Pattern[str]
    reason: str


# A gap of up to n characters inside one clause that contains no negation word.
def _gap(n: int) -> str:
    return rf"(?:(?!\b(?:not|no|never|without)\b|n't)[^.;!?\n]){{0,{n}}}?"


def _zgap(n: int) -> str:
    return rf"[^不非无未没。；！？\n]{{0,{n}}}"


_EN_NEG_BEFORE = re.compile(
    r"\b(?:not|no|never|without|cannot|nor|isn't|aren't|doesn't|don't|won't|is\s+not|are\s+not)"
    r"(?:\s+\w+){0,2}\s*$"
    # "there is no guarantee that the fund ...", "we do not promise that HY-7 ..."
    r"|\b(?:no|not|never|cannot|can't)\s+(?:\w+\s+)?(?:guarantee|assurance|promise|assure|say|"
    r"claim)\s+that\b[^.;!?]*$",
    re.IGNORECASE,
)
_ZH_NEG_BEFORE = re.compile(r"(?:不|非|无|未|没有|没|并非|绝非|不是|不能|不会)[^。；！？\n]{0,2}$")

_I = re.IGNORECASE
_RULE_LIST: tuple[PatternRule, ...] = (
    # ---- guaranteed_return, English
    PatternRule(
        "CMP-GR-001",
        "guaranteed_return",
        "en",
        re.compile(
            rf"\bguarantee[sd]?\b{_gap(40)}\b(?:returns?|yields?|income|profits?|gains?|payouts?|interest|"
            rf"principal|capital|coupons?)\b",
            _I,
        ),
        "promises a guaranteed return or guaranteed capital",
    ),
    PatternRule(
        "CMP-GR-002",
        "guaranteed_return",
        "en",
        re.compile(
            r"\b(?:returns?|yields?|income|profits?|gains?|principal|capital|payouts?)\s+(?:is|are|will\s+be|remains?)"
            r"\s+(?:fully\s+|100%\s+|completely\s+)?guaranteed\b",
            _I,
        ),
        "states that returns or capital are guaranteed",
    ),
    PatternRule(
        "CMP-GR-003",
        "guaranteed_return",
        "en",
        re.compile(
            r"\b(?:risk[- ]free(?!\s+(?:rate|asset|interest|yield|curve|benchmark|government|treasur|sovereign|bond))|zero[- ]risk|no[- ]risk(?!\s+(?:disclosure|warning|statement|rating|level|profile))|"
            r"without\s+any\s+risk|can(?:not|'t)\s+lose|impossible\s+to\s+lose|never\s+lose\s+(?:money|a\s+cent)|"
            r"100%\s+safe|completely\s+safe)\b",
            _I,
        ),
        "describes an investment as free of risk",
    ),
    PatternRule(
        "CMP-GR-004",
        "guaranteed_return",
        "en",
        re.compile(
            rf"\b(?:promise[sd]?|assure[sd]?|ensure[sd]?|lock(?:ed)?\s+in)\b{_gap(30)}\d+(?:\.\d+)?\s?%{_gap(25)}"
            r"\b(?:returns?|yields?|gains?|profits?|income|a\s+year|per\s+year|annually)\b",
            _I,
        ),
        "promises a specific return",
    ),
    PatternRule(
        "CMP-GR-005",
        "guaranteed_return",
        "en",
        re.compile(
            r"\b(?:will|shall)\s+(?:definitely|certainly|surely|always)\s+(?:earn|make|return|pay|yield|gain|profit)\b",
            _I,
        ),
        "asserts a certain return",
    ),
    # ---- guaranteed_return, Chinese
    PatternRule(
        "CMP-GR-101",
        "guaranteed_return",
        "zh",
        re.compile(
            r"保本保息|保本保收益|刚性兑付|刚兑|保证(?:[^。；！？\n]{0,6})(?:收益|回报|本金|盈利|利息)|收益有保障|承诺(?:[^。；！？\n]{0,8})(?:收益|回报)"
        ),
        "承诺保本或保证收益 (promises guaranteed principal or returns)",
    ),
    PatternRule(
        "CMP-GR-102",
        "guaranteed_return",
        "zh",
        re.compile(
            r"稳赚不赔|稳赚|只赚不赔|包赚|零风险|无风险(?!利率|收益率|资产|回报率)|没有(?:任何)?风险|绝对安全|百分之百安全|100%安全|不会亏"
        ),
        "宣称投资没有风险 (claims the investment carries no risk)",
    ),
    PatternRule(
        "CMP-GR-103",
        "guaranteed_return",
        "zh",
        re.compile(
            r"(?:一定|肯定|必定|确保|保证)(?:能|会|可以)?(?:赚|盈利|获得\d+(?:\.\d+)?%|取得\d+(?:\.\d+)?%)|保本"
        ),
        "承诺确定的收益 (asserts a certain return)",
    ),
    # ---- misleading_claim, English
    PatternRule(
        "CMP-MC-001",
        "misleading_claim",
        "en",
        re.compile(
            r"\b(?:will|is\s+going\s+to|are\s+going\s+to)\s+(?:definitely\s+|certainly\s+|surely\s+|easily\s+)?"
            r"(?:outperform|beat|double|triple)\b",
            _I,
        ),
        "states a future performance as a fact",
    ),
    PatternRule(
        "CMP-MC-002",
        "misleading_claim",
        "en",
        re.compile(
            r"\b(?:has\s+|have\s+)?never\s+(?:(?:once|ever|yet)\s+)?(?:lost\s+money|had\s+a\s+(?:losing|down|negative)\s+(?:year|quarter|month)|"
            r"lost\s+value|fallen|declined)\b|\balways\s+(?:outperforms?|outperformed|beats?|beaten|goes?\s+up|"
            r"delivers?\s+positive)\b",
            _I,
        ),
        "claims an unbroken performance record",
    ),
    PatternRule(
        "CMP-MC-003",
        "misleading_claim",
        "en",
        re.compile(
            rf"\bpast\s+(?:performance|returns?|results?)\b{_gap(30)}\b(?:guarantees?|ensures?|proves?|predicts?|"
            r"(?:is|are)\s+(?:a\s+)?guarantee|indicates?\s+future|shows?\s+what\s+you\s+will)\b",
            _I,
        ),
        "presents past performance as a guide to future results",
    ),
    PatternRule(
        "CMP-MC-004",
        "misleading_claim",
        "en",
        re.compile(
            r"\b(?:the\s+best(?:-performing)?|best[- ]performing|number\s+one|no\.\s?1|#1|top[- ]performing)\s+"
            r"(?:fund|product|investment|bond\s+fund|equity\s+fund)\b(?:\s+(?:in|on)\s+the\s+(?:market|world|country|industry))?"
            r"|\b(?:can\s+only|only\s+goes?|will\s+only)\s+go\s+up\b|\bno\s+downside\b|\bcan(?:not|'t)\s+(?:fall|go\s+down)\b",
            _I,
        ),
        "uses an unsubstantiated superlative or one-sided claim",
    ),
    # ---- misleading_claim, Chinese
    PatternRule(
        "CMP-MC-101",
        "misleading_claim",
        "zh",
        re.compile(
            r"只涨不跌|稳涨|必涨|(?:一定|肯定|必将|必然|注定)(?:会|能)?(?:上涨|涨|跑赢|翻倍|超越)|轻松翻倍"
        ),
        "把未来业绩说成确定事实 (states future performance as certain)",
    ),
    PatternRule(
        "CMP-MC-102",
        "misleading_claim",
        "zh",
        re.compile(r"从未亏损|从来没有亏损|从没亏过|从来没亏过|永不亏损|每年都(?:是)?正收益|一直跑赢"),
        "宣称业绩从未亏损 (claims an unbroken performance record)",
    ),
    PatternRule(
        "CMP-MC-103",
        "misleading_claim",
        "zh",
        re.compile(
            r"最好的(?:基金|产品|投资)|业绩第一|排名第一的(?:基金|产品)|全市场最佳|市场上最好|收益最高的(?:基金|产品)"
        ),
        "使用无依据的最高级表述 (unsubstantiated superlative)",
    ),
    PatternRule(
        "CMP-MC-104",
        "misleading_claim",
        "zh",
        re.compile(
            rf"(?:过往|历史|过去的?)业绩{_zgap(4)}(?:保证|代表|预示|说明|证明)(?:了)?(?:未来|今后|以后)"
        ),
        "以过往业绩暗示未来收益 (presents past performance as a guide to the future)",
    ),
)
# Past-performance rules first: "past performance guarantees gains" is a misleading claim, not a promise.
_FIRST = ("CMP-MC-003", "CMP-MC-104")
RULES: tuple[PatternRule, ...] = tuple(r for r in _RULE_LIST if r.id in _FIRST) + tuple(
    r for r in _RULE_LIST if r.id not in _FIRST
)

# ---- recommendation and risk disclosure
RECOMMENDATION = (
    re.compile(
        r"\b(?:i|we)\s+(?:would\s+)?(?:strongly\s+)?(?:recommend|suggest|advise)\b|\byou\s+should\s+"
        r"(?:buy|invest|consider|add|put|switch|subscribe)\b|\b(?:recommend(?:ed|s)?|suggest(?:ed|s)?)\s+"
        r"(?:buying|investing|adding|subscribing|that\s+(?:you|the\s+client))\b|\b(?:is|are)\s+(?:a\s+)?"
        r"(?:good|great|suitable|ideal|strong)\s+(?:fit|choice|option|buy)\b|\bconsider\s+(?:buying|investing|"
        r"adding)\b|\bbuy\s+(?:now|more)\b|\brecommendation\s*:",
        _I,
    ),
    re.compile(
        r"建议(?:您|你|客户)?(?:买入|购买|配置|投资|申购|认购|考虑|增持)|推荐|适合(?:您|你|该客户|客户)|"
        r"值得(?:买|投资|配置|申购)|可以(?:买入|购买|配置|申购|认购)"
    ),
)
DISCLOSURE = (
    re.compile(
        r"\binvestments?\s+(?:involves?|carr(?:y|ies))\s+risks?\b|\brisks?\s+(?:include|including|such\s+as)"
        r"\b|\b(?:may|might|could|can)\s+(?:lose|fall|decline|drop|go\s+down|lose\s+value)\b|\bnot\s+guaranteed\b|"
        r"\bpast\s+performance\s+(?:is|does)\s+not\b|\b(?:principal|capital)\s+(?:is\s+)?at\s+risk\b|"
        r"\bsubject\s+to\s+(?:market|credit|interest[- ]rate|liquidity|default)\s+risks?\b|\brisk\s+disclosure\b|"
        r"\bcarr(?:y|ies)\s+(?:\w+[, ]+){0,4}(?:credit|interest[- ]rate|market|liquidity|default)\s+risks?\b|"
        r"\b(?:the\s+)?risks?\s+(?:of|that)\s+(?:loss|default|losing)\b",
        _I,
    ),
    re.compile(
        r"投资有风险|风险提示|风险揭示|可能(?:会)?(?:出现)?(?:亏损|损失|下跌|亏本)|本金(?:存在)?(?:损失)?风险|不保证|"
        r"不作保证|过往业绩不代表|存在[^。]{0,10}风险|面临[^。]{0,14}风险|请谨慎|谨慎投资|市场有风险"
    ),
)


def risk_disclosure(products: Sequence[str], zh: bool = False) -> str:
    """The risk disclosure the compliance gate adds to an answer that recommends `products` (one wording)."""
    if zh:
        return f"投资有风险：{'、'.join(products)}可能亏损，收益不作保证。"
    return (
        f"Investment involves risk: {' and '.join(products)} may lose value and returns are not guaranteed."
    )


PII_RULES = {
    "id_card": ("CMP-PII-001", "contains a national ID-card number"),
    "bank_card": ("CMP-PII-002", "contains a bank-card number"),
    "phone": ("CMP-PII-003", "contains a phone number"),
    "email": ("CMP-PII-004", "contains an email address"),
}
RD_RULES = {"en": "CMP-RD-001", "zh": "CMP-RD-101"}

_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]?")


def _negated(text: str, start: int, language: str) -> bool:
    before = text[max(0, start - 60) : start]
    if language == "en":
        return bool(_EN_NEG_BEFORE.search(before))
    return bool(_ZH_NEG_BEFORE.search(before))


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    for m in _SENTENCE.finditer(text):
        if m.start() <= start < m.end():
            return m.start(), m.end()
    return start, end


def pattern_violations(text: str) -> list[Violation]:
    """guaranteed_return and misleading_claim violations (both languages), one per rule and span.

    The patterns run on the normalized view (`tools.textnorm`); each span quotes the original text.
    """
    norm = normalize(text)
    view = norm.text
    out: list[Violation] = []
    taken: list[tuple[int, int]] = []
    for rule in RULES:
        for m in rule.pattern.finditer(view):
            if _negated(view, m.start(), rule.language):
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue  # one violation per span (the first, most specific rule wins)
            taken.append((m.start(), m.end()))
            out.append(
                Violation(
                    category=rule.category,
                    rule=rule.id,
                    span=norm.original_text(m.start(), m.end()),  # type: ignore[arg-type]
                    reason=rule.reason,
                )
            )
    return out


def _recommendation_bounds(text: str) -> tuple[str, int, int] | None:
    for lang, pattern in zip(("en", "zh"), RECOMMENDATION):
        for m in pattern.finditer(text):
            if not _negated(text, m.start(), lang):
                return (lang, *_sentence_bounds(text, m.start(), m.end()))
    return None


def has_risk_disclosure(text: str) -> bool:
    return any(p.search(text) for p in DISCLOSURE)


def disclosure_violations(text: str) -> list[Violation]:
    norm = normalize(text)
    rec = _recommendation_bounds(norm.text)
    if rec is None or has_risk_disclosure(norm.text):
        return []
    lang, start, end = rec
    sentence = norm.original_text(start, end).strip()
    reason = (
        "recommends a product without any risk disclosure"
        if lang == "en"
        else "推荐产品但未作风险提示 (recommends a product without any risk disclosure)"
    )
    return [Violation(category="missing_risk_disclosure", rule=RD_RULES[lang], span=sentence, reason=reason)]


def pii_violations(text: str) -> list[Violation]:
    """ID cards, bank cards, phones and emails (client ids and names are internal references, not flagged here)."""
    out = []
    for m in find_pii(text):
        if m.kind in PII_RULES:
            rule, reason = PII_RULES[m.kind]
            out.append(Violation(category="pii", rule=rule, span=m.text, reason=reason))
    return out


def suitability_result_violations(text: str, result) -> list[Violation]:
    code = result.product_code
    idx = text.upper().find(code.upper())
    span = text[idx : idx + len(code)] if idx >= 0 else code
    return [
        Violation(category="suitability", rule=v.rule, span=span, reason=v.reason) for v in result.violations
    ]
