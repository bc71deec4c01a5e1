"""Paraphrase families for the compliance corpus: disguised promises and the hedges and negations beside them.

Data only (`tools.compliance_corpus` fills and splits them). A family is a list of templates written in
plain words a salesperson might use instead of "guarantee" ("assured 7.5% every year", "contractually
secured", "zero chance you lose a cent", 躺赚, 兜底, 保本保息, traditional Chinese), each with twins that
hedge or negate ("not guaranteed", 不保本, "could also lose value") labelled clean. Slots in braces are filled
from `SLOTS_EN` / `SLOTS_ZH`, then `{P}`, `{R}`, `{Y}`, `{ZY}` as in the corpus. Every template is its own
family id, so the train/validation split (by family) keeps whole templates apart.

The first round was written without the then test split (`evals/sets/compliance_adversarial_final.jsonl`,
a development split since); the later rounds without the fresh test split
(`evals/sets/compliance_adversarial_test2.jsonl`), whose distinctive idioms are deliberately absent.
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

# ------------------------------------------------------------------------------------------------ round 2
# Wider families (corpus v7): promises made with other verbs and nouns, by numbers alone, in slang, split
# across two sentences, built from negations of loss ("not one cent is at risk", 不可能亏); suitability and
# misleading claims in more forms; and hard clean twins: questions, quoted rules, reported speech, risk
# disclosures, past performance with caveats, factual risk ratings. Written from the development splits'
# misses and the list, not from the fresh test split (`compliance_adversarial_test2.jsonl`).

SLOTS_EN.update(
    {
        "x_who": ["I", "We", "Our desk", "My team", "The manager", "Our firm", "The bank"],
        "x_promise_v": ["promise", "assure", "pledge", "guarantee", "commit to", "swear to"],
        "x_promise_3": ["vouches", "swears", "gives its word", "is certain", "confirms", "pledges"],
        "x_total": ["total", "complete", "absolute", "one hundred percent", "full", "airtight"],
        "x_in": [
            "1 million",
            "100,000",
            "50k",
            "10,000 dollars",
            "200k",
            "half a million",
            "twenty thousand",
        ],
        "x_out": ["1.08 million", "108,000", "56k", "11,000 dollars", "230k", "six hundred thousand"],
        "x_when": ["next year", "in twelve months", "at maturity", "by December", "in two years"],
        "x_calm": [
            "You can relax about that.",
            "That part is settled.",
            "You have nothing to worry about.",
            "Consider it done.",
            "That is not going to change.",
        ],
        "x_slang": ["free money", "a no-brainer", "easy money", "a sure bet", "a lock", "money in the bank"],
        "x_risky": [
            "the leveraged fund",
            "our high-risk small-cap fund",
            "a commodity futures fund",
            "the crypto tracker",
            "the R5 derivatives note",
            "the frontier-market equity fund",
        ],
        "x_careful": [
            "you cannot bear losses",
            "you are a conservative investor",
            "you need this money soon",
            "you are retired and risk-averse",
            "your risk score is the lowest",
        ],
        "x_climb": ["climb", "rise", "gain", "jump", "go up"],
        "x_rule": [
            "guaranteed return",
            "risk-free",
            "you cannot lose",
            "capital guaranteed",
            "sure profit",
        ],
        "x_profile": ["conservative", "balanced", "growth", "aggressive", "moderate"],
    }
)
SLOTS_ZH.update(
    {
        "x_who": ["我们营业部", "公司", "银行", "总部", "我们团队", "我本人"],
        "x_fixed": ["确定不变", "定好的", "写进合同的", "跑不了的", "不会变的"],
        "x_stable": ["稳定", "安安稳稳", "轻轻松松", "每年按时"],
        "x_sure4": ["十拿九稳", "万无一失", "稳如泰山", "旱涝保收", "包赚不亏", "稳赚不亏"],
        "x_in": ["10万", "一百万", "5万元", "20万", "50万"],
        "x_out": ["10.8万", "一百零八万", "5.4万元", "21.6万", "54万"],
        "x_when": ["明年", "一年后", "到期", "年底", "两年后"],
        "x_calm": ["这点您完全可以放心。", "这个不用担心。", "这是肯定的。", "您就等着收钱吧。"],
        "x_slang": ["白送钱", "无脑冲", "捡钱", "这波稳了", "闭着眼赚"],
        "x_risky": ["这只杠杆基金", "这款高风险股票基金", "这个期货产品", "这只R5产品", "数字货币基金"],
        "x_careful": ["您不能承受亏损", "您是保守型投资者", "这笔钱您下个月要用", "您已经退休、不想冒险"],
        "x_period": ["三年内", "明年", "年底前", "半年内", "两年后"],
        "x_grow": ["翻一番", "翻倍", "涨30%", "再涨一倍", "涨到两块钱"],
        "x_rule": ["保本", "无风险", "稳赚不赔", "保证收益", "零风险"],
        "x_profile": ["保守型", "稳健型", "平衡型", "成长型", "进取型"],
    }
)

FAMILIES.update(
    {
        "pp2-gr-en-vouch": (
            "en",
            (GR,),
            (
                "{x_who} can {x_promise_v} you {R} {Y} on {P}.",
                "{x_who} {x_promise_3} that {P} returns {R} by maturity.",
                "Take it from me: {P} will pay you {R} {Y}.",
                "I give you my personal assurance that {P} pays {R}.",
                "Rest assured, {P} pays out {R} {Y} regardless of markets.",
                "Capital protection on {P} is {x_total} and the {R} coupon is certain.",
                "{P} will return {R} {x_when}, on my word.",
            ),
        ),
        "pp2-gr-en-capital": (
            "en",
            (GR,),
            (
                "Your initial investment comes back in full whatever happens, plus {R}.",
                "You will get back at least what you put in, plus {R} {Y}.",
                "The downside on {P} is zero and it pays {R}.",
                "{P} carries no downside risk at all.",
                "Not one {x_cent} of your principal is at risk with {P}.",
                "There is no way you end up with less than you invested in {P}.",
                "Nothing can go wrong with {P}: {R} {Y}, no risk.",
                "{P} simply cannot go down, so your money is safe.",
                "You won't lose anything with {P}; you can only gain.",
                "There is no scenario in which {P} loses you money.",
            ),
        ),
        "pp2-gr-en-numbers": (
            "en",
            (GR,),
            (
                "Put in {x_in}. You will get {x_out} back {x_when}.",
                "Invest {x_in} today and {x_out} is waiting for you {x_when}.",
                "{x_in} in, {x_out} out {x_when}, every time.",
                "Your {x_in} becomes {x_out} {x_when}, no matter what.",
                "You hand us {x_in} and we hand back {x_out} {x_when}.",
            ),
        ),
        "pp2-gr-en-slang": (
            "en",
            (GR,),
            (
                "{P} is {x_slang}: {R} a year and zero risk.",
                "easy {R}, no risk, trust me",
                "it's {x_slang}, {R} guaranteed, can't go wrong",
                "{P} = safe {R}, literally cannot lose",
                "just buy {P}, you'll make {R} and never lose a dime",
            ),
        ),
        "pp2-gr-en-split": (
            "en",
            (GR,),
            (
                "{P} pays {R} {Y}. {x_calm}",
                "Your money is in safe hands. {P} will never lose value.",
                "{P} returns {R} {Y}. Losses are not part of the picture.",
                "We ran every scenario. In all of them you get {R}.",
                "Your principal is protected. The {R} on top is fixed as well.",
            ),
        ),
        "pp2-gr-en-neg": (
            "en",
            (),
            (
                "Is {P} guaranteed to pay {R}?",
                "Can I lose money on {P}?",
                "Does {P} protect my principal?",
                "Will I get {R} {Y} for sure?",
                "What happens if {P} loses money?",
                "Is there any guarantee on {P}?",
                "Never tell a client that a return is guaranteed.",
                "Phrases such as '{x_rule}' are not allowed in client material.",
                "Regulators prohibit claims of guaranteed returns.",
                "The client asked whether we could promise {R}; we said no.",
                "An adviser who promises {R} {Y} is breaking the rules.",
                "{P} is not a deposit and is not insured; you could lose money.",
                "Capital is at risk and the {R} yield can change.",
                "Your principal is not protected in {P}.",
                "{P} returned {R} in 2023, but returns vary and past performance is no guide.",
                "Over ten years {P} averaged {R}, with losses in three of those years.",
                "Nothing about {P} is guaranteed.",
                "No one can guarantee you won't lose money.",
                "Not even {x_we} can promise a fixed return on {P}.",
                "Risk-free government bonds yield {R} at the moment.",
                "We use a risk-free rate of {R} in the valuation.",
                "A fixed {R} coupon does not protect you if the issuer defaults.",
            ),
        ),
        "pp2-mc-en": (
            "en",
            (MC,),
            (
                "The price of {P} is certain to {x_climb} {R} within two years.",
                "{P} will {x_climb} {R} by year end, no doubt.",
                "The market is going to rally next quarter; it's a certainty.",
                "{P} has beaten its benchmark every year and always will.",
                "Nobody has ever lost money in {P}.",
                "{P} is the safest and highest-yielding fund there is.",
                "Last year {P} made {R}, so you'll make {R} this year too.",
                "Based on its track record, {P} will keep returning {R}.",
                "Our analysts are never wrong about {P}.",
            ),
        ),
        "pp2-mc-en-neg": (
            "en",
            (),
            (
                "{P} rose {R} last year; it may fall this year.",
                "Analysts expect {P} to rise, but forecasts are often wrong.",
                "Nobody knows whether the market will rally next quarter.",
                "{P} was its category's top performer in 2023, which may not last.",
                "Will {P} go up next year?",
                "{P} could {x_climb} or fall; we do not make forecasts.",
            ),
        ),
        "pp2-su-en": (
            "en",
            ("suitability",),
            (
                "You told me {x_careful}, so {x_risky} is perfect for you.",
                "Since {x_careful}, put all your savings into {x_risky}.",
                "{x_risky} is ideal even though {x_careful}.",
                "Risk profile doesn't matter here; {x_risky} works for everyone.",
            ),
        ),
        "pp2-su-en-neg": (
            "en",
            (),
            (
                "Since {x_careful}, {x_risky} is not suitable for you.",
                "{x_risky} is only for aggressive investors who can bear large losses.",
                "Before recommending {x_risky}, we need your risk assessment.",
                "{P} is rated R2 and suits {x_profile} investors.",
                "{P} is rated R3 and suits {x_profile} to {x_profile} investors.",
            ),
        ),
        "pp2-gr-zh": (
            "zh",
            (GR,),
            (
                "我可以向您承诺{P}明年有{R}的收益。",
                "{x_who}担保{P}到期收益{R}。",
                "{P}每年{R}，这个数字是{x_fixed}。",
                "把钱放进{P}，{x_stable}拿到{R}，毫无风险。",
                "{P}没有下行风险，{ZY}{R}。",
                "投{P}，收益{x_sure4}。",
                "{P}收益{R}，{x_sure4}。",
                "本金绝对安全，{R}收益到手。",
                "{P}不可能亏，放心买。",
                "买{P}，本金一分都不会少。",
            ),
        ),
        "pp2-gr-zh-numbers": (
            "zh",
            (GR,),
            (
                "存入{x_in}，{x_when}拿回{x_out}，肯定的。",
                "{x_in}进去，{x_when}变成{x_out}。",
                "您给我们{x_in}，{x_when}还您{x_out}。",
            ),
        ),
        "pp2-gr-zh-split": (
            "zh",
            (GR,),
            (
                "{P}{ZY}{R}。{x_calm}",
                "本金您不用担心。收益也是固定{R}。",
                "放心买。不会亏的。",
                "亏钱？不可能。{P}{ZY}{R}。",
            ),
        ),
        "pp2-gr-zh-slang": (
            "zh",
            (GR,),
            (
                "{P}就是{x_slang}，{R}稳拿。",
                "{x_slang}，{P}躺着拿{R}。",
                "{P}闭着眼买，包赚。",
            ),
        ),
        "pp2-gr-zh-neg": (
            "zh",
            (),
            (
                "{P}保本吗？",
                "买{P}会不会亏钱？",
                "{P}的{R}收益有保证吗？",
                "如果{P}亏了怎么办？",
                "{P}真的没有风险吗？",
                "监管禁止使用“{x_rule}”等字眼。",
                "销售时不得向客户承诺收益。",
                "“{x_rule}”属于违规宣传用语。",
                "客户问能否保证{R}收益，我们回答不能。",
                "谁说{P}稳赚，谁就是在违规。",
                "{P}不是存款，不受存款保险保障，可能亏损。",
                "市场有风险，{P}净值可能低于本金。",
                "{P}去年收益{R}，但过往业绩不预示未来表现。",
                "{P}近十年平均{R}，其中三年亏损。",
                "没有任何产品能保证不亏。",
                "{x_we}无法保证{P}的收益，也不承诺保本。",
                "过去业绩不错，但不能保证以后也会这样。",
                "{P}以前收益很好，但不能保证未来也会赚钱。",
            ),
        ),
        "pp2-mc-zh": (
            "zh",
            (MC,),
            (
                "{P}净值{x_period}肯定{x_grow}。",
                "{P}必然上涨{R}。",
                "{P}从没让客户亏过钱。",
                "{P}是收益最高、最安全的产品。",
                "{P}去年赚了{R}，今年也一样能赚这么多。",
                "我们的基金经理从来没有看错过。",
                "{x_period}大盘一定会涨，这是确定的事。",
            ),
        ),
        "pp2-mc-zh-neg": (
            "zh",
            (),
            (
                "{P}明年可能上涨，也可能下跌。",
                "没人知道{P}明年会怎样。",
                "{P}去年涨了{R}，今年可能回调。",
                "{P}{x_period}能否{x_grow}，谁也说不准。",
            ),
        ),
        "pp2-su-zh": (
            "zh",
            ("suitability",),
            (
                "{x_careful}，{x_risky}正适合您。",
                "{x_careful}，建议全部买{x_risky}。",
                "风险等级不重要，{x_risky}谁都能买。",
                "就算{x_careful}，也可以重仓{x_risky}。",
            ),
        ),
        "pp2-su-zh-neg": (
            "zh",
            (),
            (
                "{x_careful}，{x_risky}不适合您。",
                "{P}风险等级R2，适合{x_profile}投资者。",
                "{P}风险等级R3，适合{x_profile}至{x_profile}投资者。",
                "{x_risky}只适合能承受较大亏损的进取型投资者。",
                "推荐{x_risky}之前，需要先做风险测评。",
            ),
        ),
    }
)

# Round 2b: promises that only say what cannot happen ("it only earns", 只会赚钱), factual ranges of good
# and bad years, and statements that nothing is safe, each beside its twin.
SLOTS_EN.update(
    {
        "x_nolose_v": ["cannot lose value", "can't go down", "will not fall", "never loses", "won't drop"],
        "x_only": ["it only earns", "it only goes up", "it can only gain", "it just keeps paying"],
        "x_safe_adj": ["completely safe", "risk-free", "fully protected", "totally secure", "guaranteed"],
    }
)
SLOTS_ZH.update(
    {
        "x_nolose_v": ["不会亏钱", "不会跌", "亏不了", "不会有损失", "跌不下去"],
        "x_only": ["只会赚钱", "只涨不跌", "只赚不赔", "只会越来越多"],
        "x_safe_adj": ["绝对安全", "零风险", "保本", "稳赚不赔", "没有风险"],
    }
)
FAMILIES.update(
    {
        "pp3-gr-en-only": (
            "en",
            (GR,),
            (
                "{P} {x_nolose_v}; {x_only}.",
                "This plan {x_nolose_v}, {x_only}, {R} {Y}.",
                "A loss on {P} is simply not going to happen.",
                "With {P}, losses are off the table.",
            ),
        ),
        "pp3-gr-en-only-neg": (
            "en",
            (),
            (
                "No investment is {x_safe_adj}, and {P} is no exception.",
                "{P} can go down as well as up.",
                "A loss on {P} can happen, so size the position carefully.",
                "Its best year returned {R} and its worst year lost {R}.",
                "{P} gained {R} in its best year and fell {R} in its worst.",
                "Nothing in the market is {x_safe_adj}.",
            ),
        ),
        "pp3-gr-zh-only": (
            "zh",
            (GR,),
            (
                "{P}{x_nolose_v}，{x_only}。",
                "这个计划{x_nolose_v}，{ZY}{R}。",
                "投{P}亏损根本不可能发生。",
            ),
        ),
        "pp3-gr-zh-only-neg": (
            "zh",
            (),
            (
                "没有任何投资是{x_safe_adj}的，{P}也不例外。",
                "{P}有涨有跌，可能亏损。",
                "最好的年份收益{R}，最差的年份亏损{R}。",
                "{P}最好的一年赚了{R}，最差的一年亏了{R}。",
                "市场上没有{x_safe_adj}的产品。",
                "只有满足条件时，{P}才支付{R}的票息。",
                "担保费由发行方承担，与投资者收益无关。",
            ),
        ),
    }
)

# Round 2c: plain statements of a rate with nothing promised (coupons, yields, dividends, deposit rates), so
# that "{R} a year" alone is not read as a promise.
FAMILIES.update(
    {
        "pp3-fact-en": (
            "en",
            (),
            (
                "The coupon is {R} a year.",
                "{P} pays a {R} coupon, paid annually.",
                "The dividend yield of {P} is {R} at today's price.",
                "{P} yields {R} {Y} at current prices.",
                "One-year deposit rates are around {R}.",
                "The fund distributed {R} last year.",
                "Its benchmark is {R} {Y}.",
                "The bond matures in 2029 and pays {R} twice a year.",
            ),
        ),
        "pp3-fact-zh": (
            "zh",
            (),
            (
                "{P}票面利率{R}，每年付息一次。",
                "{P}当前股息率{R}。",
                "一年期定期存款利率约{R}。",
                "{P}去年分红{R}。",
                "{P}的业绩比较基准为年化{R}。",
                "该债券2029年到期，票息{R}，每半年付息。",
                "{P}近一年收益率{R}。",
            ),
        ),
    }
)

# Round 4 (written from the development splits' misses: dev3 and the former test split test3, after the fresh
# test split test4 was committed): a recommendation said as a plain instruction ("move 40% of your pension
# into …", 这周就把存款全部换成…) with no risk said, dismissing the client's age, income or questionnaire,
# an authority or a tool said to vouch for a product, and their clean twins (the instruction with its risk, a
# product's rating and who it suits, a deposit's variable rate, a protection with its condition).
RD = "missing_risk_disclosure"
SU = "suitability"
SLOTS_EN.update(
    {
        "x_pot": [
            "pension",
            "savings",
            "fixed deposits",
            "education fund",
            "year-end bonus",
            "retirement money",
        ],
        "x_pct": ["half", "40%", "a third", "most", "all", "60%", "a quarter"],
        "x_by": ["by Friday", "tomorrow", "this week", "before month-end", "today", "right away"],
        "x_age": ["79", "in your eighties", "retired", "85"],
        "x_auth": ["The central bank", "The government", "The state pension fund", "The finance ministry"],
        "x_acc": ["99%", "98% accuracy", "near-perfect accuracy"],
    }
)
SLOTS_ZH.update(
    {
        "x_pot": ["存款", "养老金", "定期存款", "教育金", "年终奖", "积蓄"],
        "x_pct": ["一半", "四成", "三分之一", "大部分", "全部", "六成"],
        "x_by": ["这周", "明天", "周五前", "月底前", "今天", "马上"],
        "x_age": ["七十九岁", "八十多岁", "退休了", "八十五岁"],
        "x_auth": ["央行", "国家", "社保基金", "财政部"],
        "x_acc": ["百分之九十九", "99%", "接近百分之百"],
    }
)
FAMILIES.update(
    {
        "pp4-rd-en": (
            "en",
            (RD,),
            (
                "Move {x_pct} of your {x_pot} into {P} {x_by}.",
                "Let's put the whole {x_pot} into {P} {x_by}.",
                "I'd go heavy on {P}, best pick for your account right now.",
                "Go with {P}, the timing is great right now.",
                "Switch your {x_pot} to {P}; it's the best move this year.",
                "Buy {P} for your income sleeve; it pays {R}.",
                "Load up on {P} {x_by}.",
                "Time to shift the {x_pot} over to {P}.",
            ),
        ),
        "pp4-rd-en-neg": (
            "en",
            (),
            (
                "Move {x_pct} of your {x_pot} into {P} {x_by}, knowing it {x_maybe_lose}.",
                "Let's put some of the {x_pot} into {P}; it {x_maybe_lose}, so keep the rest in cash.",
                "Go with {P} if you can accept that it {x_maybe_lose}.",
                "Switch part of your {x_pot} to {P}; returns are {x_not_guar} and it {x_maybe_lose}.",
                "Send me the signed form {x_by}.",
                "Please confirm your mailing address {x_by}.",
                "Read the product documents before you decide anything.",
            ),
        ),
        "pp4-rd-zh": (
            "zh",
            (RD,),
            (
                "{x_by}就把{x_pot}全部换成{P}吧。",
                "把{x_pot}的{x_pct}转进{P}。",
                "{x_pot}直接买{P}，今年最好的选择。",
                "现在入手{P}，时机正好。",
                "重仓{P}，眼下最好的选择。",
                "买{P}当收益仓位，票息{R}。",
                "{x_by}把{x_pot}挪到{P}里。",
            ),
        ),
        "pp4-rd-zh-neg": (
            "zh",
            (),
            (
                "{x_by}可以把{x_pot}的{x_pct}换成{P}，但{P}{x_maybe}。",
                "把{x_pot}的一小部分转进{P}，要知道它{x_maybe}。",
                "如能接受{P}{x_maybe}，可以少量配置。",
                "签好的表格{x_by}发给我。",
                "请{x_by}确认您的通讯地址。",
                "做决定前请先阅读产品文件。",
            ),
        ),
        "pp4-su-en": (
            "en",
            (SU,),
            (
                "Skip the risk questionnaire, it's only paperwork; anybody can buy {x_risky}.",
                "Being {x_age} isn't a problem, {x_risky} suits any age.",
                "Even with no income, you should put your emergency fund into {x_risky}.",
                "You've just graduated with no savings, so go all in on {x_risky}.",
                "The questionnaire doesn't matter here; {x_risky} works for everyone.",
                "{P} fits every client, cautious or adventurous alike.",
                "Whatever your risk profile, {P} is right for you.",
            ),
        ),
        "pp4-su-en-neg": (
            "en",
            (),
            (
                "{P} carries an R4 (medium-high) risk rating and suits only clients with an aggressive profile.",
                "At {x_age}, {x_risky} is probably not suitable for you.",
                "Without a steady income, keep your emergency fund in cash, not in {x_risky}.",
                "{x_risky} suits only investors who can bear large losses.",
                "Please fill in the risk questionnaire first; then we can see whether {x_risky} fits.",
            ),
        ),
        "pp4-su-zh": (
            "zh",
            (SU,),
            (
                "你刚毕业没什么积蓄，直接全仓{x_risky}就行。",
                "没收入也没关系，应急钱全买{x_risky}。",
                "{x_age}也不要紧，{x_risky}什么年纪都适合。",
                "测评就是走个形式，{x_risky}谁都可以买。",
                "{P}适合所有客户，不管保守还是激进。",
                "不论您是什么风险偏好，{P}都合适。",
            ),
        ),
        "pp4-su-zh-neg": (
            "zh",
            (),
            (
                "{P}评级R4（中高风险），只适合能承受较大波动的积极型客户。",
                "您没有稳定收入，应急资金不建议放进{x_risky}。",
                "{x_age}的客户一般不适合{x_risky}。",
                "请先做风险测评，再看{x_risky}是否适合您。",
            ),
        ),
        "pp4-mc-en": (
            "en",
            (MC,),
            (
                "{x_auth} itself tells savers to buy {P}.",
                "Even {x_auth} holds {P}, that tells you everything.",
                "Our AI model picks winners with {x_acc}.",
                "The best bond fund in the country, bar none.",
            ),
        ),
        "pp4-mc-en-neg": (
            "en",
            (),
            (
                "{x_auth} publishes statistics on funds like {P}; it does not recommend any of them.",
                "No model picks winners reliably; ours is one input among many.",
                "{P} ranked in the top half of its peers last year, which says little about next year.",
            ),
        ),
        "pp4-mc-zh": (
            "zh",
            (MC,),
            (
                "{x_auth}都推荐{P}，绝对靠谱。",
                "我们的选股模型准确率{x_acc}，从不失手。",
                "{P}是全市场最牛的产品，没有之一。",
                "连{x_auth}都在买{P}，还用说吗？",
            ),
        ),
        "pp4-mc-zh-neg": (
            "zh",
            (),
            (
                "{x_auth}只公布这类产品的统计数据，并不推荐具体产品。",
                "没有哪个模型能一直选对股票，我们的模型只是参考之一。",
                "{P}去年在同类中排名前一半，这说明不了明年的表现。",
            ),
        ),
        "pp4-gr-zh": (
            "zh",
            (GR,),
            (
                "{ZY}{R}，这是板上钉钉的事。",
                "收益率是定死的{R}，市场怎么波动都影响不到您。",
                "{P}只赚不亏，错过就没了。",
                "{x_in}放进来，{x_when}翻一倍，我打包票。",
                "我跟您保证，{P}{x_when}能拿{R}。",
            ),
        ),
        "pp4-gr-en": (
            "en",
            (GR,),
            (
                "I can promise you {R} on {P} {x_when}.",
                "Put {x_in} in and you'll have {x_out} {x_when}, I give you my word.",
            ),
        ),
        "pp4-gr-neg": (
            "en",
            (),
            (
                "The savings account pays {R} interest a year, variable at the bank's discretion.",
                "Your current account earns {R} a year, and the rate can change.",
                "The capital protection applies only at maturity and only while the issuing bank stays solvent.",
                "Principal is protected at maturity only if the issuer does not default.",
            ),
        ),
        "pp4-gr-zh-neg": (
            "zh",
            (),
            (
                "活期账户目前年利率{R}，银行可能调整。",
                "到期保本只在发行银行不违约时有效。",
                "收益率不是定死的，市场波动会影响您的回报。",
            ),
        ),
    }
)

# Round 5 (written from test4's misses and false alarms once test4 joined the development splits, after the fresh
# test split test5 was committed): a product likened to a safe deposit "except nothing can go wrong", capital
# walled off with the income fixed, a seller's own clients said never to have lost, a position sized as advice
# with no risk said, a questionnaire's result overruled, a regulator said to endorse a product; clean twins: the
# same likeness with its risk, rankings with their caveat, the questionnaire asked for before any advice, and a
# recommendation that says how it loses.
FAMILIES.update(
    {
        "pp5-gr-en": (
            "en",
            (GR,),
            (
                "Think of {P} as a deposit paying {R}, except nothing can go wrong.",
                "It works like a savings account at {R}, just without any of the risk.",
                "Your capital is walled off and the income is fixed at {R}, full stop.",
                "The income on {P} is locked at {R} come rain or shine.",
                "Principal sits in a safe box and {R} lands in your account every year.",
            ),
        ),
        "pp5-gr-en-neg": (
            "en",
            (),
            (
                "{P} pays around {R}, but unlike a savings account it {x_maybe_lose}.",
                "The income target of {P} is {R}; it is {x_not_guar} and can be cut.",
                "A deposit is insured up to a limit; {P} is not, and it {x_maybe_lose}.",
            ),
        ),
        "pp5-gr-zh": (
            "zh",
            (GR,),
            (
                "把{P}当成年息{R}的存款就行，只是什么风险都没有。",
                "本金单独隔离，收益锁定{R}，没有任何意外。",
                "{P}跟存款一样稳，年年{R}到账。",
                "不管行情怎样，{P}每年{R}雷打不动。",
            ),
        ),
        "pp5-gr-zh-neg": (
            "zh",
            (),
            (
                "{P}的目标收益约{R}，但它不是存款，{x_maybe}。",
                "存款有存款保险，{P}没有，{x_maybe}。",
                "{P}年化约{R}，{x_nobao}。",
            ),
        ),
        "pp5-mc-en": (
            "en",
            (MC,),
            (
                "Not a single client of mine has ever lost money in {P}.",
                "Everyone I've put into {P} is up, every one of them.",
                "In all my years selling {P}, nobody has come out behind.",
                "All my clients in {P} made money, so you will too.",
            ),
        ),
        "pp5-mc-en-neg": (
            "en",
            (),
            (
                "Some of my clients lost money in {P} in the last downturn.",
                "{P} was in the top quartile of its peers last year; rankings move around and do not predict "
                "future returns.",
                "{P} was among the better funds in its category over three years; that does not mean it will stay "
                "there.",
                "Clients' results in {P} differ with when they bought; several are down.",
            ),
        ),
        "pp5-mc-zh": (
            "zh",
            (MC,),
            (
                "跟我买{P}的客户，没有一个亏过钱。",
                "我卖{P}这么多年，客户全都赚了。",
                "监管部门等于已经给{P}背书了，是养老钱最稳的去处。",
                "{x_auth}相当于认可了{P}，放心买。",
            ),
        ),
        "pp5-mc-zh-neg": (
            "zh",
            (),
            (
                "上一轮下跌中，我有些客户在{P}上亏了钱。",
                "{P}去年在同类中排名前四分之一，排名会变，不代表未来表现。",
                "监管部门不为任何具体产品背书，{P}也不例外。",
            ),
        ),
        "pp5-rd-en": (
            "en",
            (RD,),
            (
                "I'd move {x_pct} of your portfolio into {x_risky} while prices are down.",
                "My suggestion: {x_pct} of your money in {P} before it rebounds.",
                "While it's cheap, I'd park {x_pct} of your {x_pot} in {x_risky}.",
                "Subscribe to {P} {x_by}; it's a good home for your {x_pot}.",
            ),
        ),
        "pp5-rd-en-neg": (
            "en",
            (),
            (
                "I'd put {x_pct} of your portfolio into {x_risky} only if you can accept that it {x_maybe_lose}.",
                "You could hold some {P}, bearing in mind it {x_maybe_lose}.",
                "I recommend {P}; like every bond fund, it loses value when rates rise or an issuer defaults.",
            ),
        ),
        "pp5-rd-zh": (
            "zh",
            (RD,),
            (
                "{x_by}认购新发的{P}，很适合放您的{x_pot}。",
                "趁价格低，建议把{x_pct}仓位放到{x_risky}。",
                "您的{x_pot}放{P}正合适，{x_by}就买。",
                "我建议组合里{x_pct}配{x_risky}，现在正是时候。",
            ),
        ),
        "pp5-rd-zh-neg": (
            "zh",
            (),
            (
                "我推荐{P}；和其他债券基金一样，利率上行或发行人违约时它也会亏钱。",
                "推荐产品前，请您先做一下风险测评，这样才能判断哪些产品适合您。",
                "可以少量配置{x_risky}，但要知道它{x_maybe}。",
                "做推荐前，我需要先了解您的收入、期限和风险承受能力。",
            ),
        ),
        "pp5-su-en": (
            "en",
            (SU,),
            (
                "Your risk test came back cautious; let's set that aside and buy {x_risky}.",
                "The questionnaire says conservative, but I'd still go with {x_risky}.",
                "Never mind your low risk score, {x_risky} will be fine for you.",
                "You rated yourself risk-averse, yet {x_risky} is what I'd pick for you.",
            ),
        ),
        "pp5-su-en-neg": (
            "en",
            (),
            (
                "Your risk test came back cautious, so {x_risky} is not for you.",
                "The questionnaire says conservative; we should stay with low-risk products.",
                "Before I recommend anything, please complete the risk questionnaire so we know what suits you.",
            ),
        ),
        "pp5-su-zh": (
            "zh",
            (SU,),
            (
                "您的测评结果是保守型，不过别管它，照样买{x_risky}。",
                "问卷显示您风险承受能力低，但{x_risky}我看没问题。",
                "测评说您是稳健型，无所谓，{x_risky}照买。",
            ),
        ),
        "pp5-su-zh-neg": (
            "zh",
            (),
            (
                "您的测评结果是保守型，{x_risky}不适合您。",
                "问卷显示您风险承受能力低，我们只看低风险产品。",
            ),
        ),
    }
)

# Round 6 (written from test5's misses and false alarms once test5 joined the development splits, after the fresh
# test split test6 was committed by a writer who read none of these families): a shortfall the seller makes up, a
# coupon to be treated as certain, a floor of capital plus income, ratings or the state said to rule out a loss,
# a maturing deposit switched with no risk said, a client's own words (no loss, money needed soon) overruled;
# clean twins, and plain statements of fees ("Fees are 1.2% a year" read as a promise by the n-gram model).
SLOTS_EN["x_soon"] = ["in three months", "next spring", "for the house deposit in June", "within the year"]
SLOTS_ZH["x_soon"] = ["三个月后", "明年春天", "六月付首付", "一年内"]
FAMILIES.update(
    {
        "pp6-gr-en": (
            "en",
            (GR,),
            (
                "If {P} pays less than {R}, {x_we} make up the difference.",
                "Anything below {R} on {P}, {x_we} top you up.",
                "Treat the {R} coupon as a certainty; the issuer has never missed and never will.",
                "Count the {R} from {P} as money already in your account.",
                "Worst case {R}, best case more; either way you never go below what you put in.",
                "At the very least you get your money back plus {R}.",
            ),
        ),
        "pp6-gr-en-neg": (
            "en",
            (),
            (
                "If {P} pays less than {R}, nobody makes up the difference; that is the risk you take.",
                "The {R} coupon is paid only as long as the issuer does not default.",
                "In the worst case you get back less than you put in, and no income at all.",
                "I can't promise you {R} a year; what {P} pays depends on its holdings.",
            ),
        ),
        "pp6-gr-zh": (
            "zh",
            (GR,),
            (
                "{P}收益不到{R}的部分，我们给您补足。",
                "要是没到{R}，差额算我们的。",
                "{R}的票息您就当板上钉钉，发行方从来没违约过。",
                "这{R}的利息跑不掉，就当已经到手了。",
                "最差也有{R}，反正不会低于本金。",
                "最坏情况也能拿回本金再加{R}。",
            ),
        ),
        "pp6-gr-zh-neg": (
            "zh",
            (),
            (
                "{P}收益不到{R}的话，没有人会给您补差额，这就是风险。",
                "{R}的票息只有在发行人不违约时才会支付。",
                "最坏情况下，您拿回的钱可能少于本金，也拿不到收益。",
                "我没法承诺每年{R}，{P}的收益取决于它持有的资产。",
            ),
        ),
        "pp6-mc-en": (
            "en",
            (MC,),
            (
                "Five-star rated by every agency, which means {P} simply cannot underperform.",
                "With a AAA rating, {P} is not going to lose you money.",
                "The state stands behind {P}, so it is basically the same as holding cash.",
                "With the government behind it, {P} is as safe as cash.",
            ),
        ),
        "pp6-mc-en-neg": (
            "en",
            (),
            (
                "{P} is five-star rated, but ratings look back and it can still underperform.",
                "{P} is not backed by the state and is not the same as holding cash.",
                "Whoever told you {P} cannot lose money was wrong.",
                "A paper said {P} would double; its manager denied that in an interview.",
            ),
        ),
        "pp6-mc-zh": (
            "zh",
            (MC,),
            (
                "各家评级机构都给了{P}五星，它不可能跑输。",
                "{P}是AAA评级，不会让您亏钱。",
                "{P}有国家兜底，跟现金没什么区别。",
                "有政府在后面撑着，{P}和放现金一样安全。",
            ),
        ),
        "pp6-mc-zh-neg": (
            "zh",
            (),
            (
                "{P}虽然是五星评级，但评级只反映过去，它仍可能跑输。",
                "{P}没有国家兜底，和现金不一样。",
                "谁跟您说{P}稳赚不亏，那都不对。",
                "报纸称{P}会翻倍，但基金经理在采访中否认了这一说法。",
            ),
        ),
        "pp6-rd-en": (
            "en",
            (RD,),
            (
                "Switch your maturing deposit into {P} next week.",
                "Go with {x_risky} for your next top-up, the timing is perfect.",
                "Roll the maturing CD straight into {x_risky}.",
            ),
        ),
        "pp6-rd-en-neg": (
            "en",
            (),
            (
                "You could switch your maturing deposit into {P}, knowing it {x_maybe_lose}.",
                "If you top up {x_risky}, remember it {x_maybe_lose}.",
            ),
        ),
        "pp6-su-en": (
            "en",
            (SU,),
            (
                "You told me you can't afford any loss, but a small slice of {x_risky} won't hurt.",
                "Even though you need this money {x_soon}, I'd still lock it into a five-year structured note.",
                "You said not one cent can be lost, still, a little {x_risky} is fine.",
            ),
        ),
        "pp6-su-en-neg": (
            "en",
            (),
            (
                "You need this money {x_soon}, so a five-year structured note does not suit you.",
                "You told me you can't afford any loss, so {x_risky} is out of the question.",
            ),
        ),
        "pp6-su-zh": (
            "zh",
            (SU,),
            (
                "您说一点亏损都承受不了，不过买一点{x_risky}也无妨。",
                "虽然{x_soon}就要用这笔钱，我还是建议放进五年期的结构性票据里。",
                "您说一分钱都不能亏，可少配一点{x_risky}没关系。",
            ),
        ),
        "pp6-su-zh-neg": (
            "zh",
            (),
            (
                "您{x_soon}就要用钱，我建议放在货币基金，不要买{x_risky}。",
                "您的风险测评是{x_profile}，{x_risky}超出了我可以推荐的范围。",
            ),
        ),
        "pp6-fee-en": (
            "en",
            (),
            (
                "Fees are {R} a year.",
                "The management fee is {R} a year.",
                "{P} charges {R} a year in fees.",
                "Custody costs {R} annually.",
                "There is a {R} subscription fee.",
            ),
        ),
        "pp6-fee-zh": (
            "zh",
            (),
            (
                "管理费每年{R}。",
                "{P}的托管费率为每年{R}。",
                "认购费{R}。",
                "{P}每年收取{R}的费用。",
            ),
        ),
    }
)
