"""Deterministic generator of FinCopilot's demo bank: clients, products, holdings, credit records,
transactions, research reports (English and Chinese) and advisor notes.

Everything comes from code and seeded `random.Random` instances (string seeds hash with SHA-512, so the
output is identical on every machine and Python version); the credit records are rows of the real
German Credit data, sampled with the same seed. `build_tables()` returns plain row lists; `tools.data`
writes them to DuckDB.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fincopilot.tools import scorecard  # a module import: data → datagen → scorecard → data is a cycle

GENERATOR_VERSION = "2"
SEED = 20240601
N_CLIENTS = 300
FIRST_CLIENT = 1001
DEMO_CLIENT_INDEX = 1042 - FIRST_CLIENT

# The demo request ("Client C-1042 wants the HY-7 bond fund ...") relies on these two.
DEMO_CLIENT = {
    "client_id": "C-1042",
    "name_en": "Zhang Min",
    "name_zh": "张敏",
    "age": 45,
    "risk_profile": 3,
    "annual_income": 380000.0,
    "horizon_years": 5,
}
DEMO_CREDIT_ROW = 211  # a good-credit German Credit applicant aged 45 (grade B on the scorecard)

SURNAMES = [
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("黄", "Huang"),
    ("赵", "Zhao"),
    ("吴", "Wu"),
    ("周", "Zhou"),
    ("徐", "Xu"),
    ("孙", "Sun"),
    ("马", "Ma"),
    ("朱", "Zhu"),
    ("胡", "Hu"),
    ("郭", "Guo"),
    ("何", "He"),
    ("高", "Gao"),
    ("林", "Lin"),
    ("罗", "Luo"),
    ("郑", "Zheng"),
    ("梁", "Liang"),
    ("谢", "Xie"),
    ("宋", "Song"),
    ("唐", "Tang"),
    ("许", "Hsu"),
    ("韩", "Han"),
    ("冯", "Feng"),
    ("邓", "Deng"),
    ("曹", "Cao"),
]
GIVEN = [
    ("伟", "Wei"),
    ("芳", "Fang"),
    ("娜", "Na"),
    ("敏", "Min"),
    ("静", "Jing"),
    ("磊", "Lei"),
    ("强", "Qiang"),
    ("洋", "Yang"),
    ("艳", "Yan"),
    ("勇", "Yong"),
    ("军", "Jun"),
    ("杰", "Jie"),
    ("娟", "Juan"),
    ("涛", "Tao"),
    ("明", "Ming"),
    ("超", "Chao"),
    ("秀英", "Xiuying"),
    ("霞", "Xia"),
    ("平", "Ping"),
    ("刚", "Gang"),
    ("桂英", "Guiying"),
    ("丹", "Dan"),
    ("晨", "Chen"),
    ("浩然", "Haoran"),
    ("子涵", "Zihan"),
    ("欣怡", "Xinyi"),
    ("梓轩", "Zixuan"),
    ("雨桐", "Yutong"),
    ("思远", "Siyuan"),
    ("嘉怡", "Jiayi"),
    ("俊杰", "Junjie"),
    ("文博", "Wenbo"),
    ("佳琪", "Jiaqi"),
    ("志强", "Zhiqiang"),
    ("海燕", "Haiyan"),
    ("建华", "Jianhua"),
    ("国庆", "Guoqing"),
    ("立新", "Lixin"),
    ("晓东", "Xiaodong"),
    ("丽华", "Lihua"),
    ("春梅", "Chunmei"),
    ("宇航", "Yuhang"),
]
ADVISORS = ["Chen Jie", "Olivia Brandt", "Liu Yang", "Marco Rossi", "Zhou Lan"]
PROFILE_LABELS = {
    1: "Conservative",
    2: "Moderately conservative",
    3: "Balanced",
    4: "Growth",
    5: "Aggressive",
}


@dataclass(frozen=True)
class ProductDef:
    code: str
    name_en: str
    name_zh: str
    product_type: str
    risk_level: str
    currency: str = "CNY"


PRODUCTS: tuple[ProductDef, ...] = (
    ProductDef("MM-1", "Everbright Cash Reserve Fund", "光大现金宝货币基金", "money market", "R1"),
    ProductDef("MM-2", "Harbor Daily Liquidity Fund", "港湾日日盈货币基金", "money market", "R1"),
    ProductDef("MM-3", "USD Liquidity Fund", "美元流动性货币基金", "money market", "R1", "USD"),
    ProductDef("WM-1", "Fixed Income Wealth Plan 90D", "固收理财90天", "wealth management", "R2"),
    ProductDef("GB-1", "China Government Bond Fund", "中国国债基金", "bond fund", "R2"),
    ProductDef("GB-2", "Policy Bank Bond Fund", "政策性金融债基金", "bond fund", "R2"),
    ProductDef("IG-3", "Investment Grade Credit Fund", "投资级信用债基金", "bond fund", "R2"),
    ProductDef("IG-4", "Short Duration Credit Fund", "短久期信用债基金", "bond fund", "R2"),
    ProductDef("IG-5", "Asia Investment Grade Bond Fund", "亚洲投资级债券基金", "bond fund", "R2", "USD"),
    ProductDef("HY-7", "High Yield Bond Fund", "高收益债券基金", "bond fund", "R3"),
    ProductDef("HY-8", "Asia High Yield Bond Fund", "亚洲高收益债券基金", "bond fund", "R3", "USD"),
    ProductDef("HY-9", "Distressed Credit Opportunities Fund", "困境债券机会基金", "bond fund", "R4"),
    ProductDef("CB-2", "Convertible Bond Fund", "可转债基金", "bond fund", "R3"),
    ProductDef("BAL-3", "Balanced Allocation Fund", "平衡配置混合基金", "balanced fund", "R3"),
    ProductDef("BAL-4", "Income Plus Balanced Fund", "稳健收益混合基金", "balanced fund", "R3"),
    ProductDef("EQ-10", "China Blue Chip Equity Fund", "中国蓝筹股票基金", "equity fund", "R4"),
    ProductDef("EQ-11", "Consumer Growth Equity Fund", "消费成长股票基金", "equity fund", "R4"),
    ProductDef("EQ-12", "Healthcare Innovation Equity Fund", "医疗创新股票基金", "equity fund", "R4"),
    ProductDef("EQ-13", "Technology Leaders Equity Fund", "科技龙头股票基金", "equity fund", "R5"),
    ProductDef("EQ-14", "Dividend Value Equity Fund", "红利价值股票基金", "equity fund", "R4"),
    ProductDef("EQ-15", "Small Cap Discovery Fund", "小盘发现股票基金", "equity fund", "R5"),
    ProductDef("IX-1", "CSI 300 Index Fund", "沪深300指数基金", "index fund", "R4"),
    ProductDef("IX-2", "CSI 500 Index Fund", "中证500指数基金", "index fund", "R4"),
    ProductDef("QD-3", "Global Equity QDII Fund", "全球股票QDII基金", "equity fund", "R4", "USD"),
    ProductDef("RE-2", "Infrastructure REIT Fund", "基础设施REIT基金", "REIT", "R4"),
    ProductDef("CM-1", "Gold ETF Feeder Fund", "黄金ETF联接基金", "commodity fund", "R4"),
    ProductDef("CM-2", "Commodity Futures Fund", "商品期货基金", "commodity fund", "R5"),
    ProductDef("SN-5", "CSI 500 Snowball Structured Note", "中证500雪球结构性票据", "structured note", "R4"),
    ProductDef("SN-6", "Gold-Linked Range Accrual Note", "黄金区间累计结构性票据", "structured note", "R3"),
    ProductDef("SN-7", "Tech Basket Autocallable Note", "科技股篮子自动赎回票据", "structured note", "R5"),
)

# Report calendar: English quarterly reports and Chinese mid-quarter updates; the latest is English.
EN_DATES = (date(2025, 12, 31), date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30))
ZH_DATES = (date(2026, 2, 15), date(2026, 8, 14))
AS_OF = date(2026, 10, 15)


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(map(str, (SEED, *parts))))


def report_family(p: ProductDef) -> str:
    """The report template family of a product: cash, bond, note or equity."""
    if p.product_type in ("money market", "wealth management"):
        return "cash"
    if p.product_type == "bond fund":
        return "bond"
    if p.product_type == "structured note":
        return "note"
    return "equity"


def _risk_num(level: str) -> int:
    return int(level[1])


# --------------------------------------------------------------------------------------------- products


def _product_rows() -> list[dict[str, Any]]:
    rows = []
    for p in PRODUCTS:
        r = _rng("product", p.code)
        fam = report_family(p)
        mgmt = {"cash": 0.15, "bond": 0.6, "note": 0.5, "equity": 1.2}[fam] + r.choice([0.0, 0.05, 0.1, 0.3])
        if p.product_type == "index fund":
            mgmt = 0.5
        rows.append(
            {
                "code": p.code,
                "name_en": p.name_en,
                "name_zh": p.name_zh,
                "product_type": p.product_type,
                "risk_level": p.risk_level,
                "currency": p.currency,
                "inception_date": date(2014 + r.randrange(10), 1 + r.randrange(12), 1 + r.randrange(28)),
                "mgmt_fee_pct": round(mgmt, 2),
                "custody_fee_pct": round({"cash": 0.05, "bond": 0.1}.get(fam, 0.2), 2),
                "min_investment": float({"cash": 1, "bond": 1000, "equity": 1000, "note": 100000}[fam]),
            }
        )
    return rows


# --------------------------------------------------------------------------------------------- reports


def _fmt_date_en(d: date) -> str:
    return d.strftime("%d %B %Y").lstrip("0")


def _fmt_date_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _title_en(p: ProductDef, d: date) -> str:
    """The title of an English quarterly report dated `d`."""
    return f"{p.name_en} ({p.code}) quarterly report, Q{(d.month - 1) // 3 + 1} {d.year}"


def _title_zh(p: ProductDef, d: date) -> str:
    """The title of a Chinese monthly brief dated `d`."""
    return f"{p.name_zh}（{p.code}）{d.year}年{d.month}月投资简报"


def _bond_state(p: ProductDef, r: random.Random) -> dict[str, float]:
    hy = p.code.startswith(("HY", "CB"))
    distressed = p.code == "HY-9"
    return {
        "nav": r.uniform(0.95, 1.45),
        "ytm": r.uniform(6.2, 8.4) if hy else r.uniform(2.1, 3.6),
        "dur": r.uniform(2.4, 4.2) if hy else r.uniform(3.0, 7.5),
        "spread": r.uniform(380, 520) if hy else r.uniform(45, 130),
        "aum": r.uniform(1.5, 9.0),
        "univ_def": r.uniform(2.5, 4.5) if hy else r.uniform(0.05, 0.4),
        "port_def": r.uniform(0.8, 2.4) if hy else r.uniform(0.0, 0.1),
        "holdings": r.randrange(80, 260),
        "top": r.uniform(2.5, 6.0),
        "cash": r.uniform(2.0, 8.0),
        "lev": r.uniform(105, 135),
        "rating_idx": r.randrange(0, 3) + (4 if hy else 0) + (2 if distressed else 0),
    }


RATINGS = ["AAA", "AA+", "AA", "AA-", "BBB-", "BB+", "BB", "BB-", "B+", "B"]


def _bond_text_en(p: ProductDef, d: date, v: dict[str, Any], r: random.Random, qret: float, dspread: int):
    """(language, title, body) of an English bond-fund quarterly report."""
    direction_en = "up" if qret >= 0 else "down"
    sp_en = "widened" if dspread > 0 else "tightened"
    title = _title_en(p, d)
    outlook = r.choice(
        [
            "We expect carry to remain the main source of return while spreads stay range-bound.",
            "We keep duration close to the benchmark and add to issuers with improving cash flows.",
            "We remain selective: refinancing needs in lower-rated issuers are the key risk for next quarter.",
        ]
    )
    body = (
        f"As of {_fmt_date_en(d)}, the net asset value (NAV) per unit of the {p.name_en} ({p.code}) was "
        f"{v['nav']:.4f}, {direction_en} {v['qret']:.2f}% over the quarter and {v['ytd']:+.2f}% year to "
        f"date. Net assets were {v['cur']} {v['aum']:.2f} billion, invested in {v['n']} bonds.\n\n"
        f"The portfolio's yield to maturity was {v['ytm']:.2f}%, with a modified duration of "
        f"{v['dur']:.1f} years and an average credit rating of {v['rating']}. The spread over government "
        f"bonds {sp_en} by {v['dsp']} bp to {v['spread']:.0f} bp. The largest issuer accounted for "
        f"{v['top']:.1f}% of net assets and cash for {v['cash']:.1f}%.\n\n"
        f"Credit: the trailing 12-month default rate in the fund's investment universe was "
        f"{v['univ']:.2f}%, while defaults in the portfolio amounted to {v['port']:.2f}% of net assets. "
        f"{v['dg']} holdings were downgraded during the quarter. Leverage stood at {v['lev']:.0f}% of "
        f"net assets.\n\n"
        f"Fees: the management fee is {v['mgmt']:.2f}% per year and the custody fee {v['cust']:.2f}% per "
        f"year; the subscription fee is up to {v['sub']:.1f}%. {outlook}\n\n"
        f"Risk level {p.risk_level}. Bond funds carry interest-rate, credit and liquidity risk; the value "
        f"of an investment may fall and past performance does not indicate future results."
    )
    return "en", title, body


def _bond_text_zh(p: ProductDef, d: date, v: dict[str, Any], r: random.Random, qret: float, dspread: int):
    """(language, title, body) of a Chinese bond-fund monthly brief."""
    title = _title_zh(p, d)
    dir_zh = "上涨" if qret >= 0 else "下跌"
    sp_zh = "走阔" if dspread > 0 else "收窄"
    outlook = r.choice(
        [
            "我们预计票息收入仍是主要收益来源。",
            "我们将久期维持在基准附近，精选现金流改善的发行人。",
            "低评级发行人的再融资压力是下一阶段的主要风险。",
        ]
    )
    body = (
        f"截至{_fmt_date_zh(d)}，{p.name_zh}（{p.code}）单位净值为{v['nav']:.4f}元，近一季度{dir_zh}"
        f"{v['qret']:.2f}%，今年以来收益率为{v['ytd']:.2f}%。基金资产净值为{v['aum'] * 10:.2f}亿元，"
        f"共持有{v['n']}只债券。\n\n"
        f"组合到期收益率为{v['ytm']:.2f}%，修正久期为{v['dur']:.1f}年，平均信用评级为{v['rating']}。相对国债的"
        f"信用利差{sp_zh}{v['dsp']}个基点至{v['spread']:.0f}个基点。第一大发行人占基金资产净值的"
        f"{v['top']:.1f}%，现金占比为{v['cash']:.1f}%。\n\n"
        f"信用方面，投资范围内过去12个月违约率为{v['univ']:.2f}%，组合内违约债券占基金资产净值的"
        f"{v['port']:.2f}%。本期共有{v['dg']}只持仓债券被下调评级，杠杆率为{v['lev']:.0f}%。\n\n"
        f"费用方面，管理费率为每年{v['mgmt']:.2f}%，托管费率为每年{v['cust']:.2f}%，申购费率最高为"
        f"{v['sub']:.1f}%。{outlook}\n\n"
        f"风险等级：{p.risk_level}。债券基金面临利率风险、信用风险和流动性风险，基金净值可能下跌，"
        f"过往业绩不代表未来表现。"
    )
    return "zh", title, body


def _bond_reports(p: ProductDef, prod: dict[str, Any]) -> list[dict[str, Any]]:
    r = _rng("reports", p.code)
    s = _bond_state(p, r)
    ytd = 0.0
    out = []
    for d in sorted(EN_DATES + ZH_DATES):
        qret = r.gauss(1.4 if s["ytm"] > 5 else 0.8, 1.1)
        ytd = qret if d.month <= 3 else ytd + qret
        s["nav"] *= 1 + qret / 100
        dspread = r.randrange(-45, 46)
        s["spread"] = max(30.0, s["spread"] + dspread)
        s["ytm"] = max(1.2, s["ytm"] + dspread / 100 * 0.6 + r.gauss(0, 0.1))
        s["dur"] = min(9.0, max(1.5, s["dur"] + r.gauss(0, 0.2)))
        s["aum"] *= 1 + r.gauss(0.02, 0.05)
        s["univ_def"] = max(0.02, s["univ_def"] + r.gauss(0, 0.3 if s["ytm"] > 5 else 0.03))
        s["port_def"] = max(0.0, s["port_def"] + r.gauss(0, 0.25 if s["ytm"] > 5 else 0.02))
        downgrades = r.randrange(0, 6 if s["ytm"] > 5 else 2)
        rating = RATINGS[min(len(RATINGS) - 1, s["rating_idx"])]
        cur = p.currency
        sub = 0.8 if p.currency == "CNY" else 1.0
        v = dict(
            code=p.code,
            name_en=p.name_en,
            name_zh=p.name_zh,
            nav=s["nav"],
            qret=abs(qret),
            ytd=ytd,
            ytm=s["ytm"],
            dur=s["dur"],
            spread=s["spread"],
            dsp=abs(dspread),
            aum=s["aum"],
            univ=s["univ_def"],
            port=s["port_def"],
            n=s["holdings"],
            top=s["top"],
            cash=s["cash"],
            lev=s["lev"],
            dg=downgrades,
            rating=rating,
            mgmt=prod["mgmt_fee_pct"],
            cust=prod["custody_fee_pct"],
            sub=sub,
            cur=cur,
            risk=p.risk_level,
        )
        lang, title, body = (_bond_text_en if d in EN_DATES else _bond_text_zh)(p, d, v, r, qret, dspread)
        out.append({"date": d, "language": lang, "title": title, "body": body, "nav": round(s["nav"], 4)})
    return out


def _cash_reports(p: ProductDef, prod: dict[str, Any]) -> list[dict[str, Any]]:
    r = _rng("reports", p.code)
    y7 = r.uniform(1.6, 2.2) if p.currency == "CNY" else r.uniform(4.2, 5.0)
    aum = r.uniform(20, 180)
    wam = r.randrange(35, 90)
    out = []
    for d in sorted(EN_DATES + ZH_DATES):
        y7 = max(0.8, y7 + r.gauss(-0.05, 0.08))
        aum *= 1 + r.gauss(0.01, 0.04)
        wam = max(20, min(118, wam + r.randrange(-8, 9)))
        per10k = y7 / 365 * 100  # income per 10,000 units per day
        cash = r.uniform(15, 35)
        dep = r.uniform(30, 55)
        if d in EN_DATES:
            title = _title_en(p, d)
            body = (
                f"As of {_fmt_date_en(d)}, the {p.name_en} ({p.code}) recorded a 7-day annualized yield of "
                f"{y7:.3f}%, and daily income of {per10k:.4f} per 10,000 units. Net assets were {p.currency} "
                f"{aum:.1f} billion.\n\n"
                f"The weighted average maturity of the portfolio was {wam} days (limit: 120 days). Bank deposits "
                f"made up {dep:.1f}% of assets, reverse repos and cash {cash:.1f}%, and short-term notes the rest.\n\n"
                f"Fees: the management fee is {prod['mgmt_fee_pct']:.2f}% per year and the custody fee "
                f"{prod['custody_fee_pct']:.2f}% per year; there is no subscription fee.\n\n"
                f"Risk level {p.risk_level}. A money market fund is not a deposit; its yield is not guaranteed and "
                f"past yields do not indicate future results."
            )
            lang = "en"
        else:
            title = _title_zh(p, d)
            body = (
                f"截至{_fmt_date_zh(d)}，{p.name_zh}（{p.code}）七日年化收益率为{y7:.3f}%，每万份基金日收益为"
                f"{per10k:.4f}元，基金资产净值为{aum * 10:.0f}亿元。\n\n"
                f"组合平均剩余期限为{wam}天（上限为120天）。银行存款占基金资产的{dep:.1f}%，逆回购及现金占"
                f"{cash:.1f}%，其余为短期融资券。\n\n"
                f"费用方面，管理费率为每年{prod['mgmt_fee_pct']:.2f}%，托管费率为每年{prod['custody_fee_pct']:.2f}%，"
                f"不收取申购费。\n\n"
                f"风险等级：{p.risk_level}。货币基金不等同于存款，收益率不作保证，过往收益不代表未来表现。"
            )
            lang = "zh"
        out.append({"date": d, "language": lang, "title": title, "body": body, "nav": 1.0})
    return out


_SECTORS_EN = [
    "financials",
    "consumer staples",
    "health care",
    "information technology",
    "industrials",
    "materials",
    "energy",
    "utilities",
]
_SECTORS_ZH = ["金融", "日常消费", "医疗保健", "信息技术", "工业", "原材料", "能源", "公用事业"]


def _equity_figures(e: dict[str, Any]) -> tuple[Any, ...]:
    """An equity report's figures: nav, qret, bench, ytd, aum, vol, mdd, pe, top10, si, sw, turnover."""
    return tuple(
        e[k]
        for k in ("nav", "qret", "bench", "ytd", "aum", "vol", "mdd", "pe", "top10", "si", "sw", "turnover")
    )


