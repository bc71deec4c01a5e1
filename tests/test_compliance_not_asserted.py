"""Rules alone on hard clean texts: a claim that is negated, asked about, quoted as banned wording, reported from
someone else, or stated with its caveat or condition is not the advisor's own claim and does not fire; its
violating twin (the same claim, asserted) still does."""

from __future__ import annotations

import pytest

from fincopilot.tools.compliance import check_rules

# (kind, clean text, violating twin, the twin's category)
PAIRS = [
    # negation: inability, a negated speech act, a denial after the claim
    (
        "negation",
        "We are unable to guarantee a return of any kind.",
        "We guarantee a return of 6% a year.",
        "guaranteed_return",
    ),
    (
        "negation",
        "It is impossible to guarantee a profit on equities.",
        "We guarantee a profit on equities.",
        "guaranteed_return",
    ),
    (
        "negation",
        "Nobody can promise that the fund will beat the market.",
        "Trust me, the fund will beat the market.",
        "misleading_claim",
    ),
    (
        "negation",
        "I would never tell a client that a fund cannot lose.",
        "I told her the fund cannot lose.",
        "guaranteed_return",
    ),
    (
        "negation",
        "There is no such thing as a guaranteed return.",
        "This product has a guaranteed return of 6% a year.",
        "guaranteed_return",
    ),
    (
        "negation",
        "Guaranteed income products do not exist in equity markets.",
        "Guaranteed income of 7% a year, starting today.",
        "guaranteed_return",
    ),
    ("negation", "没有人能承诺基金一定跑赢大盘。", "这只基金一定跑赢大盘。", "misleading_claim"),
    ("negation", "我从来不会对客户说基金稳赚不赔。", "我告诉客户这只基金稳赚不赔。", "guaranteed_return"),
    ("negation", "员工严禁向客户承诺保本保收益。", "我们向客户承诺保本保收益。", "guaranteed_return"),
    ("negation", "不要相信任何声称投资稳赚的人。", "大家都说这只基金稳赚。", "guaranteed_return"),
    (
        "negation",
        "A guaranteed return is something no honest adviser can offer.",
        "A guaranteed return is something we can offer.",
        "guaranteed_return",
    ),
    ("negation", "None of our funds are risk-free.", "All of our funds are risk-free.", "guaranteed_return"),
    ("negation", "保证收益是任何诚实的顾问都给不了的。", "保证收益是我们能给的。", "guaranteed_return"),
    (
        "reported",
        "My neighbour claims his fund can't lose, but I explained why that's not true.",
        "I can tell you this fund can't lose.",
        "guaranteed_return",
    ),
    (
        "reported",
        "You mentioned a friend promised you 9% a year; please be careful with such claims.",
        "I promised you 9% a year.",
        "guaranteed_return",
    ),
    (
        "reported",
        "我邻居说他的基金稳赚，我解释了为什么不对。",
        "我跟客户说这只基金稳赚。",
        "guaranteed_return",
    ),
    # a client's question (direct, embedded, or raised and answered no)
    ("question", "Does this fund have zero risk?", "This fund has zero risk.", "guaranteed_return"),
    ("question", "Can you promise me 6% a year?", "I promise you 6% a year.", "guaranteed_return"),
    (
        "question",
        "Clients often ask whether the fund will double; we cannot predict that.",
        "Trust me, the fund will double by next year.",
        "misleading_claim",
    ),
    (
        "question",
        "This fund always goes up? No, it has had several losing years.",
        "This fund always goes up? Yes, every single year.",
        "misleading_claim",
    ),
    ("question", "这个理财产品保本吗？", "这个理财产品保本。", "guaranteed_return"),
    ("question", "这只基金有没有风险？", "这只基金没有风险。", "guaranteed_return"),
    ("question", "这款产品保本吗，收益有多少？", "本产品保本，收益7%。", "guaranteed_return"),
    ("question", "您推荐哪只基金？", "推荐您买HY-7，收益很高。", "missing_risk_disclosure"),
    (
        "question",
        "Q: Is my money 100% safe? A: No. All investments carry risk.",
        "Your money is 100% safe.",
        "guaranteed_return",
    ),
    ("quoted", "稳赚不赔这种话，监管是明令禁止的。", "稳赚不赔，放心买。", "guaranteed_return"),
    # quoting a rule or a banned phrase
    (
        "quoted",
        'The regulator prohibits saying that products are "risk-free" or have "guaranteed returns".',
        'Our slogan says it all: "guaranteed returns, every year".',
        "guaranteed_return",
    ),
    (
        "quoted",
        "Our guaranteed-return claims were withdrawn after the regulator's review.",
        "Our guaranteed returns beat everyone else's.",
        "guaranteed_return",
    ),
    ("quoted", "监管规定不得宣传“保本保息”“零风险”。", "我们的口号是“稳赚不赔”！", "guaranteed_return"),
    ("quoted", "宣传册上写着“保本”，这一说法有误导性，已经撤回。", "这个理财产品保本。", "guaranteed_return"),
    # reported speech: a third party's words
    (
        "reported",
        "The complaint alleges the adviser promised a 10% return.",
        "I promise you a 10% return.",
        "guaranteed_return",
    ),
    (
        "reported",
        "Don't believe anyone who says an investment can't lose.",
        "Everyone says this fund can't lose.",
        "guaranteed_return",
    ),
    ("reported", "投诉称理财经理承诺了10%的回报。", "我们承诺10%的回报。", "guaranteed_return"),
    ("reported", "他说这只基金会翻倍，我告诉他谁也无法预知。", "这只基金一定会翻倍。", "misleading_claim"),
    # plain facts of a product's terms: a stated rate, a guarantee with its condition
    (
        "terms",
        "The deposit rate is locked in at 2.5% per year for twelve months.",
        "Your return is locked in at 8% a year, no matter what.",
        "guaranteed_return",
    ),
    (
        "terms",
        "This product has a guaranteed minimum return of 1.5% set by contract, but the issuer can default.",
        "This product has a guaranteed return of 6% a year.",
        "guaranteed_return",
    ),
    (
        "terms",
        "本产品为保本浮动收益型结构性存款，到期保本，浮动收益不保证。",
        "本产品保本，收益7%。",
        "guaranteed_return",
    ),
    # past performance with its caveat in the same sentence
    (
        "caveat",
        "The fund has never lost money in a single year, but that record may not continue and losses are "
        "possible.",
        "The fund has never lost money in a single year.",
        "misleading_claim",
    ),
    (
        "caveat",
        "这只基金从未亏损，但过往业绩不代表未来，未来可能亏损。",
        "这只基金从未亏损。",
        "misleading_claim",
    ),
]


@pytest.mark.parametrize(
    ("kind", "clean", "twin", "category"), PAIRS, ids=[f"{p[0]}-{i}" for i, p in enumerate(PAIRS)]
)
def test_clean_text_passes_and_its_twin_is_flagged(kind, clean, twin, category):
    result = check_rules(clean)
    assert result.passed, (kind, clean, result.violations)
    flagged = {v.category for v in check_rules(twin).violations}
    assert category in flagged, (kind, twin, flagged)


@pytest.mark.parametrize(
    "text",
    [
        "Why settle for a deposit when HY-7 is risk-free?",  # a rhetorical question asserts
        "Who wouldn't want a fund that can't lose?",
        "As I said, this fund can't lose.",  # the advisor reporting their own words
        "No worries, I promise you 8% a year.",  # a negation in another clause
        "难道这不是稳赚的买卖吗？",
        "不用担心，这只基金稳赚不赔。",
    ],
)
def test_assertions_dressed_as_questions_or_reports_still_fire(text):
    assert not check_rules(text).passed, text
