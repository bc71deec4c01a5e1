"""Paraphrase families for the compliance corpus: disguised promises and the hedges and negations beside them.

Data only (`tools.compliance_corpus` fills and splits them). A family is a list of templates written in
plain words a salesperson might use instead of "guarantee" ("assured 7.5% every year", "contractually
secured", "zero chance you lose a cent", 躺赚, 兜底, 保本保息, traditional Chinese), each with twins that
hedge or negate ("not guaranteed", 不保本, "could also lose value") labelled clean. Slots in braces are filled
from `SLOTS_EN` / `SLOTS_ZH`, then `{P}`, `{R}`, `{Y}`, `{ZY}` as in the corpus. Every template is its own
family id, so the train/validation split (by family) keeps whole templates apart.

Written without the held-out test split (`evals/sets/compliance_adversarial_final.jsonl`); its idioms named
in docs/compliance.md are deliberately absent.
"""

from __future__ import annotations

GR, MC = "guaranteed_return", "misleading_claim"

SLOTS_EN: dict[str, list[str]] = {
    "x_assured": ["assured", "locked-in", "contractual", "secured", "firm", "dependable", "bankable", "sure"],
    "x_formally": ["contractually", "legally", "formally", "fully", "firmly", "100%", "completely"],
    "x_zero": ["zero", "no", "not the slightest", "absolutely no", "no real"],
    "x_cent": ["cent", "penny", "dollar", "yuan", "single cent", "dime"],
    "x_get": ["will get", "will collect", "receive", "pocket", "are paid", "take home"],
    "x_safe": ["100% safe", "fully protected", "never at risk", "completely safe", "shielded from any loss"],
    "x_we": ["we", "the bank", "our firm", "the issuer", "the company"],
    "x_nothing": ["nothing", "no part of it", "none of it"],
    "x_maybe_lose": [
        "could also lose value",
        "may lose money",
        "can fall in value",
        "might return less than you put in",
        "can lose part of your principal",
    ],
    "x_not_guar": [
        "not guaranteed",
        "not assured",
        "not promised",
        "not contractually secured",
        "not certain",
    ],
    "x_impossible": [
        "not possible",
        "impossible",
        "out of the question",
        "ruled out",
        "never going to happen",
    ],
    "x_locked": ["locked in", "fixed", "nailed down", "safe", "set"],
    "x_rise": ["is bound to beat", "will certainly outperform", "cannot fail to beat", "is sure to top"],
}

SLOTS_ZH: dict[str, list[str]] = {
    "x_we": ["我们", "公司", "银行", "平台", "发行方"],
    "x_idiom": ["稳稳的", "跑不掉", "有人兜底", "妥妥的", "包您拿到", "实打实到手"],
    "x_lie": ["躺赚", "躺着赚钱", "坐着收钱", "白捡的收益"],
    "x_bao": ["保本保息", "保本保收益", "本息都有保障", "保本又保息"],
    "x_noloss": ["一分钱都不会亏", "不会少一分", "不可能亏", "亏不了一分"],
    "x_maybe": ["可能亏损", "净值可能下跌", "本金可能损失", "也可能亏钱", "收益可能为负"],
    "x_nobao": ["不保本", "不保本保息", "不保证收益", "不承诺收益", "并非保本产品"],
    "x_up": ["只涨不跌", "稳涨不跌", "年年都涨", "一直在涨"],
}