def _equity_text_en(p: ProductDef, prod: dict[str, Any], d: date, e: dict[str, Any]):
    """(language, title, body) of an English equity-fund quarterly report."""
    nav, qret, bench, ytd, aum, vol, mdd, pe, top10, si, sw, turnover = _equity_figures(e)
    title = _title_en(p, d)
    body = (
        f"As of {_fmt_date_en(d)}, the NAV per unit of the {p.name_en} ({p.code}) was {nav:.4f}, "
        f"{'up' if qret >= 0 else 'down'} {abs(qret):.2f}% over the quarter against {bench:+.2f}% for its "
        f"benchmark, and {ytd:+.2f}% year to date. Net assets were {p.currency} {aum:.2f} billion.\n\n"
        f"Annualized volatility over the past 12 months was {vol:.1f}% and the maximum drawdown "
        f"{mdd:.1f}%. The portfolio traded at {pe:.1f} times trailing earnings; the ten largest holdings "
        f"made up {top10:.1f}% of net assets, and {_SECTORS_EN[si]} was the largest sector at {sw:.1f}%. "
        f"Annual portfolio turnover was {turnover:.0f}%.\n\n"
        f"Fees: the management fee is {prod['mgmt_fee_pct']:.2f}% per year and the custody fee "
        f"{prod['custody_fee_pct']:.2f}% per year; the subscription fee is up to 1.5% and the redemption "
        f"fee 0.5% for holdings of less than 365 days.\n\n"
        f"Risk level {p.risk_level}. Equity investments can lose value quickly; the fund may not suit "
        f"investors with a short horizon, and past performance does not indicate future results."
    )
    return "en", title, body


