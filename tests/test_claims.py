"""Claim checking: each number with its quantity, direction, period and unit against the source sentence."""

from __future__ import annotations

import json

import pytest

from fincopilot.evals import claims_eval
from fincopilot.tools.claims import check_claims, read_claims

SOURCE = (
    "High Yield Bond Fund (HY-7) quarterly report, Q3 2026\n\nAs of 30 September 2026, the net asset value (NAV) "
    "per unit of the High Yield Bond Fund (HY-7) was 1.3847, down 3.39% over the quarter and +5.59% year to "
    "date. Net assets were CNY 6.35 billion, invested in 162 bonds.\n\nThe portfolio's yield to maturity was "
    "7.88%, with a modified duration of 3.7 years."
)


def test_a_faithful_paraphrase_passes_and_cites_its_sentence():
    report = check_claims(
        "HY-7's NAV fell 3.39% over the quarter; its yield to maturity was 7.88%.", [SOURCE]
    )
    assert report.ok and report.faithfulness == 1.0
    assert all(c.source_sentence and "3.39%" in SOURCE for c in report.claims)


@pytest.mark.parametrize(
    "summary, why",
    [
        ("HY-7 reported a 3.39% increase in net assets.", "the text says up, the source says down"),
        ("The NAV rose 3.39% over the quarter.", "direction"),
        ("The yield to maturity was 3.7% and the duration 7.88 years.", "quantity"),
        ("The NAV gained 5.59% over the quarter.", "period"),
        ("The yield to maturity was 8.12%.", "no source states this number"),
        ("Duration was 3.7% of net assets.", "unit"),
    ],
)
def test_unsupported_claims_are_rejected_with_the_reason(summary, why):
    report = check_claims(summary, [SOURCE])
    assert not report.ok
    assert any(why in r for r in report.reasons), report.reasons


@pytest.mark.parametrize(
    "summary, why",
    [
        ("", "empty"),
        ("…from a benchmark benchmark to a benchmark benchmark.", "repeated"),
        ("High Yield Bond Fund (HY-7) quarterly report, Q3 2026", "title only"),
        ("The NAV was 1.3847. The NAV was 1.3847.", "repeated"),
    ],
)
def test_degenerate_text_is_rejected(summary, why):
    report = check_claims(summary, [SOURCE])
    assert not report.ok and why in (report.degenerate or "")


def test_chinese_claims():
    src = "截至2026年6月30日，单位净值为1.0832元，近一季度上涨0.64%，今年以来收益率为1.92%。组合到期收益率下降至3.15%。"
    assert check_claims("单位净值近一季度上涨0.64%，到期收益率降至3.15%。", [src]).ok
    assert not check_claims("单位净值近一季度下跌0.64%。", [src]).ok
    assert not check_claims("今年以来收益率为0.64%。", [src]).ok


@pytest.mark.parametrize(
    "path", [claims_eval.SET_PATH, claims_eval.SET_PATH.with_name("summary_claims_handwritten.jsonl")]
)
def test_precision_and_recall_on_the_labelled_sets_beat_the_numbers_only_baseline(path):
    items = claims_eval.load_items(path)
    claims, numbers = claims_eval.evaluate(items)
    assert claims.precision[0] >= 0.9 and claims.recall[0] >= 0.95
    assert numbers.recall[0] < 0.3  # the old check passed sign flips, swaps, wrong periods and loops


def test_labelled_set_is_reproducible():
    rows = claims_eval.build_items()
    stored = claims_eval.load_items()
    assert [json.dumps(r, sort_keys=True) for r in rows] == [json.dumps(r, sort_keys=True) for r in stored]


def test_summarizer_rejects_a_model_summary_with_a_flipped_claim():
    from skill_helpers import BackendGateway, run_skill

    from fincopilot.models.backends.scripted import ScriptedBackend

    def reply(messages, schema):  # scripted FAKE model: a fluent summary that flips the NAV's direction
        return json.dumps(
            {
                "summary": "The NAV rose 3.39% over the quarter. The yield to maturity was 7.88%.",
                "key_figures": [],
            }
        )

    gw = BackendGateway(ScriptedBackend.from_function("scripted-fake", reply))
    out = run_skill("report_summary", {"text": SOURCE}, gw)
    assert "The NAV rose 3.39% over the quarter." in out.dropped
    assert out.method == "extractive" and out.rejected