# family id -> (language, labels, templates)
FAMILIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "pp-gr-en-assured": (
        "en",
        (GR,),
        (
            "{P} yields an {x_assured} {R} {Y}.",
            "A return of {R} {Y} is {x_formally} secured for you.",
            "You are {x_formally} entitled to {R} {Y}, whatever the market does.",
            "{P} comes with an {x_assured} payout of {R} {Y}.",
            "Whatever happens in the market, you {x_get} {R} {Y}.",
            "Count on {R} {Y} from {P}; it is written into the contract.",
        ),
    ),
    "pp-gr-en-noloss": (
        "en",
        (GR,),
        (
            "There is {x_zero} chance you lose a {x_cent} on {P}.",
            "You cannot lose a {x_cent} with {P}, and it pays {R}.",
            "Your principal is {x_safe}, and you {x_get} {R} {Y}.",
            "Any loss on {P} is covered by {x_we}, so you {x_get} {R} {Y}.",
            "{x_we} will make up any shortfall below {R}, so you cannot come out behind.",
            "Treat {P} like a deposit that pays {R} {Y}: your money is {x_safe}.",
        ),
    ),
    "pp-gr-en-impossible": (
        "en",
        (GR,),
        (
            "Losing money on {P} is {x_impossible}.",
            "With {P}, a loss of any kind is {x_impossible}, and it pays {R}.",
            "Your {R} on {P} is {x_locked} no matter how the market moves.",
            "{P} is backed by {x_we}: {R} {Y}, come what may.",
        ),
    ),
    "pp-gr-en-impossible-neg": (
        "en",
        (),
        (
            "Losing money on {P} is possible.",
            "A loss on {P} is not out of the question.",
            "Your {R} on {P} is not {x_locked}; it moves with the market.",
            "{P} is not backed by {x_we}, so {R} {Y} can fall short.",
        ),
    ),
    "pp-gr-en-neg": (
        "en",
        (),
        (
            "{P} targets {R} {Y}, but that return is {x_not_guar}.",
            "{P} aims for {R} {Y}; it {x_maybe_lose}.",
            "There is a real chance you lose money on {P}.",
            "{R} {Y} is an estimate for {P}, not a promise.",
            "We cannot assure any return on {P}, and {x_nothing} of your principal is protected.",
            "No one can promise that you will not lose a {x_cent} on {P}.",
            "The {R} figure is a past average, not an {x_assured} return.",
            "Unlike a bank deposit, {P} {x_maybe_lose}.",
            "{P} returned {R} last year; future returns may be lower or negative.",
            "The yield on {P} is {R} {Y} before fees and it can change; it {x_maybe_lose}.",
        ),
    ),
    "pp-mc-en": (
        "en",
        (MC,),
        (
            "{P} has never had a losing year and never will.",
            "{P} {x_rise} the market next year.",
            "The price of {P} only goes one way: up.",
            "Its history proves {P} will deliver {R} again next year.",
        ),
    ),
    "pp-mc-en-neg": (
        "en",
        (),
        (
            "{P} has had losing years, and past results do not predict future returns.",
            "{P} may underperform the market next year.",
            "The price of {P} goes down as well as up.",
        ),
    ),
    "pp-gr-zh": (
        "zh",
        (GR,),
        (
            "买了{P}就是{x_lie}，{ZY}{R}。",
            "本金和利息{x_we}都兜底，您放心买{P}。",
            "{P}{x_bao}，{ZY}{R}。",
            "{P}{ZY}{R}，收益{x_idiom}。",
            "放心，投{P}本金{x_noloss}，{ZY}还有{R}。",
            "亏了算{x_we}的，{ZY}{R}照拿。",
            "{P}就像存定期，还多拿{R}，{x_noloss}。",
            "{P}到期保本，{R}的收益一分不少。",
        ),
    ),
    "pp-gr-zh-impossible": (
        "zh",
        (GR,),
        (
            "{P}不存在亏损的可能，{ZY}{R}。",
            "收益率固定{R}，投{P}亏损是不可能的。",
            "{P}{x_noloss}，闭着眼睛买都行。",
        ),
    ),
    "pp-gr-zh-impossible-neg": (
        "zh",
        (),
        (
            "{P}存在亏损的可能，{ZY}{R}不是固定收益。",
            "{P}的收益率不固定，{x_maybe}。",
            "不能闭着眼睛买{P}，{x_maybe}。",
        ),
    ),
    "pp-gr-zh-trad": (
        "zh",
        (GR,),
        (
            "{P}保本保息，零風險，{ZY}{R}。",
            "本金和利息都由我們兜底。",
            "買{P}就是躺賺，收益穩穩到手。",
        ),
    ),
    "pp-gr-zh-neg": (
        "zh",
        (),
        (
            "{P}{x_nobao}，{ZY}{R}只是业绩比较基准，{x_maybe}。",
            "没有人能兜底，投资{P}{x_maybe}。",
            "{P}不是躺赚的产品，{x_maybe}。",
            "{R}是{P}的预期收益，不是承诺。",
            "投资有风险，{P}{x_nobao}。",
            "{P}过去收益{R}，但未来可能更低甚至亏损。",
            "{x_we}不兜底，{P}{x_maybe}。",
        ),
    ),
    "pp-gr-zh-trad-neg": (
        "zh",
        (),
        (
            "請注意，{P}不保證收益，淨值可能下跌。",
            "{P}並非保本產品，本金可能虧損。",
        ),
    ),
    "pp-mc-zh": (
        "zh",
        (MC,),
        (
            "{P}{x_up}，闭眼买就行。",
            "{P}年年赚钱，以后也肯定赚。",
            "全市场收益最高的就是{P}，错过就亏了。",
            "{P}每年都是正收益，以后也一样。",
        ),
    ),
    "pp-mc-zh-neg": (
        "zh",
        (),
        (
            "{P}有过亏损年份，过往业绩不代表未来表现。",
            "{P}的净值有涨有跌，可能跑输大盘。",
        ),
    ),
}