def _equity_text_zh(p: ProductDef, prod: dict[str, Any], d: date, e: dict[str, Any]):
    """(language, title, body) of a Chinese equity-fund monthly brief."""
    nav, qret, bench, ytd, aum, vol, mdd, pe, top10, si, sw, turnover = _equity_figures(e)
    title = _title_zh(p, d)
    body = (
        f"截至{_fmt_date_zh(d)}，{p.name_zh}（{p.code}）单位净值为{nav:.4f}元，近一季度"
        f"{'上涨' if qret >= 0 else '下跌'}{abs(qret):.2f}%，同期业绩比较基准收益率为{bench:.2f}%，今年以来"
        f"收益率为{ytd:.2f}%。基金资产净值为{aum * 10:.2f}亿元。\n\n"
        f"过去12个月年化波动率为{vol:.1f}%，最大回撤为{mdd:.1f}%。组合市盈率为{pe:.1f}倍，前十大持仓占基金"
        f"资产净值的{top10:.1f}%，第一大行业为{_SECTORS_ZH[si]}，占比{sw:.1f}%。年化换手率为{turnover:.0f}%。\n\n"
        f"费用方面，管理费率为每年{prod['mgmt_fee_pct']:.2f}%，托管费率为每年{prod['custody_fee_pct']:.2f}%，"
        f"申购费率最高为1.5%，持有不满365天的赎回费率为0.5%。\n\n"
        f"风险等级：{p.risk_level}。股票类投资净值波动较大，可能出现较大亏损，过往业绩不代表未来表现。"
    )
    return "zh", title, body


