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
    r"\b(?:not|no|never|without|cannot|can't|couldn't|nor|isn't|aren't|doesn't|don't|won't|is\s+not|are\s+not"
    r"|nobody|no\s+one)(?:\s+\w+){0,2}\s*$"
    # "there is no guarantee that the fund ...", "we do not promise that HY-7 ..."
    r"|\b(?:no|not|never|cannot|can't)\s+(?:\w+\s+)?(?:guarantee|assurance|promise|assure|say|"
    r"claim)\s+that\b[^.;!?]*$"
    # "we are unable to guarantee a return", "it is impossible to promise", "no such thing as a guaranteed ..."
    r"|\bnone\s+of\s+(?:\w+\s+){1,3}(?:is|are|was|were)\s+(?:\w+\s+)?$"
    r"|\b(?:unable|impossible|not\s+able)\s+to(?:\s+\w+){0,3}\s*$|\bno\s+such\s+thing\s+as(?:\s+\w+){0,2}\s*$"
    # a negated speech act: "nobody can promise that ...", "I would never tell a client that ...",
    # "don't believe anyone who says ..."
    r"|\b(?:not|no|never|cannot|can't|won't|don't|do\s+not|unable\s+to|impossible\s+to|nobody|no\s+one)\b"
    r"(?:\s+[\w']+){0,3}?\s+(?:guarantee|promise|assure|say|claim|tell|predict|believe)(?:s|d|ed|ing)?\b"
    r"[^.;:!?]{0,50}$",
    re.IGNORECASE,
)
_ZH_NEG_BEFORE = re.compile(
    r"(?:不|非|无|未|没有|没|并非|绝非|不是|不能|不会)[^。；！？\n]{0,2}$"
    # a prohibition or inability just before: 严禁向客户承诺…, 我们无法保证…
    r"|(?:严禁|禁止|不得|切勿|不能|无法|没法|没办法|不可以|不可)[^。；！？\n，,]{0,6}$"
    # a negated speech act: 没有人能承诺…, 我从来不会对客户说…, 不要相信任何声称…
    r"|(?:严禁|禁止|不得|不能|不会|不可|无法|没法|切勿|不要|别|从不|从来不|决不|绝不|谁也|谁都|没有人|没人)"
    r"[^。；！？\n，,]{0,8}(?:承诺|保证|担保|宣称|声称|说|宣传|相信|预测|讲)[^。；！？\n]{0,12}$"
)
# "Guaranteed returns do not exist", 保本这回事不存在: a claim denied just after it.
_EN_NEG_AFTER = re.compile(
    r"^[^.;!?]{0,30}?\b(?:do(?:es)?\s+not|don't|doesn't)\s+exist\b|^[^.;!?]{0,30}?\b(?:is|are)\s+(?:a\s+)?myths?\b"
    # "a guaranteed return is something no honest adviser can offer"
    r"|^[^.;!?]{0,30}?\b(?:no(?:\s+\w+){1,2}|nobody|no\s+one)\s+(?:can|could|will)\s+(?:offer|give|promise|"
    r"provide|deliver|guarantee)\b",
    re.IGNORECASE,
)
_ZH_NEG_AFTER = re.compile(
    r"^[^。；！？\n]{0,8}?(?:根本)?(?:是)?(?:不存在|不可能的)"
    r"|^[^。；！？\n]{0,14}?(?:给不了|做不到|办不到|无法(?:提供|做到|兑现|承诺)|不能(?:提供|承诺))"
    # 任何人向您承诺保本高收益，都请提高警惕: a warning against the claim
    r"|^[^。；！？\n]{0,16}?(?:提高警惕|要警惕|请警惕|谨防|当心|小心|多半是骗|都是骗)"
)