# ----------------------------------------------- faithful sentences that were rejected, and their twins
EN_MONTH = (
    "EQ-21 Equity Fund: Monthly Brief, October 2026\n\nKey numbers\n1-month return: -3.42%\nBenchmark 1-month: "
    "-2.15%\n\nOctober was a difficult month. The fund fell 3.42% while the CSI 800 benchmark dropped 2.15%, so "
    "we trailed by 127 bp. We trimmed the equity allocation from 92.0% to 88.5% during the month and cut the "
    "number of holdings from 52 to 47."
)
ZH_SPREAD = (
    "CR-4 稳健信用债券基金 2026年第三季度信用跟踪\n\n三季度信用债市场先强后弱。AA+级3年期城投债与同期限国开债的"
    "利差在7月收窄至38个基点，9月又走阔至52个基点，季度内累计走阔9个基点。"
)
ZH_Q2 = (
    "EQ-23 新能源产业精选股票基金 2026年第二季度报告\n\n截至2026年6月30日，本基金A类份额单位净值为0.8736元，"
    "本季度下跌7.25%，同期业绩比较基准下跌4.60%。"
)
EN_MONEY = (
    "MM-3 Money Fund: Quarterly Report, Q3 2026\n\nThe 7-day annualised yield slipped 11 bp over the quarter, "
    "from 1.58% in July to 1.47% in September. The central bank cut the 7-day reverse repo rate by 10 bp."
)
ZH_WM = (
    "WM-6 理财产品 2026年第三季度运作报告\n\n产品概况：业绩比较基准为年化2.90%至3.50%。\n"
    "杠杆水平为115%，组合久期为1.42年，较上季度末缩短0.31年。"
)
ZH_TRAD = (
    "MA-8 多元資產配置基金 月度報告（2026年10月）\n\n資產配置（月末）：\n全球股票 42%（上月 46%）\n"
    "風險指標：今年以來最大回撤為-4.9%。基金規模為9.85億元，較上月末減少0.32億元。"
)
EN_LEVELS = (
    "GB-7 Fund: Quarterly Report, Q3 2026\n\nPortfolio\n- Net assets: CNY 8.27 billion, up from CNY 7.65 billion\n"
    "- NAV per unit: 1.8734 (31 July: 1.8215)\nFund size grew to CNY 42.6 billion from CNY 39.8 billion."
)
ZH_TABLE = "MM-6 货币基金月度简报（2026年11月）\n\n| 项目 | 11月末 | 10月末 |\n| 平均剩余期限 | 87天 | 95天 |\n| 同业存单占比 | 48.6% | 45.1% |"
EN_WM = "WM-4 Harbour Plan: Q3 2026 Report\n\nPerformance\nReturn for the quarter: 0.71% (annualised 2.84%)"
ZH_QDII = (
    "QD-8 QDII基金 季度投资回顾（2026年三季度）\n\n本季度本基金人民币份额单位净值上涨4.82%，季末为1.2590元。"
)
EN_DATED = (
    "GB-7 Core Bond Fund: Q2 2025\n\n- NAV per unit: 1.0842 on 30 June 2025, up from 1.0716 at 31 March 2025\n"
    "- Net assets: CNY 3.2 billion as of 30 June 2025, down from CNY 3.5 billion"
)
ZH_ENHANCED = "IX-7 沪深300指数增强基金2026年三季度报告\n\n截至2026年9月30日，单位净值为1.6935元，本季度基金收益率为+5.84%。"
EN_BOND = (
    "GB-7 Fund: Quarterly Report, Q3 2026\n\nThe fund's NAV per unit gained 1.20% for the quarter. Yield to "
    "maturity: 1.92%, down 14 bp over the quarter."
)