def _equity_reports(p: ProductDef, prod: dict[str, Any]) -> list[dict[str, Any]]:
    r = _rng("reports", p.code)
    nav = r.uniform(0.8, 3.2)
    aum = r.uniform(2.0, 45.0)
    pe = r.uniform(9, 32)
    ytd = 0.0
    out = []
    risky = _risk_num(p.risk_level) >= 5
    for d in sorted(EN_DATES + ZH_DATES):
        qret = r.gauss(1.5, 9.0 if risky else 6.0)
        bench = qret - r.gauss(0.4, 2.0)
        ytd = qret if d.month <= 3 else ytd + qret
        nav *= 1 + qret / 100
        aum *= 1 + qret / 100 + r.gauss(0, 0.03)
        pe = max(6.0, pe * (1 + qret / 100) + r.gauss(0, 0.8))
        vol = r.uniform(24, 34) if risky else r.uniform(14, 24)
        mdd = r.uniform(8, 26)
        top10 = r.uniform(32, 61)
        si = r.randrange(len(_SECTORS_EN))
        sw = r.uniform(18, 42)
        turnover = r.uniform(80, 260)
        e = dict(
            nav=nav,
            qret=qret,
            bench=bench,
            ytd=ytd,
            aum=aum,
            vol=vol,
            mdd=mdd,
            pe=pe,
            top10=top10,
            si=si,
            sw=sw,
        )
        lang, title, body = (_equity_text_en if d in EN_DATES else _equity_text_zh)(
            p, prod, d, e | {"turnover": turnover}
        )
        out.append({"date": d, "language": lang, "title": title, "body": body, "nav": round(nav, 4)})
    return out