# ---- texts that mention a claim without making it
# A quotation: "…", “…”, ‘…’, 「…」, or '…' (an apostrophe inside a word does not close it).
_QUOTED = re.compile(
    r"\"[^\"\n]{1,120}\"|“[^”\n]{1,120}”|‘[^’\n]{1,120}’|「[^」\n]{1,120}」|『[^』\n]{1,120}』"
    r"|(?<!\w)'(?:[^'\n]|(?<=\w)'(?=\w)){1,120}'(?!\w)"
)
# ... quoted in a sentence that talks about the wording (a rule, a ban, a complaint, a warning).
_EN_MENTION_CUE = re.compile(
    r"\b(?:ban(?:s|ned)?|prohibit(?:s|ed|ion)?|forbid(?:s|den)?|not\s+allowed|must\s+not|never|avoid|phrases?|"
    r"words?|terms?|wording|statements?|expressions?|labels?|claims?|claimed|"
    r"called|so-called|such\s+as|misleading|warn(?:s|ed|ing)?|rules?|rulebook|code|manual|policy|complaints?)\b",
    re.IGNORECASE,
)
_ZH_MENTION_CUE = re.compile(
    r"禁止|严禁|禁用|不得|不能|不要|避免|用语|话术|表述|说法|字眼|措辞|词语|宣称|声称|写着|写道|所谓|称为|误导|警告|违规|之类|规定|制度|投诉"
)
# ... but not the firm's own slogan ("our motto: 'guaranteed returns'", 我们的口号是“稳赚不赔”).
_OWN_SLOGAN = re.compile(
    r"\b(?:our|my)\s+(?:slogan|motto|promise|tagline|pledge|message)\b|我们的(?:口号|承诺|宣传语)|我的承诺",
    re.IGNORECASE,
)
# A question: a client asking, not the advisor asserting ("Is the 5% guaranteed?", 这个产品保本吗？).
_EN_QUESTION_START = re.compile(
    r"^(?:(?:q|question|client|customer)\s*:\s*)?"
    r"(?:(?:so|and|but|also|ok|okay|hi|hello|sorry|quick\s+question)[,:]?\s+)*"
    r"(?:is|are|can|could|will|would|does|do|did|should|shall|may|might|what|how|when|which|where|has|have)\b"
    r"(?!n't)",
    re.IGNORECASE,
)
_EN_ASKED = re.compile(
    r"\b(?:ask(?:s|ed|ing)?|wonder(?:s|ed|ing)?|wants?\s+to\s+know|wanted\s+to\s+know|enquir\w*|inquir\w*)\b"
    r"[^.;!?]{0,40}?\b(?:whether|if)\b",
    re.IGNORECASE,
)
_ZH_QUESTION = re.compile(r"吗|呢|么|是否|会不会|能不能|有没有|是不是|可不可以|多少|什么|怎么|哪")
_ZH_RHETORICAL = re.compile(r"难道|岂|何必|谁不|还不|何不|为何不")
_ZH_ASKED = re.compile(r"问|询问|想知道|想了解|咨询")
# Reported speech: a third party's words, reported ("the client said his last adviser had claimed ...").
_EN_REPORT = re.compile(
    r"\b(?:said|says|told|tells|claimed|claims|alleged|alleges|asserted|asserts|insisted|insists|complained|"
    r"complains|stated|wrote|writes|mentioned|mentions|heard|according\s+to)\b",
    re.IGNORECASE,
)
_EN_SELF = re.compile(
    r"\b(?:i|we|our|as|everyone|everybody|experts?|analysts?|all)\b|\b(?:i|we)'", re.IGNORECASE
)
_EN_THIRD_PROMISE = re.compile(
    r"\b(?:he|she|they|someone|somebody|adviser|advisor|salesperson|salesman|saleswoman|agent|broker|banker|"
    r"manager|rep|representative|firm|company|friend|neighbou?r|colleague|relative|cousin)\b(?:\s+[\w']+){0,2}\s+(?:had\s+)?$",
    re.IGNORECASE,
)
_ZH_REPORT = re.compile(r"称|说(?!明|法)|表示|声称|宣称|告诉|提到|写着|写道|据说|听说|据称|指出")
_ZH_SELF = re.compile(
    r"我(?!的?(?:邻居|朋友|同事|家人|亲戚|父亲|母亲|爸|妈|妻子|丈夫|老公|老婆|哥|姐|弟|妹|儿子|女儿))|本人|大家|专家|人人|都"
)
# Past performance stated with its caveat in the same sentence is a fact, not a misleading claim.
_RECORD_RULES = ("CMP-MC-002", "CMP-MC-102")
_CAVEAT = re.compile(
    r"\bmay\s+not\s+(?:continue|last|be\s+repeated|repeat|persist)\b|\bpast\s+(?:performance|results?|returns?)\s+"
    r"(?:is|are|does|do)\s+not\b|\bno\s+guarantee\s+of\s+future\b|\bnot\s+(?:a\s+)?(?:reliable\s+)?"
    r"(?:indicat|guide)|\blosses\s+(?:are|remain)\s+possible\b|\b(?:could|may|might|can)\s+(?:still\s+)?"
    r"(?:lose|fall|decline)\b"
    r"|过往业绩不(?:代表|预示|构成)|不代表未来|不预示未来|不保证未来|可能(?:会)?(?:出现)?(?:亏损|下跌)",
    re.IGNORECASE,
)
# A guarantee stated with its condition or limit (a structured deposit's protection at maturity, a contract's
# minimum rate subject to the insurer's solvency) describes a product's terms, not a promise.
_CONDITION = re.compile(
    r"\bsubject\s+to\s+(?:the\s+)?(?:issuer|insurer|bank|its|credit|solvency)|\b(?:issuer|insurer|bank)\s+"
    r"(?:can|could|may|might)\s+default\b|\bonly\s+(?:if|when|at\s+maturity|as\s+long\s+as)\b|"
    r"\b(?:extra|additional|variable|floating)\s+(?:interest|return|income|yield)\s+is\s+not\s+guaranteed\b"
    r"|(?:浮动|额外|超额)收益(?:并)?不(?:作)?保证|发行人(?:可能)?违约|偿付能力|仅在|仅限持有到期",
    re.IGNORECASE,
)
# The rate of a deposit or a bond, stated: "the deposit rate is locked in at 2.5% per year".
_RATE_SUBJECT = re.compile(
    r"\b(?:rate|coupon|interest(?:\s+rate)?|apr|apy)\s+(?:is|are|was|will\s+be|stays?|remains?)\s+$",
    re.IGNORECASE,
)
# The claim named as wording: "guaranteed-return claims were withdrawn", “零风险”等用语.
_EN_META_NOUN = re.compile(
    r"^[\s'\"’”]*(?:claims?|language|wording|statements?|phrases?|labels?|terms?|slogans?)\b", re.IGNORECASE
)
_ZH_META_NOUN = re.compile(
    r"^[”’」』\s]*(?:等|之类的?|这类|这种|这样的|一类的?)?(?:用语|表述|说法|字眼|措辞|词语|宣传语|话术)"
    r"|^[”’」』\s]*(?:这种|这类|这样的|之类的)话"
)
# A question raised and answered no: "Does it always go up? No, ..." / 每年都是正收益吗？不是，…
_EN_REBUTTAL = re.compile(
    r"^\s*(?:a\s*:\s*)?(?:no|not|nope|of\s+course\s+not|absolutely\s+not|sadly\s+not)\b", re.IGNORECASE
)
_ZH_REBUTTAL = re.compile(r"^\s*(?:答\s*[:：]\s*)?(?:不是|不|没有|并非|当然不|并不)")
_CLAUSE_END = re.compile(r"[!?。！？；;\n]|\.(?=\s|$)")

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
    PatternRule(
        "CMP-GR-006",
        "guaranteed_return",
        "en",
        re.compile(
            r"\b(?:I|we)(?:'ll|'d|\s+will|\s+would)?\s+(?:personally\s+)?(?:make\s+up|cover|refund|reimburse|"
            r"pay|top\s+up)\s+(?:you\s+)?(?:the|any|your|that)\s+(?:\w+\s+)?(?:difference|shortfall|loss(?:es)?|gap)\b"
            r"|\bmake\s+(?:you|clients?|investors?|them|(?:all\s+)?participating\s+clients)\s+whole\b",
            _I,
        ),
        "promises to make up a loss or a shortfall",
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
            r"稳赚不赔|稳赚|只赚不赔|包赚|零风险|无风险(?!利率|收益率|资产|回报率)|(?<!有)没有(?:任何)?风险|绝对安全|百分之百安全|100%安全|(?<!会)不会亏"
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
    PatternRule(
        "CMP-GR-104",
        "guaranteed_return",
        "zh",
        re.compile(
            rf"旱涝保收|打包票|拍胸(?:口|脯)|(?:本金|收益|利息|亏损|损失){_zgap(8)}兜底|兜底{_zgap(6)}(?:本金|收益|亏损|损失)"
            rf"|(?:亏损|亏了|赔了|损失|差额|(?:不足|不到|低于)[^。；！？\n，,]{{0,8}}部分|缺口){_zgap(10)}"
            rf"(?:算我的|(?:我|我们|公司|银行|支行|我司){_zgap(6)}(?:补齐|补足|补给|补上|补回|赔给|承担|兜着))"
        ),
        "承诺兜底或弥补亏损、差额 (promises to cover a loss or a shortfall)",
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
        r"建议(?:您|你|客户)?(?:买入|购买|配置|投资|申购|认购|考虑|增持)|推荐(?!(?:产品)?之?前|与|符合|匹配|哪|什么)|适合(?:您|你|该客户|客户)|"
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


def _negated(text: str, start: int, language: str, end: int | None = None) -> bool:
    """A negation just before the match (or, given its end, a denial just after it)."""
    before = text[max(0, start - 80) : start]
    if language == "en":
        if _EN_NEG_BEFORE.search(before):
            return True
        return end is not None and bool(_EN_NEG_AFTER.search(text[end : end + 60]))
    if _ZH_NEG_BEFORE.search(before):
        # 难道这不是稳赚的买卖吗？ a rhetorical negation asserts
        return not re.search(r"难道|岂", text[_sentence_at(text, start, start)[0] : start])
    return end is not None and bool(_ZH_NEG_AFTER.search(text[end : end + 20]))


def _sentence_at(text: str, start: int, end: int) -> tuple[int, int, str]:
    """The sentence around [start, end): its bounds and its final punctuation ('' at the end of the text).
    A full stop inside a number (4.5%) does not end it."""
    s = 0
    for m in _CLAUSE_END.finditer(text, 0, start):
        s = m.end()
    m = _CLAUSE_END.search(text, end)
    e = m.end() if m else len(text)
    return s, e, (m.group(0) if m else "")


def _quoted_mention(text: str, start: int, end: int, language: str) -> bool:
    """The claim is quoted, in a sentence about the wording ("bans statements like 'risk-free return'")."""
    if not any(q.start() <= start and end <= q.end() for q in _QUOTED.finditer(text)):
        return False
    s, e, _ = _sentence_at(text, start, end)
    sentence = text[s:start] + " " + text[end:e]
    if _OWN_SLOGAN.search(sentence):
        return False
    cue = _EN_MENTION_CUE if language == "en" else _ZH_MENTION_CUE
    return bool(cue.search(sentence))


def _question(text: str, start: int, end: int, language: str) -> bool:
    """The claim is asked about, not asserted: a direct question ("Is my principal guaranteed?",
    这个产品保本吗？) or a reported one ("clients ask whether the fund will double")."""
    s, e, stop = _sentence_at(text, start, end)
    sentence = text[s:e].strip()
    if language == "en":
        if stop == "?" and (_EN_QUESTION_START.match(sentence) or _EN_REBUTTAL.match(text[e:])):
            return True
        return bool(_EN_ASKED.search(text[s:start]))
    if _ZH_RHETORICAL.search(sentence):
        return False
    if stop in ("？", "?") and (_ZH_QUESTION.search(sentence) or _ZH_REBUTTAL.match(text[e:])):
        return True
    return bool(_ZH_ASKED.search(text[s:start]) and _ZH_QUESTION.search(sentence))


def _reported(text: str, start: int, end: int, language: str) -> bool:
    """The claim is a third party's words, reported ("the complaint alleges the adviser promised ...",
    客户称销售人员曾告诉她该产品保本); not the advisor's own ("as I said", 我告诉客户) nor hearsay offered as
    support ("everyone says", 专家都说)."""
    s, _, _ = _sentence_at(text, start, end)
    before = text[s:start]
    if language == "en":
        verbs = list(_EN_REPORT.finditer(before))
        if verbs:
            v = verbs[-1]
            subject = " ".join(before[: v.start()].split()[-3:])
            if v.group(0).lower().startswith("according"):
                return not re.match(r"\s*(?:me|us|my|our)\b", before[v.end() :], re.IGNORECASE)
            return not _EN_SELF.search(subject)
        # "his previous adviser promised him 10% a year": a past promise by a third party
        claim = text[start:end].lower()
        return claim.startswith(("promised", "assured")) and bool(_EN_THIRD_PROMISE.search(before[-60:]))
    verbs = list(_ZH_REPORT.finditer(before))
    if not verbs:
        return False
    v = verbs[-1]
    subject = re.split(r"[，,：:]", before[: v.start()])[-1][-8:]
    return not _ZH_SELF.search(subject)


def _with_caveat(text: str, start: int, end: int, caveat: re.Pattern[str] = _CAVEAT) -> bool:
    s, e, _ = _sentence_at(text, start, end)
    return bool(caveat.search(text[s:start] + " " + text[end:e]))


def _named_as_wording(text: str, start: int, end: int, language: str) -> bool:
    return bool((_EN_META_NOUN if language == "en" else _ZH_META_NOUN).match(text[end : end + 12]))


def _stated_terms(text: str, start: int, end: int, rule: str) -> bool:
    """A product's terms stated as facts: a guarantee with its condition, a deposit's or bond's fixed rate."""
    if not rule.startswith("CMP-GR"):
        return False
    if _with_caveat(text, start, end, _CONDITION):
        return True
    s, _, _ = _sentence_at(text, start, end)
    return rule == "CMP-GR-004" and bool(_RATE_SUBJECT.search(text[s:start]))


def not_asserted(text: str, start: int, end: int, language: str, rule: str = "") -> bool:
    """The match at [start, end) of the normalized `text` is not the advisor's own claim: negated, asked
    about, quoted as a phrase, reported from someone else, or (a performance record) stated with its
    caveat, or a product's terms stated with their condition."""
    return (
        _negated(text, start, language, end)
        or _question(text, start, end, language)
        or _quoted_mention(text, start, end, language)
        or _reported(text, start, end, language)
        or _named_as_wording(text, start, end, language)
        or (rule in _RECORD_RULES and _with_caveat(text, start, end))
        or _stated_terms(text, start, end, rule)
    )


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
            if not_asserted(view, m.start(), m.end(), rule.language, rule.id):
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
            if not not_asserted(text, m.start(), m.end(), lang):
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
