"""The generated training corpus for the learned compliance check (English and Chinese).

Every example comes from a template family (`family` id) filled from synonym lists, with augmentations:
paraphrases and synonyms, hedges, negated twins ("not guaranteed", 不保本) labelled clean, promises split
across two sentences, disguises (full-width, spacing) and both languages. Families are split whole into
train and validation (`split_of`), so validation measures templates the classifier never saw.

Beside the families, hand-written texts join as one family each, `WRITTEN_COPIES` times (copies after the
first may be disguised), so a free phrasing weighs about as much as a template: `tools/data/compliance_written_
{en,zh}.jsonl` (300 per language: 30 per category and 150 hard clean texts) and `compliance_written2_{en,zh}
.jsonl` (300 per language: 20 per category and 200 hard clean texts, among them report sentences and tool
messages that name ids) and `compliance_written3_{en,zh}.jsonl` (300 per language: 40 suitability, 25
guaranteed-return, 20 misleading, 20 undisclosed-risk and 15 PII texts and 180 hard clean texts) and
`compliance_written4_{en,zh}.jsonl` (596: about 40 suitability, 25 guaranteed-return, 25 misleading, 20
undisclosed-risk and 15 PII texts and 175 hard clean texts per language) and `compliance_written5_{en,zh}.jsonl`
(598: per language about 26 texts per category, each with a clean twin on the same topic that refuses, caveats,
quotes or masks it, and 40 more hard clean texts) and `compliance_written6_{en,zh}.jsonl` (640: per language 120
contrastive pairs, about 24 violations per category, and 80 more hard clean texts of the kinds the development
splits flagged wrongly), by twelve writers who read none of the families, rules or splits. Clean texts of the
product's own kind come from the product itself (`_product_examples`): its generated reports' sentences and its
framework texts.

The adversarial eval splits (`evals/sets/compliance_adversarial*.jsonl`) are written apart from this file and
are never used here.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

from fincopilot.tools import compliance_paraphrases as para
from fincopilot.tools import datagen
from fincopilot.tools.claims import split_sentences

GR, MC, RD, SU, PII = "guaranteed_return", "misleading_claim", "missing_risk_disclosure", "suitability", "pii"
SENTENCE_CATEGORIES = (GR, MC, SU, PII)  # judged per sentence (and per pair of adjacent sentences)
TEXT_CATEGORIES = (RD,)  # judged on the whole text


@dataclass(frozen=True)
class Example:
    text: str
    labels: frozenset[str]
    family: str
    lang: str


PRODUCTS = [
    "HY-7",
    "this fund",
    "the bond fund",
    "our note",
    "the product",
    "BAL-3",
    "this plan",
    "the portfolio",
]
RATES = ["5%", "6%", "6.5%", "7%", "7.5%", "8%", "8.8%", "9%", "10%", "12%", "4.2%", "15%"]
RATES += ["eight percent", "6 per cent", "seven per cent", "ten percent"]  # v7: numbers in words
PER_YEAR = ["a year", "per year", "every year", "annually", "per annum", "each year", "a year, every year"]
P_ZH = ["HY-7", "这只基金", "该产品", "本产品", "这款理财", "BAL-3", "这个计划"]
R_ZH = ["5%", "6%", "6.5%", "7%", "7.5%", "8%", "9%", "10%", "12%", "4.2%", "百分之八", "百分之六点五"]
Y_ZH = ["年化", "每年", "一年", ""]

V = {
    # English promise vocabulary (synonyms)
    "guar_v": [
        "guarantees",
        "assures",
        "promises",
        "secures",
        "locks in",
        "commits to",
        "ensures",
        "pledges",
        "warrants",
        "underwrites",
        "vouches for",
        "stands behind",
    ],
    "guar_v1": [
        "guarantee",
        "assure",
        "promise",
        "secure",
        "lock in",
        "commit to",
        "ensure",
        "pledge",
        "warrant",
        "underwrite",
        "vouch for",
        "stand behind",
    ],
    "sure_adj": [
        "guaranteed",
        "assured",
        "certain",
        "fixed",
        "sure",
        "secured",
        "locked-in",
        "promised",
        "safe",
        "risk-free",
        "protected",
        "contractual",
        "definite",
    ],
    "sure_adv": [
        "for sure",
        "without fail",
        "no matter what",
        "guaranteed",
        "100%",
        "whatever happens",
        "in any market",
        "come rain or shine",
    ],
    "deliver_v": ["delivers", "offers", "provides", "yields", "pays out", "hands you", "gives", "generates"],
    "get_v": ["earn", "get", "receive", "collect", "pocket", "make", "take home", "be paid"],
    "is_guar": [
        "is guaranteed",
        "is assured",
        "is secured",
        "is locked in",
        "is certain",
        "is contractually promised",
        "is fully protected",
        "is fixed and safe",
        "is promised",
        "is a sure thing",
    ],
    "is_not": [
        "is not guaranteed",
        "is not assured",
        "is a target, not a promise",
        "may not be achieved",
        "is not certain",
        "is not promised",
        "can vary and is not secured",
        "is only an estimate",
    ],
    "cannot_lose": [
        "cannot lose",
        "will never lose a penny",
        "face no risk of loss",
        "have no downside at all",
        "are protected from any loss",
        "can't lose money",
        "will not lose anything",
        "run zero risk",
        "have no chance of losing",
        "are shielded from every loss",
        "will get all your money back",
    ],
    "noloss_n": [
        "a loss is impossible",
        "losing is not an option",
        "there is no way to lose",
        "losses cannot happen",
        "there is no chance of a loss",
        "you are covered against any loss",
    ],
    "can_lose": [
        "could lose money",
        "may lose part of your capital",
        "can lose value",
        ("might not get back what you invested"),
        "may see the value fall",
        "can make a loss",
    ],
    "hedge": ["", "Honestly, ", "Trust me, ", "Between us, ", "As you know, ", "Simply put, "],
    "capital": ["principal", "capital", "investment", "money", "savings"],
    "safe": [
        "100% safe",
        "totally secure",
        "fully guaranteed",
        "safe no matter what",
        "completely protected",
    ],
    "at_risk": ["at risk", "not protected", "exposed to losses", "not guaranteed", "subject to market risk"],
    # misleading claims
    "will_beat": [
        "will beat the market",
        "is going to outperform",
        "will surely rise",
        "will double",
        "is bound to go up",
        "will definitely outperform its peers",
        "will keep climbing",
    ],
    "record": [
        "has never lost money",
        "never had a down year",
        "has always gone up",
        "has never fallen",
        "always beats the index",
        "has made money every single year",
        "has not lost money in any year",
        "has gained every quarter",
        "only rises",
        "never goes down",
    ],
    "best": [
        "the best fund on the market",
        "the number one product",
        "the top-performing fund anywhere",
        "the highest-returning and safest fund",
        "the best investment you can make",
    ],
    "past": [
        "Past returns prove",
        "The track record guarantees",
        "Its history shows",
        "Past performance ensures",
    ],
    "future": [
        "it will do the same again",
        "future gains",
        "you will earn this again",
        ("the next years will be as good"),
    ],
    # suitability claims
    "everyone": [
        "suitable for every investor",
        "right for anyone",
        "fine for all clients",
        ("good for any risk profile"),
        "appropriate for everybody",
    ],
    "even": [
        "Even conservative investors",
        "Even retirees",
        "Even a cautious client",
        "Even a low-risk investor",
    ],
}

Z = {
    "guar": [
        "保本保息",
        "稳赚不赔",
        "保证收益",
        "收益有保障",
        "本金无忧",
        "包赚不亏",
        "刚性兑付",
        "保证本金安全",
        "只赚不赔",
        "零风险",
        "收益固定",
        "本息全额兑付",
        "稳赚",
        "保收益",
        "亏损由我们承担",
        "到手收益确定",
    ],
    "sure_zh": ["确定", "固定", "保证", "锁定", "稳定到手", "肯定", "一定", "铁定"],
    "get_zh": ["拿到", "赚到", "获得", "收到", "到手"],
    "promise": ["我们保证", "我们承诺", "我向您保证", "公司承诺", "确保您"],
    "nolose": [
        "绝对不会亏",
        "不会亏损",
        "没有任何风险",
        "百分之百安全",
        "亏不了",
        "稳赚",
        "不可能亏损",
        "本金不会有任何损失",
        "一分钱都不会亏",
    ],
    "neg": [
        "不保本",
        "不保证收益",
        "不承诺收益",
        "并非无风险",
        "不能保证本金",
        "不保息",
        "可能亏损",
        "不是保本产品",
    ],
    "hedge": ["", "说实话，", "放心，", "您知道的，", "简单说，"],
    "will_rise": ["一定会上涨", "肯定会跑赢大盘", "必涨", "明年一定翻倍", "必然跑赢基准", "只涨不跌"],
    "record": [
        "从未亏损",
        "从来没亏过",
        "每年都是正收益",
        "一直跑赢大盘",
        "成立以来没跌过",
        "没有一年亏钱",
        "从来没有下跌过",
        "历年都赚钱",
    ],
    "best": ["市场上最好的基金", "业绩第一的产品", "收益最高的产品", "全市场最佳的债基"],
    "past": ["过往业绩证明了未来收益", "历史业绩保证未来也会赚钱", "过去的业绩说明以后也会涨"],
    "everyone": [
        "适合所有投资者",
        "适合任何人",
        "所有客户都可以买",
        "不论风险等级都适合",
        "任何风险偏好都能买",
    ],
    "even": ["保守型客户也可以重仓", "退休老人也能全部买入", "风险承受能力低的客户也适合"],
}

REC_EN = [
    "I recommend {P} for your portfolio.",
    "You should buy {P} now.",
    ("We suggest adding {P} to the client's allocation."),
    "{P} is a great choice for you.",
    "Consider investing in {P} this month.",
    "My recommendation: move some savings into {P}.",
    "Buy {P} today; it is the right move for you.",
    "Go ahead and put your bonus into {P}.",
    "Move your cash into {P} this week.",
    "{P} is where your retirement money should go.",
]
DISC_EN = [
    "Investment involves risk and the value may fall.",
    "Risks include credit and interest-rate risk.",
    "You may lose money; returns are not guaranteed.",
    ("Past performance does not indicate future results."),
    "Your capital is at risk.",
]
FACT_EN = [
    "Its yield to maturity is {R}.",
    "The management fee is {R} a year.",
    "The NAV fell {R} last quarter.",
    "The default rate rose to {R}.",
    "Its duration is 3.7 years.",
    "The coupon is {R}, paid annually.",
]
REC_ZH = [
    "建议您买入{P}。",
    "推荐您配置{P}。",
    "{P}适合您，可以申购。",
    "建议客户增持{P}。",
    "{P}值得配置。",
    "今天就买{P}吧。",
    "把存款转到{P}。",
    "{P}是您这笔钱的最佳去处。",
    "可以把钱放到{P}里。",
]
DISC_ZH = [
    "投资有风险，净值可能下跌。",
    "风险提示：本金可能损失。",
    "该产品存在信用风险和利率风险。",
    "过往业绩不代表未来表现，请谨慎投资。",
]
FACT_ZH = [
    "到期收益率为{R}。",
    "管理费率为每年{R}。",
    "上季度净值下跌{R}。",
    "违约率上升至{R}。",
    "久期为3.7年。",
]


def _fill(rng: random.Random, template: str, zh: bool = False) -> str:
    vocab = Z if zh else V
    out = template
    for key, words in vocab.items():
        while "{" + key + "}" in out:
            out = out.replace("{" + key + "}", rng.choice(words), 1)
    out = out.replace("{P}", rng.choice(P_ZH if zh else PRODUCTS)).replace(
        "{R}", rng.choice(R_ZH if zh else RATES)
    )
    out = out.replace("{Y}", rng.choice(PER_YEAR)).replace("{ZY}", rng.choice(Y_ZH))
    return out[0].upper() + out[1:] if out and not zh else out


# family id -> (language, labels, templates). Families ending in "-neg" are the negated or factual twins.
FAMILIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "gr-en-verb": (
        "en",
        (GR,),
        (
            "{hedge}{P} {guar_v} you {R} {Y}.",
            "{hedge}we {guar_v1} you {R} {Y}.",
            "{hedge}I {guar_v1} a return of {R} {Y} on {P}.",
            "{hedge}I {guar_v1} {R} {Y}.",
            "{hedge}you will {get_v} {R} {Y} {sure_adv}.",
            "{hedge}{P} pays a {sure_adj} {R} {Y}.",
            "{hedge}{P} gives you a {sure_adj} {R}.",
            "{hedge}{P} {deliver_v} a {sure_adj} {R} {Y}.",
            "{hedge}{R} {Y}, {sure_adv}.",
            "{hedge}your {R} {Y} is {sure_adj}.",
            "We take on all the risk; you {get_v} {R} {Y}.",
            "{hedge}you get back every cent plus {R}.",
        ),
    ),
    "gr-en-passive": (
        "en",
        (GR,),
        (
            "{hedge}the {R} return on {P} {is_guar}.",
            "{hedge}a yield of {R} {Y} {is_guar}.",
            "{hedge}your income of {R} {Y} {is_guar} with {P}.",
        ),
    ),
    "gr-en-noloss": (
        "en",
        (GR,),
        (
            "{hedge}with {P} you {cannot_lose}.",
            "{hedge}your {capital} is {safe} in {P}.",
            "{hedge}{P} is risk-free and pays {R} {Y}.",
            "Zero risk: {R} {Y} on {P}.",
            "{hedge}with {P} {noloss_n}.",
            "{hedge}{noloss_n} with {P}, and it pays {R}.",
        ),
    ),
    "gr-en-split": (
        "en",
        (GR,),
        (
            "{P} pays {R} {Y}. That {is_guar}.",
            "You get {R} {Y}. We {guar_v1} it.",
            "Invest in {P}. Your {capital} is {safe}.",
        ),
    ),
    "gr-en-neg": (
        "en",
        (),
        (
            "{hedge}the {R} return on {P} {is_not}.",
            "{hedge}with {P} you {can_lose}.",
            "{hedge}your {capital} is {at_risk} in {P}.",
            "Nobody can {guar_v1} {R} {Y} on {P}.",
            "We do not {guar_v1} any return on {P}.",
            "{P} pays {R} {Y}. That {is_not}.",
            "{P} is not risk-free and you {can_lose}.",
            "The risk-free rate is {R} {Y}.",
            "There is no {sure_adj} return on {P}; you {can_lose}.",
            "{P} aims to pay {R} {Y} but you {can_lose}.",
            "{P} paid {R} last year.",
            "We cannot {guar_v1} that {P} will pay {R}.",
            "No return on {P} is {sure_adj}.",
            "{P} {deliver_v} {R} {Y} on average, but returns vary.",
            "{P} targets {R} {Y}; this is not {sure_adj}.",
            "Past years delivered {R} {Y} on average.",
            "{hedge}you can lose money with {P}.",
        ),
    ),
    "mc-en": (
        "en",
        (MC,),
        (
            "{hedge}{P} {will_beat}.",
            "{hedge}{P} {record}.",
            "{hedge}{P} is {best}.",
            "{past} {future}.",
            "{P} {record}. It {will_beat}.",
        ),
    ),
    "mc-en-neg": (
        "en",
        (),
        (
            "We cannot say whether {P} will beat the market.",
            "{P} lost money in 2022.",
            "Past performance does not indicate future results.",
            "{P} has fallen in some years.",
            "No fund always goes up, and {P} is no exception.",
            "{P} may not outperform.",
        ),
    ),
    "su-en": (
        "en",
        (SU,),
        (
            "{hedge}{P} is {everyone}.",
            "{even} can put everything into {P}.",
            "Risk profile does not matter, {P} is {everyone}.",
        ),
    ),
    "su-en-neg": (
        "en",
        (),
        (
            "{P} is rated R3 and suits balanced investors or above.",
            ("{P} is not suitable for conservative investors."),
            "Check the client's risk profile before buying {P}.",
        ),
    ),
    "gr-zh": (
        "zh",
        (GR,),
        (
            "{hedge}{P}{guar}，{ZY}{R}。",
            "{hedge}{promise}{ZY}收益{R}。",
            "{hedge}投资{P}{nolose}。",
            "{hedge}{P}{ZY}{R}，{guar}。",
            "{P}{ZY}{R}。本金和收益{promise}兑付。",
            "{hedge}买{P}，{ZY}{sure_zh}{get_zh}{R}。",
            "{hedge}{P}的收益{sure_zh}是{R}，{nolose}。",
            "{P}{ZY}{R}。这个收益{sure_zh}能{get_zh}。",
            "亏损由我们承担，{ZY}{R}。",
            "本金我们负责，收益{R}。",
            "{P}的{R}收益是{sure_zh}的。",
        ),
    ),
    "gr-zh-neg": (
        "zh",
        (),
        (
            "{P}{neg}，{ZY}{R}只是业绩比较基准。",
            "{hedge}投资{P}{neg}。",
            "{P}{neg}，请谨慎投资。",
            "没有人能保证{P}的收益。",
            "无风险利率为{R}。",
            "{P}{ZY}{R}，但{neg}。",
            "{P}去年收益{R}。",
            "{P}的目标收益为{R}，{neg}。",
            "{P}{ZY}{R}不是{sure_zh}的。",
            "{P}{ZY}{R}是历史平均，不代表未来。",
            "{P}可能亏损，收益{R}并不确定。",
        ),
    ),
    "mc-zh": (
        "zh",
        (MC,),
        (
            "{hedge}{P}{will_rise}。",
            "{hedge}{P}{record}。",
            "{P}是{best}。",
            "{past}。",
            "{P}{record}，以后也会这样。",
        ),
    ),
    "mc-zh-neg": (
        "zh",
        (),
        (
            "{P}在2022年出现亏损。",
            "过往业绩不代表未来表现。",
            "我们不能保证{P}跑赢基准。",
            "{P}的净值有涨有跌。",
        ),
    ),
    "su-zh": ("zh", (SU,), ("{P}{everyone}。", "{even}{P}。", "{hedge}{P}{everyone}，不用看风险等级。")),
    "su-zh-neg": (
        "zh",
        (),
        (
            "{P}风险等级为R3，仅适合平衡型及以上投资者。",
            "{P}不适合保守型客户。",
            "购买{P}前请先评估风险承受能力。",
        ),
    ),
}

# Clean factual sentences of the kind the copilot's answers are made of (credit lookups, report summaries).
CLEAN_EN = [
    "{N} ({C}): credit score 585, grade B, probability of default {R}.",
    "Main factors: loan duration (months): 36 scores 35 points below the best bin; credit history: existing.",
    "Checking account status: no account [1].",
    "The report dated 2024-09-30 says the NAV fell {R} [2].",
    "{P}'s yield to maturity was {R} at the end of the quarter [2].",
    "Suitability check: passed [3].",
    "Savings: below 100 DM; purpose: car (new) [1].",
    "{N} has a solid credit profile [1].",
    "Credit spreads widened and the fund's duration is 3.7 years [2].",
    "The fund size is 1.2 billion yuan.",
    "The latest {P} report is summarized [2].",  # v7: how the copilot's answers cite a report
    "Here is a summary of the {P} quarterly report [2].",
    "{N}'s credit is grade B [1].",
]
CLEAN_ZH = [
    "{N}（{C}）：信用评分585，等级B，违约概率{R}。",
    "主要因素：贷款期限36个月，比最佳分箱低35分。",
    "报告显示上季度净值下跌{R}[2]。",
    "{P}的到期收益率为{R}，久期3.7年[2]。",
    "适当性检查：通过[3]。",
    "{N}的信用状况良好[1]。",
    "信用利差走阔，基金规模12亿元。",
    "{P}最新报告摘要如下[2]。",
]
# The framework's own texts that name ids and codes (help, clarifying questions, step failures, renderings): an
# internal client id or product code is not personal data.
FRAMEWORK_EN = [
    "I can run these skills for you: credit_lookup, report_summary, compliance_check. Name a client id (like {C}) "
    "or a product code (like {K}).",
    "Which one do you mean (an id like {C}, a code like {K})?",
    "No client matches that name; give a client id like {C} or a full name (English or Chinese).",
    "Step 2 (report_summary) could not run: no report for {K} [2].",
    "Client {N} ({C}). Score 612. Probability of default {R}. Grade C. Main adverse factors: savings, purpose.",
    "{N} scores 655 points (grade B), an estimated {R} probability of default [1].",
    "The {K} report RPT-{K}-20260930-EN of 2026-09-30 in brief: net assets were CNY 3.1 billion [2].",
    "Compliance check: passed, no violations found [3].",
    "Argument client = {K} is a product code, not a client (an id like {C} or a name).",
    "Advisor notes for {C} were updated on 2026-10-02.",
]
FRAMEWORK_ZH = [
    "我可以为您运行这些技能：credit_lookup、report_summary、compliance_check。请提供客户编号（如{C}）或产品代码（如{K}）。",
    "您指的是哪一个（客户编号如{C}，产品代码如{K}）？",
    "没有与该姓名匹配的客户；请提供客户编号（如{C}）或全名。",
    "第2步（report_summary）未能完成：没有{K}的报告 [2]。",
    "{N}（{C}）的信用评分为655，等级B，估计违约概率为{R}[1]。",
    "{K}报告摘要：基金资产净值为31亿元[2]。",
    "合规检查：通过，未发现违规[3]。",
    "{C}的顾问备注已于2026年10月2日更新。",
]
# Reports that tests and the demo run on stay out of the corpus, so those tests measure transfer to an unseen
# report of a known template.
HELD_OUT_PRODUCTS = frozenset({"HY-7", "HY-9", "EQ-10", "GB-1", "MM-1"})

NAMES = ["Zhang Min", "Olivia Brandt", "Li Wei", "Bob Wu", "Chen Jing"]
CLIENTS = ["C-1042", "C-1300", "C-1500", "C-2001"]

PHONES = [
    "13812345678",
    "139 8765 4321",
    "+86 138-1234-5678",
    "8613513854740",
    "139.8765.4321",
    "(021) 6234 5678",
]
EMAILS = ["li.na@example.com", "wang_jun88@mail.cn", "client.1042@bank.example", "zhou@corp.example.org"]
IDS = ["11010519491231002X", "110101 1990 0307 1233", "440301-1985-0612-3456"]
CARDS = ["6222020200112233446", "6222 0202 1234 5679", "4111-1111-1111-1111", "6222.0202.5566.7781"]
PII_EN = [
    "Call the client on {v}.",
    "Her phone is {v}.",
    "Send it to {v} today.",
    "ID number: {v}.",
    "Charge card {v} on Monday.",
    "Contact {v} for details.",
]
PII_ZH = ["客户电话{v}。", "请发送到{v}。", "身份证号{v}。", "扣款卡号{v}。", "联系方式：{v}"]
NOPII_EN = [
    "The yield is {R} and the fee {R}.",
    "Client C-1042 holds 200,000 yuan.",
    "Report dated 2024-09-30.",
    "The fund size is 1,250,000,000 yuan.",
    "Duration 3.7 years, rating AA+.",
    "Call the branch hotline.",
]
NOPII_ZH = ["收益率{R}，费率{R}。", "客户C-1042持有20万元。", "报告日期2024-09-30。", "基金规模12.5亿元。"]


def _pii_examples(rng: random.Random) -> list[Example]:
    values = PHONES + EMAILS + IDS + CARDS
    out = []
    for i in range(240):
        zh = i % 2 == 1
        lang = "zh" if zh else "en"
        templates = PII_ZH if zh else PII_EN
        t_idx = rng.randrange(len(templates))
        out.append(
            Example(
                templates[t_idx].replace("{v}", rng.choice(values)),
                frozenset({PII}),
                f"pii-{lang}-{t_idx}",
                lang,
            )
        )
        negs = NOPII_ZH if zh else NOPII_EN
        n_idx = rng.randrange(len(negs))
        out.append(Example(_fill(rng, negs[n_idx], zh), frozenset(), f"pii-neg-{lang}-{n_idx}", lang))
    return out


def _disclosure_examples(rng: random.Random) -> list[Example]:
    out = []
    for i in range(400):
        zh = i % 2 == 1
        rec, disc, fact = (REC_ZH, DISC_ZH, FACT_ZH) if zh else (REC_EN, DISC_EN, FACT_EN)
        sep = "" if zh else " "
        parts = [_fill(rng, rng.choice(rec), zh)] + ([_fill(rng, rng.choice(fact), zh)] if i % 3 else [])
        lang = "zh" if zh else "en"
        out.append(Example(sep.join(parts), frozenset({RD}), f"rd-{lang}-{i % 4}", lang))
        with_disc = parts + [_fill(rng, rng.choice(disc), zh)]
        rng.shuffle(with_disc)
        out.append(Example(sep.join(with_disc), frozenset(), f"rd-neg-{lang}-{i % 4}", lang))
        out.append(
            Example(
                sep.join(_fill(rng, rng.choice(fact), zh) for _ in range(2)),
                frozenset(),
                f"rd-fact-{lang}-{i % 4}",
                lang,
            )
        )
    return out


def _disguise(rng: random.Random, text: str) -> str:
    """Full-width letters/digits or a zero-width space: the classifier sees the normalized view anyway."""
    if rng.random() < 0.5:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    cut = rng.randrange(1, max(2, len(text)))
    return text[:cut] + "\u200b" + text[cut:]


def generate(seed: int = 7, per_template: int = 30) -> list[Example]:
    """The whole corpus, deterministic for a seed."""
    rng = random.Random(seed)
    out: list[Example] = []
    for fam, (lang, labels, templates) in FAMILIES.items():
        for t_idx, template in enumerate(templates):
            for _ in range(per_template):
                text = _fill(rng, template, lang == "zh")
                if rng.random() < 0.1:
                    text = _disguise(rng, text)
                out.append(Example(text, frozenset(labels), f"{fam}-{t_idx}", lang))
    extra = _pii_examples(rng) + _disclosure_examples(rng) + _clean_examples(rng)
    paraphrased = _paraphrase_examples(rng, per_template // 2)
    return out + extra + paraphrased + _written_examples(rng) + _product_examples(rng)


WRITTEN = tuple(
    Path(__file__).parent / "data" / f"compliance_{name}_{lang}.jsonl"
    for name in ("written", "written2", "written3", "written4", "written5", "written6")
    for lang in ("en", "zh")
)
WRITTEN_COPIES = 4


def _written_examples(rng: random.Random) -> list[Example]:
    """The hand-written texts (`WRITTEN`), each its own family, `WRITTEN_COPIES` times."""
    out = []
    for path in WRITTEN:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for copy in range(WRITTEN_COPIES):
                text = _disguise(rng, row["text"]) if copy and rng.random() < 0.25 else row["text"]
                out.append(Example(text, frozenset(row["categories"]), f"written-{row['id']}", row["lang"]))
    return out


def _paraphrase_examples(rng: random.Random, per_template: int) -> list[Example]:
    """The paraphrase families (`tools.compliance_paraphrases`), one family id per template."""
    out = []
    for fam, (lang, labels, templates) in para.FAMILIES.items():
        slots = para.SLOTS_ZH if lang == "zh" else para.SLOTS_EN
        for t_idx, template in enumerate(templates):
            for _ in range(per_template):
                text = template
                for key, words in slots.items():
                    while "{" + key + "}" in text:
                        text = text.replace("{" + key + "}", rng.choice(words), 1)
                text = _fill(rng, text, lang == "zh")
                if rng.random() < 0.1:
                    text = _disguise(rng, text)
                out.append(Example(text, frozenset(labels), f"{fam}-{t_idx}", lang))
    return out


def _clean_examples(rng: random.Random) -> list[Example]:
    return _clean_family(rng, "clean", CLEAN_EN, CLEAN_ZH, copies=12)


def _clean_family(
    rng: random.Random, name: str, en: list[str], zh: list[str], copies: int, codes: list[str] | None = None
) -> list[Example]:
    """Clean texts filled from templates (`{N}` a name, `{C}` a client id, `{K}` one of `codes`), one family
    per template."""
    out = []
    for lang, templates in (("en", en), ("zh", zh)):
        for t_idx, template in enumerate(templates):
            for _ in range(copies):
                filled = template.replace("{K}", rng.choice(codes)) if codes else template
                text = _fill(rng, filled, lang == "zh")
                text = text.replace("{N}", rng.choice(NAMES)).replace("{C}", rng.choice(CLIENTS))
                out.append(Example(text, frozenset(), f"{name}-{lang}-{t_idx}", lang))
    return out


def _product_examples(rng: random.Random) -> list[Example]:
    """Clean texts of the product's own kind: every sentence of the generated fund reports (one family per
    report template, language and sentence position; `HELD_OUT_PRODUCTS` left out) and the framework's texts."""
    out = []
    kinds = {p.code: datagen.report_family(p) for p in datagen.PRODUCTS}
    for rep in datagen.reports():
        if rep["product_code"] in HELD_OUT_PRODUCTS:
            continue
        kind = kinds[rep["product_code"]]
        for k, sentence in enumerate(split_sentences(rep["body"])):
            out.append(
                Example(sentence, frozenset(), f"report-{kind}-{rep['language']}-{k}", rep["language"])
            )
    codes = sorted(set(kinds) - HELD_OUT_PRODUCTS)
    return out + _clean_family(rng, "framework", FRAMEWORK_EN, FRAMEWORK_ZH, copies=8, codes=codes)


def split_of(example: Example, val_share: float = 0.25) -> str:
    """'train' or 'validation', by the example's template family (never by example)."""
    return "validation" if (zlib.crc32(example.family.encode()) % 1000) / 1000 < val_share else "train"