def _note_reports(p: ProductDef, prod: dict[str, Any]) -> list[dict[str, Any]]:
    r = _rng("reports", p.code)
    underlying_en = {
        "SN-5": "CSI 500 Index",
        "SN-6": "spot gold (XAU/USD)",
        "SN-7": "a basket of five technology stocks",
    }[p.code]
    underlying_zh = {
        "SN-5": "中证500指数",
        "SN-6": "现货黄金（XAU/USD）",
        "SN-7": "五只科技股组成的股票篮子",
    }[p.code]
    ko = r.choice([100.0, 103.0, 105.0])
    ki = r.choice([70.0, 75.0, 80.0])
    coupon = {"R3": r.uniform(3.0, 4.5), "R4": r.uniform(9.0, 14.0), "R5": r.uniform(14.0, 20.0)}[
        p.risk_level
    ]
    tenor = r.choice([12, 18, 24])
    level = 100.0
    out = []
    for d in sorted(EN_DATES + ZH_DATES):
        level = max(40.0, level * (1 + r.gauss(0.005, 0.07)))
        obs = r.randrange(1, tenor)
        rating = r.choice(["AAA", "AA+"])
        if d in EN_DATES:
            title = _title_en(p, d)
            body = (
                f"As of {_fmt_date_en(d)}, the underlying of the {p.name_en} ({p.code}), {underlying_en}, stood at "
                f"{level:.1f}% of its initial level. The note pays a coupon of {coupon:.2f}% per year while it is "
                f"outstanding, has a tenor of {tenor} months, and {obs} monthly observations have passed.\n\n"
                f"The note is redeemed early if the underlying closes at or above {ko:.0f}% of its initial level on "
                f"an observation date (knock-out). If it closes below {ki:.0f}% on any day (knock-in) and does not "
                f"recover by maturity, the investor bears the underlying's loss, up to the full principal.\n\n"
                f"The issuer is rated {rating}. The distribution fee is {prod['mgmt_fee_pct']:.2f}% per year; the "
                f"minimum investment is {p.currency} {prod['min_investment']:,.0f}.\n\n"
                f"Risk level {p.risk_level}. Structured notes are complex products: the principal is at risk, the "
                f"note may be illiquid before maturity, and past performance of the underlying does not indicate "
                f"future results."
            )
            lang = "en"
        else:
            title = _title_zh(p, d)
            body = (
                f"截至{_fmt_date_zh(d)}，{p.name_zh}（{p.code}）挂钩标的{underlying_zh}为期初价格的{level:.1f}%。"
                f"票据存续期间年化票息为{coupon:.2f}%，期限为{tenor}个月，已经过{obs}个月度观察日。\n\n"
                f"若标的在观察日收盘价不低于期初价格的{ko:.0f}%，票据提前终止（敲出）；若标的任一交易日收盘价低于期初"
                f"价格的{ki:.0f}%（敲入）且到期前未能回升，投资者需承担标的跌幅，最多损失全部本金。\n\n"
                f"发行人信用评级为{rating}，销售服务费为每年{prod['mgmt_fee_pct']:.2f}%，起投金额为"
                f"{prod['min_investment'] / 10000:.0f}万元。\n\n"
                f"风险等级：{p.risk_level}。结构性票据属于复杂产品，本金存在损失风险，到期前流动性较差，标的过往表现"
                f"不代表未来表现。"
            )
            lang = "zh"
        out.append({"date": d, "language": lang, "title": title, "body": body, "nav": round(level / 100, 4)})
    return out