FAITHFUL_AND_TWINS = [
    # 1. direction from the number's own verb, not another number's; a year or a tenor takes none
    (
        EN_MONTH,
        "The fund fell 3.42% in October, trailing the benchmark's 2.15% drop by 127 bp.",
        {
            "The fund rose 3.42% in October, trailing the benchmark's 2.15% drop by 127 bp.": "direction",
            "The fund fell 3.42% in October, beating the benchmark's 2.15% gain by 127 bp.": "direction",
            "The fund fell 3.42% in October, trailing the benchmark's 2.15% drop by 172 bp.": "no source",
        },
    ),
    (
        ZH_SPREAD,
        "三季度AA+级3年期城投债利差累计走阔9个基点。",
        {
            "三季度AA+级3年期城投债利差累计收窄9个基点。": "direction",
            "三季度AA+级3年期城投债利差累计走阔19个基点。": "no source",
        },
    ),
    (
        ZH_Q2,
        "2026年二季度本基金A类份额下跌7.25%。",
        {
            "2026年二季度本基金A类份额上涨7.25%。": "direction",
            "2026年一季度本基金A类份额下跌7.25%。": "period",
            "2026年二季度本基金A类份额下跌7.52%。": "no source",
        },
    ),
    # 2. direction synonyms: slipped = fell, cut = lowered, 缩短 = 下降, traditional 減少
    (
        EN_MONEY,
        "The 7-day annualised yield fell 11 bp over the quarter.",
        {
            "The 7-day annualised yield rose 11 bp over the quarter.": "direction",
            "The 7-day yield fell 11 bp year to date.": "period",
        },
    ),
    (
        EN_MONEY,
        "The central bank lowered the reverse repo rate by 10 bp.",
        {"The central bank raised the reverse repo rate by 10 bp.": "direction"},
    ),
    (
        EN_MONTH,
        "Holdings were reduced from 52 to 47.",
        {"Holdings were increased from 52 to 47.": "direction"},
    ),
    (
        ZH_WM,
        "组合久期较上季度末下降0.31年。",
        {"组合久期较上季度末增加0.31年。": "direction", "组合久期较上季度末延长0.31年。": "direction"},
    ),
    (ZH_TRAD, "基金規模减少0.32亿元。", {"基金規模增加0.32億元。": "direction"}),
    # 3. a level reached by a move: "grew to X" = "X, up from Y"; a move derived from two stated levels supports it
    (
        EN_LEVELS,
        "Net assets grew to CNY 8.27 billion from CNY 7.65 billion.",
        {
            "Net assets fell to CNY 8.27 billion.": "direction",
            "Net assets shrank from CNY 7.65 billion.": "direction",
        },
    ),
    (
        EN_LEVELS,
        "Fund size was CNY 42.6 billion, up from CNY 39.8 billion.",
        {
            "Fund size fell to CNY 42.6 billion.": "direction",
            "Fund size grew to CNY 46.2 billion.": "no source",
        },
    ),
    (EN_LEVELS, "NAV per unit rose to 1.8734.", {"NAV per unit fell to 1.8734.": "direction"}),
    (
        ZH_TRAD,
        "股票倉位由46%降至42%。",
        {"股票倉位由46%升至42%。": "direction", "股票倉位由46%降至40%。": "no source"},
    ),
    (
        ZH_TABLE,
        "平均剩余期限由95天缩短至87天。",
        {"同业存单占比由45.1%降至48.6%。": "direction", "平均剩余期限由95天延长至87天。": "direction"},
    ),
    # 4. a sign is a direction for a rate; a drawdown's sign is a convention
    (
        ZH_Q2,
        "本季度收益率：-7.25%。",
        {"本季度收益率：+7.25%。": "direction", "今年以来收益率：-7.25%。": "period"},
    ),
    (
        EN_MONTH,
        "Over the month the fund lost 3.42%.",
        {
            "Over the month the fund gained 3.42%.": "direction",
            "The 1-month return was +3.42%.": "direction",
        },
    ),
    (ZH_TRAD, "最大回撤为4.9%。", {"最大回撤为5.9%。": "no source"}),
    # 5. Q3 = "the quarter" in a report about Q3
    (
        EN_WM,
        "The plan returned 0.71% in Q3.",
        {"The plan returned 0.71% in Q2.": "period", "The plan returned 0.71% year to date.": "period"},
    ),
    # 6. a NAV change in % is a return; "and" ends a clause
    (
        ZH_QDII,
        "本季度涨幅：4.82%。",
        {
            "本季度跌幅：4.82%。": "direction",
            "本季度基金规模增长4.82%。": "quantity",
            "今年以来涨幅：4.82%。": "period",
        },
    ),
    (
        EN_BOND,
        "In Q3 the fund gained 1.20% and yield to maturity fell 14 bp.",
        {
            "In Q3 the fund gained 1.20% and yield to maturity rose 14 bp.": "direction",
            "In Q3 the yield to maturity gained 1.20%.": "quantity",
            "Year to date the fund gained 1.20% and yield to maturity fell 14 bp.": "period",
        },
    ),
    # 7. a range's dash is not a minus sign; 8. traditional 萬/億 are scales
    (ZH_WM, "业绩比较基准为年化2.90%-3.50%。", {"业绩比较基准为年化2.90%-3.80%。": "no source"}),
    (
        ZH_TRAD,
        "基金規模較上月末減少3,200萬元。",
        {"基金規模較上月末減少3,800萬元。": "no source", "基金規模較上月末增加3,200萬元。": "direction"},
    ),
    # 9. "X on <date>, up from Y": the dated level is the move's (blind writers had to reword "rose to X from Y")
    (
        EN_DATED,
        "The NAV per unit rose to 1.0842 from 1.0716, and net assets fell to CNY 3.2 billion.",
        {
            "The NAV per unit fell to 1.0842 from 1.0716.": "direction",
            "Net assets rose to CNY 3.2 billion.": "direction",
        },
    ),
    # 10. 增强 ("enhanced") in a fund's name is not a rise (model summaries on handwritten and handwritten3)
    (
        ZH_ENHANCED,
        "IX-7 沪深300指数增强基金的单位净值为1.6935元，本季度收益率为+5.84%。",
        {
            "IX-7 沪深300指数增强基金的单位净值升至1.6935元。": "direction",
            "IX-7 沪深300指数增强基金本季度收益率为-5.84%。": "direction",
        },
    ),
    # 11. a product code between Chinese characters is a code ("（代码SD-308）"; a blind writer had to copy
    # "代码" into the reference because the report's code was not read)
    (
        "华泰短债基金（代码SD-308）2026年5月月报：本月基金份额净值为1.0432。",
        "华泰短债基金（SD-308）本月份额净值为1.0432。",
        {"华泰短债基金SD-309本月份额净值为1.0432。": "no source names this product"},
    ),
]