def _reports(products: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    by_code = {p["code"]: p for p in products}
    rows: list[dict[str, Any]] = []
    latest_nav: dict[str, float] = {}
    for p in PRODUCTS:
        maker = {
            "bond": _bond_reports,
            "cash": _cash_reports,
            "equity": _equity_reports,
            "note": _note_reports,
        }[report_family(p)]
        for rep in maker(p, by_code[p.code]):
            rid = f"RPT-{p.code}-{rep['date']:%Y%m%d}-{rep['language'].upper()}"
            rows.append(
                {
                    "report_id": rid,
                    "product_code": p.code,
                    "report_date": rep["date"],
                    "language": rep["language"],
                    "title": rep["title"],
                    "body": rep["body"],
                }
            )
            latest_nav[p.code] = rep["nav"]
    return rows, latest_nav


# --------------------------------------------------------------------------------------------- clients


def _credit_rows(n: int) -> list[dict[str, Any]]:
    with open(scorecard.data_path(), newline="", encoding="utf-8") as fh:
        data = list(csv.DictReader(fh))
    picks = _rng("credit").sample(range(len(data)), n)
    demo = DEMO_CLIENT_INDEX
    if DEMO_CREDIT_ROW in picks:  # keep the sample a set of distinct rows
        picks[picks.index(DEMO_CREDIT_ROW)] = picks[demo]
    picks[demo] = DEMO_CREDIT_ROW
    out = []
    for i in picks:
        row = {f: (int(data[i][f]) if f in scorecard.NUMERIC else data[i][f]) for f in scorecard.FEATURES}
        row["source_row"] = i
        out.append(row)
    return out


def _clients(credit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Clients; each one's age is its credit record's age, so KYC and bureau data agree."""
    r = _rng("clients")
    reserved = (DEMO_CLIENT["name_zh"], DEMO_CLIENT["name_en"])
    combos = [(s[0] + g[0], f"{s[1]} {g[1]}") for s in SURNAMES for g in GIVEN]
    combos = [c for c in combos if c != reserved]
    names = r.sample(combos, N_CLIENTS)
    rows = []
    for k in range(N_CLIENTS):
        cid = f"C-{FIRST_CLIENT + k}"
        zh, en = names[k]
        age = int(credit[k]["age_in_years"])
        profile = r.choices([1, 2, 3, 4, 5], weights=[12, 22, 32, 22, 12])[0]
        if age >= 70:
            profile = min(profile, r.choice([2, 3, 4]))
        horizon = r.choice([1, 2, 3, 5, 7, 10]) if age < 65 else r.choice([1, 2, 3, 5])
        income = round(r.lognormvariate(12.3, 0.6), -3)
        row = {
            "client_id": cid,
            "name_en": en,
            "name_zh": zh,
            "age": age,
            "risk_profile": profile,
            "annual_income": float(income),
            "horizon_years": horizon,
        }
        if cid == DEMO_CLIENT["client_id"]:
            row.update(DEMO_CLIENT)
        slug = row["name_en"].lower().replace(" ", ".")
        row["risk_profile_label"] = PROFILE_LABELS[row["risk_profile"]]
        row["email"] = f"{slug}{FIRST_CLIENT + k}@example.com"
        row["phone"] = f"1{r.choice([3, 5, 8])}{r.randrange(0, 10)}{r.randrange(10**7, 10**8)}"
        row["advisor"] = ADVISORS[k % len(ADVISORS)]
        row["kyc_date"] = AS_OF - timedelta(days=r.randrange(30, 720))
        rows.append(row)
    return rows


def _portfolio(clients, products, latest_nav):
    holdings, txns = [], []
    by_risk: dict[int, list[str]] = {}
    for p in PRODUCTS:
        by_risk.setdefault(_risk_num(p.risk_level), []).append(p.code)
    tx_id = 1
    for c in clients:
        r = _rng("portfolio", c["client_id"])
        allowed = [code for lvl, codes in by_risk.items() if lvl <= c["risk_profile"] for code in codes]
        n = r.randrange(2, 6)
        chosen = sorted(r.sample(allowed, min(n, len(allowed))))
        if c["client_id"] == DEMO_CLIENT["client_id"]:
            chosen = ["BAL-3", "IG-3", "MM-1"]  # no HY-7 yet: the demo request is a new purchase
        for code in chosen:
            nav_now = latest_nav[code]
            cost = 0.0
            units = 0.0
            for _ in range(r.randrange(1, 4)):
                amount = round(r.uniform(0.02, 0.25) * c["annual_income"], -2)
                nav = round(nav_now * r.uniform(0.9, 1.05), 4)
                u = round(amount / nav, 2)
                d = date(2024, 1, 1) + timedelta(days=r.randrange(0, 640))
                txns.append(
                    {
                        "txn_id": f"T-{tx_id:06d}",
                        "client_id": c["client_id"],
                        "product_code": code,
                        "txn_date": d,
                        "txn_type": "buy",
                        "amount": amount,
                        "units": u,
                        "nav": nav,
                    }
                )
                tx_id += 1
                cost += amount
                units += u
            holdings.append(
                {
                    "client_id": c["client_id"],
                    "product_code": code,
                    "units": round(units, 2),
                    "market_value": round(units * nav_now, 2),
                    "cost_basis": round(cost, 2),
                    "as_of": AS_OF,
                }
            )
    txns.sort(key=lambda t: (t["txn_date"], t["txn_id"]))
    return holdings, txns


NOTES_EN = [
    "Annual review with {name}: prefers stable income, worried about rate cuts. Discussed {code} as a complement to deposits.",
    "{name} asked about {code} after reading about it online. Explained the risk level ({risk}) and fees; client will think it over.",
    "Called {name} about maturing deposits. Client wants liquidity within {h} years; suggested reviewing the allocation next month.",
    "KYC refresh for {name} completed; risk profile {profile} ({label}) confirmed. No change to the investment horizon of {h} years.",
]
NOTES_ZH = [
    "与{name}进行年度回顾：客户偏好稳定收益，担心降息。讨论了将{code}作为存款的补充。",
    "{name}在网上看到{code}后前来咨询。已说明产品风险等级（{risk}）及费用，客户将进一步考虑。",
    "致电{name}沟通定期存款到期事宜。客户希望在{h}年内保持流动性，建议下月复盘资产配置。",
    "已完成{name}的KYC更新，风险承受能力等级{profile}（{label}）确认无误，投资期限仍为{h}年。",
]


def _notes(clients) -> list[dict[str, Any]]:
    rows = []
    nid = 1
    codes = [p.code for p in PRODUCTS]
    risk = {p.code: p.risk_level for p in PRODUCTS}
    for c in clients:
        r = _rng("notes", c["client_id"])
        for _ in range(r.randrange(1, 4)):
            zh = r.random() < 0.4
            code = "HY-7" if c["client_id"] == DEMO_CLIENT["client_id"] else r.choice(codes)
            tpl = r.choice(NOTES_ZH if zh else NOTES_EN)
            body = tpl.format(
                name=c["name_zh"] if zh else c["name_en"],
                code=code,
                risk=risk[code],
                h=c["horizon_years"],
                profile=c["risk_profile"],
                label=c["risk_profile_label"],
            )
            rows.append(
                {
                    "note_id": f"N-{nid:05d}",
                    "client_id": c["client_id"],
                    "advisor": c["advisor"],
                    "note_date": AS_OF - timedelta(days=r.randrange(1, 400)),
                    "language": "zh" if zh else "en",
                    "body": body,
                }
            )
            nid += 1
    return rows


def reports() -> list[dict[str, Any]]:
    """The generated fund reports' rows (the `reports` table), without building the other tables."""
    return _reports(_product_rows())[0]


def build_tables() -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, deterministically."""
    products = _product_rows()
    reports, latest_nav = _reports(products)
    for p in products:
        p["nav"] = latest_nav[p["code"]]
        p["nav_date"] = max(EN_DATES)
    credit = _credit_rows(N_CLIENTS)
    clients = _clients(credit)
    credit_rows = []
    for c, rec in zip(clients, credit):
        r = _rng("bureau", c["client_id"])
        credit_rows.append(
            {"client_id": c["client_id"], "bureau_date": AS_OF - timedelta(days=r.randrange(1, 90)), **rec}
        )
    holdings, txns = _portfolio(clients, products, latest_nav)
    return {
        "clients": clients,
        "products": products,
        "holdings": holdings,
        "credit_records": credit_rows,
        "transactions": txns,
        "reports": reports,
        "advisor_notes": _notes(clients),
    }