@pytest.mark.parametrize(
    "source, faithful, twins", FAITHFUL_AND_TWINS, ids=[f"case{i}" for i in range(len(FAITHFUL_AND_TWINS))]
)
def test_faithful_sentences_pass_and_their_unfaithful_twins_are_rejected(source, faithful, twins):
    report = check_claims(faithful, [source], check_degenerate=False)  # short sentences, as in key figures
    assert report.ok, report.reasons
    for twin, why in twins.items():
        rejected = check_claims(twin, [source], check_degenerate=False)
        assert not rejected.ok, twin
        assert any(why in r for r in rejected.reasons), (twin, rejected.reasons)


def test_a_direction_derived_from_two_levels_supports_but_never_states():
    """'from 1.58% in July to 1.47%' shows a fall the report does not word; a summary without a direction word
    states none, so it passes whatever its levels' order."""
    assert check_claims("The yield fell from 1.58% to 1.47%.", [EN_MONEY]).ok
    assert not check_claims("The yield rose from 1.58% to 1.47%.", [EN_MONEY]).ok
    derived = [a["derived_direction"] for _m, a in read_claims("Yield: 1.47% (previous: 1.58%)")]
    assert derived == ["down", "down"]
    assert [a["direction"] for _m, a in read_claims("The yield went from 1.58% to 1.47%.")] == [None, None]


def test_an_identifier_no_source_names_is_unsupported():
    source = "Cash Fund (MM-1) report\n\nAs of 31 December 2025, MM-1 had a 7-day yield of 2.164%."
    assert check_claims("As of 31 December 2025, the M-1 had a 7-day yield of 2.164%.", [source]).reasons == [
        "M-1: no source names this product or client"
    ]
    assert check_claims("MM-1 had a 7-day yield of 2.164% on 31 December 2025.", [source]).ok
    assert not check_claims("Client C-1042 holds MM-1, whose 7-day yield was 2.164%.", [source]).ok
