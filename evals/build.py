"""Build the eval sets from the domain data: `python -m fincopilot.evals.build [--skill S]`.

Deterministic: entities are drawn with `random.Random` seeded by strings, the domain bank is itself
deterministic, and files are written with sorted keys, so a rebuild gives byte-identical JSONL.

- planner: advisor requests (English and Chinese; single-skill, multi-skill, no-skill) from phrase templates,
  with gold skill sets and gold plans written by the templates (not by the planner's rules).
- credit_lookup: client references (id, English name, Chinese name) → gold score/grade/PD computed by the
  scorecard at build time.
- report_summary: (product, date) → the report id, the headline figures of the report (numbers of its lead
  paragraph) and that lead paragraph as the ROUGE-L reference.
- compliance_check: hand-written advisor texts (EN + ZH, clean and violating, with paraphrases the rule
  patterns do not cover) labelled with gold categories by a person reading them, not by the rules.
"""

from __future__ import annotations

import argparse
import random
import re
from typing import Any

from fincopilot.errors import run_main
from fincopilot.evals.datasets import EvalItem, dataset_version, split_for, write_items
from fincopilot.tools.compliance_rules import CATEGORIES
from fincopilot.tools.data import connect, get_report, list_products, list_reports
from fincopilot.tools.datagen import EN_DATES, ZH_DATES
from fincopilot.tools.numbers import extract_numbers
from fincopilot.tools.scorecard import CreditScoreArgs, credit_score

SEED = "fincopilot-evals-v1"


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(map(str, (SEED, *parts))))


def _clients() -> list[dict[str, Any]]:

    with connect() as con:
        cur = con.execute(
            "SELECT client_id, name_en, name_zh, risk_profile, horizon_years, age FROM clients "
            "ORDER BY client_id"
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


def _products() -> list[dict[str, Any]]:

    return [p.model_dump() for p in list_products()]


# ============================================================================================ planner
def _step(i: int, skill: str, args: dict[str, Any], deps: list[int] | None = None) -> dict[str, Any]:
    return {"id": i, "skill": skill, "args": args, "depends_on": deps or []}


def _compliance_after(
    steps: list[dict[str, Any]], client: str | None, product: str | None
) -> list[dict[str, Any]]:
    """The steps a checked answer needs: the graph's compliance gate checks the answer (and the product's
    suitability for the client) after synthesis, so a recommendation plans its report_summary, no check."""
    if client and product and all(s["skill"] != "report_summary" for s in steps):
        return [*steps, _step(len(steps) + 1, "report_summary", {"product": product})]
    return steps


CREDIT_EN = [
    "What is the credit score of {c}?",
    "Check {c}'s credit, please.",
    "Pull the credit rating for {c}.",
    "How creditworthy is {c}?",
    "Run a credit check on client {c}.",
    "{c}: what grade does the scorecard give?",
    "Can you look up the PD and credit grade for {c}?",
    "I need {c}'s bureau score before our meeting.",
]
CREDIT_ZH = [
    "查询客户{c}的信用评分",
    "帮我看一下{c}的征信情况",
    "{c}的信用评级是多少？",
    "请做一次{c}的信用评估",
    "客户{c}的违约概率是多少？",
    "查一下{c}的资信",
]
SUMMARY_EN = [
    "Summarize the latest {p} report.",
    "Give me a short summary of the {p} research report.",
    "What does the newest report on {p} say?",
    "Brief me on {p}'s latest quarterly report.",
    "Can you summarize the {p} report for me?",
    "I need the key points of the {p} report.",
]
SUMMARY_DATE_EN = [
    "Summarize the {p} report from {d}.",
    "What did the {d} report on {p} say? A summary please.",
]
SUMMARY_ZH = [
    "总结一下{p}的最新研报",
    "帮我概述{p}最新的报告",
    "{p}最新报告的要点是什么？",
    "请给出{p}研究报告的摘要",
]
SUMMARY_DATE_ZH = ["总结{p}在{d}的报告"]
FULL_EN = [
    "Client {c} wants the {p} fund: check credit, summarize the latest {p} report, make my recommendation "
    "compliant.",
    "{c} is interested in {p}. Check her credit, brief me on the {p} report and make sure my pitch is "
    "compliant.",
    "Prepare a recommendation of {p} for {c}: credit check, report summary and a compliance check.",
    "I want to recommend {p} to {c}. Look up the credit score, summarize the research report and check "
    "suitability.",
]
FULL_ZH = [
    "客户{c}想买{p}：查一下信用，总结{p}最新研报，并确保我的推荐合规。",
    "我准备向{c}推荐{p}，请查询信用评分、总结报告并做合规检查。",
]
CREDIT_SUMMARY_EN = [
    "Check {c}'s credit and summarize the latest {p} report.",
    "Two things: the credit score of {c}, and a summary of the {p} report.",
]
CREDIT_SUMMARY_ZH = ["查询{c}的信用评分，再总结一下{p}的最新报告"]
CREDIT_COMPLIANCE_EN = [
    "{c} wants to buy {p}. Check the credit and whether it is suitable for the client.",
    "Before I recommend {p} to {c}, run a credit check and a suitability check.",
]
CREDIT_COMPLIANCE_ZH = ["{c}想申购{p}，请查信用并检查是否适合该客户。"]
SUMMARY_COMPLIANCE_EN = [
    "Summarize the latest {p} report for a client email and check it is compliant.",
    "Write up the {p} report summary and run a compliance check on it.",
]
SUMMARY_COMPLIANCE_ZH = ["总结{p}最新报告用于客户沟通，并做合规检查。"]
TWO_CREDIT_EN = [
    "Compare the credit scores of {c} and {c2}.",
    "Which is the better credit risk, {c} or {c2}?",
]
TWO_CREDIT_ZH = ["比较{c}和{c2}的信用评分"]
TWO_SUMMARY_EN = [
    "Summarize the latest reports for {p} and {p2}.",
    "Give me summaries of {p} and {p2} research.",
]
TWO_SUMMARY_ZH = ["分别总结{p}和{p2}的最新报告"]
QUOTES = [
    "{p} is risk-free.",
    "You cannot lose money with {p}.",
    "{p} guarantees 6% a year.",
    "{p} has had a steady track record.",
    "{p}保本保息，稳赚不赔。",
    "{p}过往业绩不代表未来表现。",
]
QUOTE_EN = [
    'Is this sentence compliant: "{q}"',
    "Compliance check this line for me: {q}",
    'Can I write "{q}" in a client email? Check compliance.',
]
QUOTE_ZH = ["这句话合规吗：“{q}”", "帮我做合规检查：{q}"]
NO_SKILL = [
    "Hello!",
    "Thanks, that's all for today.",
    "What does modified duration mean?",
    "Explain the difference between a bond fund and a money market fund.",
    "What is a credit spread?",
    "How do I reset my password?",
    "Good morning, are you there?",
    "What time is the team meeting?",
    "What is a structured note, in general terms?",
    "Tell me a joke.",
    "你好",
    "谢谢，没有别的问题了。",
    "什么是久期？",
    "货币基金和债券基金有什么区别？",
    "今天天气怎么样？",
    "请解释一下什么是夏普比率。",
]


def _client_ref(client: dict[str, Any], zh: bool, r: random.Random) -> str:
    """Mostly ids; sometimes the client's name (English or Chinese) so planners must copy names too."""
    if r.random() < 0.25:
        return client["name_zh"] if zh else client["name_en"]
    return client["client_id"]


class _PlannerRequests:
    """Makers of (request, steps) for each kind of planner item, drawing clients and products from the domain."""

    def __init__(self) -> None:
        self.clients = _clients()
        self.products = [p["code"] for p in _products()]
        self.demo = next(c for c in self.clients if c["client_id"] == "C-1042")
        self.dates = [d.isoformat() for d in (*EN_DATES, *ZH_DATES)]

    def pick_client(self, r: random.Random, k: int) -> dict[str, Any]:
        return self.demo if k == 0 else r.choice(self.clients)

    def pick_product(self, r: random.Random, k: int) -> str:
        return "HY-7" if k == 0 else r.choice(self.products)

    def credit(self, tpl, r, k, zh=False):
        c = _client_ref(self.pick_client(r, k), zh, r)
        return tpl.format(c=c), [_step(1, "credit_lookup", {"client": c})]

    def credit_zh(self, tpl, r, k):
        return self.credit(tpl, r, k, zh=True)

    def summary(self, tpl, r, k):
        p = self.pick_product(r, k)
        return tpl.format(p=p), [_step(1, "report_summary", {"product": p})]

    def summary_date(self, tpl, r, k):
        p, d = r.choice(self.products), r.choice(self.dates)
        return tpl.format(p=p, d=d), [_step(1, "report_summary", {"product": p, "date": d})]

    def full(self, tpl, r, k):
        c, p = self.pick_client(r, k)["client_id"], self.pick_product(r, k)
        steps = [_step(1, "credit_lookup", {"client": c}), _step(2, "report_summary", {"product": p})]
        return tpl.format(c=c, p=p), _compliance_after(steps, c, p)

    def credit_summary(self, tpl, r, k):
        c, p = r.choice(self.clients)["client_id"], r.choice(self.products)
        return tpl.format(c=c, p=p), [
            _step(1, "credit_lookup", {"client": c}),
            _step(2, "report_summary", {"product": p}),
        ]

    def credit_compliance(self, tpl, r, k):
        c, p = r.choice(self.clients)["client_id"], r.choice(self.products)
        return tpl.format(c=c, p=p), _compliance_after([_step(1, "credit_lookup", {"client": c})], c, p)

    def summary_compliance(self, tpl, r, k):
        p = r.choice(self.products)
        return tpl.format(p=p), _compliance_after([_step(1, "report_summary", {"product": p})], None, None)

    def two_credit(self, tpl, r, k):
        a, b = r.sample(self.clients, 2)
        return (
            tpl.format(c=a["client_id"], c2=b["client_id"]),
            [
                _step(1, "credit_lookup", {"client": a["client_id"]}),
                _step(2, "credit_lookup", {"client": b["client_id"]}),
            ],
        )

    def two_summary(self, tpl, r, k):
        a, b = r.sample(self.products, 2)
        return tpl.format(p=a, p2=b), [
            _step(1, "report_summary", {"product": a}),
            _step(2, "report_summary", {"product": b}),
        ]

    def quote(self, tpl, r, k):
        q = QUOTES[k % len(QUOTES)].format(p=r.choice(self.products))
        return tpl.format(q=q), [_step(1, "compliance_check", {"text": q})]


# (kind, templates, Chinese?, how many, the _PlannerRequests maker), in the order the items are written
_PLANNER_KINDS = [
    ("credit", CREDIT_EN, False, 12, "credit"),
    ("credit", CREDIT_ZH, True, 8, "credit_zh"),
    ("summary", SUMMARY_EN, False, 10, "summary"),
    ("summary_date", SUMMARY_DATE_EN, False, 4, "summary_date"),
    ("summary", SUMMARY_ZH, True, 7, "summary"),
    ("summary_date", SUMMARY_DATE_ZH, True, 3, "summary_date"),
    ("full", FULL_EN, False, 10, "full"),
    ("full", FULL_ZH, True, 6, "full"),
    ("credit_summary", CREDIT_SUMMARY_EN, False, 5, "credit_summary"),
    ("credit_summary", CREDIT_SUMMARY_ZH, True, 3, "credit_summary"),
    ("credit_compliance", CREDIT_COMPLIANCE_EN, False, 5, "credit_compliance"),
    ("credit_compliance", CREDIT_COMPLIANCE_ZH, True, 3, "credit_compliance"),
    ("summary_compliance", SUMMARY_COMPLIANCE_EN, False, 4, "summary_compliance"),
    ("summary_compliance", SUMMARY_COMPLIANCE_ZH, True, 2, "summary_compliance"),
    ("two_credit", TWO_CREDIT_EN, False, 4, "two_credit"),
    ("two_credit", TWO_CREDIT_ZH, True, 2, "two_credit"),
    ("two_summary", TWO_SUMMARY_EN, False, 4, "two_summary"),
    ("two_summary", TWO_SUMMARY_ZH, True, 2, "two_summary"),
    ("quote", QUOTE_EN, False, 6, "quote"),
    ("quote", QUOTE_ZH, True, 4, "quote"),
]


def build_planner() -> list[EvalItem]:
    requests = _PlannerRequests()
    out: list[tuple[str, str, list[dict[str, Any]], dict[str, Any]]] = []  # (kind, request, steps, meta)
    for kind, templates, zh, n, maker in _PLANNER_KINDS:
        r = _rng("planner", kind, zh)
        for k in range(n):
            tpl = templates[k % len(templates)]
            request, steps = getattr(requests, maker)(tpl, r, k)
            out.append((kind, request, steps, {"lang": "zh" if zh else "en", "template": tpl}))
    items: list[EvalItem] = []
    seen: set[str] = set()
    for kind, request, steps, meta in out:
        if request in seen:
            continue
        seen.add(request)
        items.append(_planner_item(len(items), kind, request, steps, meta))
    for text in NO_SKILL:
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        items.append(_planner_item(len(items), "no_skill", text, [], {"lang": lang, "template": text}))
    return items


def _planner_item(
    n: int, kind: str, request: str, steps: list[dict[str, Any]], meta: dict[str, Any]
) -> EvalItem:
    item_id = f"planner-{n:03d}"
    skills = sorted({s["skill"] for s in steps})
    return EvalItem(
        id=item_id,
        skill="planner",
        input={"request": request},
        reference={"skills": skills, "plan": {"steps": steps}},
        metadata={
            **meta,
            "kind": kind,
            "n_steps": len(steps),
            "multi_skill": len(skills) > 1,
            "no_skill": not steps,
        },
        split=split_for(item_id),
    )


# ============================================================================================ credit
def build_credit_lookup(n: int = 60) -> list[EvalItem]:

    clients = _clients()
    r = _rng("credit")
    chosen = [next(c for c in clients if c["client_id"] == "C-1042"), *r.sample(clients, n - 1)]
    items = []
    for k, c in enumerate(chosen):
        scored = credit_score(CreditScoreArgs(client_id=c["client_id"]))
        form = ("id", "name_en", "name_zh")[k % 3] if k else "id"
        ref = {"id": c["client_id"], "name_en": c["name_en"], "name_zh": c["name_zh"]}[form]
        item_id = f"credit-{k:03d}"
        items.append(
            EvalItem(
                id=item_id,
                skill="credit_lookup",
                input={"client": ref},
                reference={
                    "client_id": c["client_id"],
                    "score": int(scored.score),
                    "grade": scored.grade,
                    "pd": round(float(scored.pd), 6),
                    "model_version": scored.model_version,
                },
                metadata={"ref_form": form},
                split=split_for(item_id),
            )
        )
    return items


# ============================================================================================ summary
_DATE_CLAUSE = re.compile(r"^\s*(As of [^,]+,|截至[^，,]+[，,])")


def headline_figures(body: str) -> tuple[str, list[str]]:
    """The report's lead paragraph and its figures (the date clause excluded), verbatim."""

    lead = body.strip().split("\n\n")[0].strip()
    rest = _DATE_CLAUSE.sub("", lead)
    return lead, [m.text for m in extract_numbers(rest)]


def build_report_summary(n: int = 40) -> list[EvalItem]:

    r = _rng("summary")
    products = [p["code"] for p in _products()]
    items = []
    for k in range(n):
        code = "HY-7" if k == 0 else products[k % len(products)] if k < len(products) else r.choice(products)
        reports = list_reports(code)
        if k == 0 or k % 4 == 1:
            rep, date = get_report(code), None  # "the latest" (no date)
        else:
            rep = r.choice(reports)
            date = rep.report_date.isoformat()
        lead, figures = headline_figures(rep.body)
        item_id = f"summary-{k:03d}"
        items.append(
            EvalItem(
                id=item_id,
                skill="report_summary",
                input={"product": code, "date": date},
                reference={"report_id": rep.report_id, "key_figures": figures, "summary": lead},
                metadata={"lang": rep.language, "latest": date is None},
                split=split_for(item_id),
            )
        )
    return items


# ============================================================================================ compliance
# (text, gold categories, client, product). Written by reading each text; several violate in words the rule
# patterns do not cover, and several clean texts use words the patterns look for in a negated sense.
COMPLIANCE_TEXTS: list[tuple[str, list[str], str | None, str | None]] = [
    (
        "The HY-7 fund's yield to maturity was 7.88% at the end of September. Investment involves risk and the "
        "NAV may fall.",
        [],
        None,
        None,
    ),
    ("I guarantee you an 8% return every year on HY-7.", ["guaranteed_return"], None, None),
    (
        "With this fund your principal is fully protected, you simply cannot lose.",
        ["guaranteed_return"],
        None,
        None,
    ),
    (
        "This bond fund is a safe bet: a yield you can count on, year after year.",
        ["guaranteed_return"],
        None,
        None,
    ),
    ("Returns are not guaranteed and you may lose part of your investment.", [], None, None),
    ("EQ-13 has never lost money in any calendar year.", ["misleading_claim"], None, None),
    ("EQ-11 will definitely outperform the CSI 300 next year.", ["misleading_claim"], None, None),
    (
        "Tech stocks only go one way from here: up. EQ-13 will be the top performer of the decade.",
        ["misleading_claim"],
        None,
        None,
    ),
    ("Past performance does not indicate future results; the fund lost 12% in 2022.", [], None, None),
    (
        "I recommend that you buy the Consumer Growth Equity Fund (EQ-11) this week.",
        ["missing_risk_disclosure"],
        None,
        None,
    ),
    ("You should put 200,000 into IX-1 now.", ["missing_risk_disclosure"], None, None),
    (
        "I recommend IG-3 for the bond part of your portfolio. Risks include interest-rate and credit risk, and "
        "the value of your investment may fall.",
        [],
        None,
        None,
    ),
    ("Please call me on 13912345678 to confirm the subscription.", ["pii"], None, None),
    ("Send the signed form to zhang.min@example.com today.", ["pii"], None, None),
    ("The risk-free rate used in the Sharpe ratio is the 1-year deposit rate.", [], None, None),
    ("Money market funds are not deposits and their yields are not guaranteed.", [], None, None),
    (
        "HY-9 is a good fit for this client's portfolio. Investment involves risk.",
        ["suitability"],
        "C-1042",
        "HY-9",
    ),
    (
        "HY-7 fits this client's balanced profile. Bond funds carry credit and interest-rate risk; the NAV may fall.",
        [],
        "C-1042",
        "HY-7",
    ),
    (
        "I recommend SN-7 to you; it is the best structured note on the market.",
        ["misleading_claim", "missing_risk_disclosure"],
        None,
        None,
    ),
    ("Lock in 6% a year with WM-1, zero risk to your capital.", ["guaranteed_return"], None, None),
    ("The fund's duration is 3.7 years and its spread is 448 bp over government bonds.", [], None, None),
    (
        "We think carry will remain the main source of return, but spreads could widen and losses are possible.",
        [],
        None,
        None,
    ),
    ("Everyone who bought CB-2 last year made money, so you will too.", ["misleading_claim"], None, None),
    ("Trust me, there is no way this fund ends the year in the red.", ["guaranteed_return"], None, None),
    ("My colleague's number is +86 138 0013 8000 if you have questions.", ["pii"], None, None),
    (
        "This product promises a fixed 5% payout regardless of market conditions.",
        ["guaranteed_return"],
        None,
        None,
    ),
    ("The Gold ETF Feeder Fund tracks the gold price; gold prices can be volatile.", [], None, None),
    ("Buy EQ-15 today before it doubles.", ["misleading_claim", "missing_risk_disclosure"], None, None),
    (
        "Dividend Value Equity Fund paid a dividend in each of the last five years; dividends are not guaranteed.",
        [],
        None,
        None,
    ),
    (
        "For someone close to retirement, SN-7 is the ideal product. The note may lose all of its principal.",
        ["suitability"],
        "C-1004",
        "SN-7",
    ),
    # --- Chinese
    ("高收益债券基金（HY-7）截至9月末到期收益率为7.88%。投资有风险，基金净值可能下跌。", [], None, None),
    ("这款产品保本保息，年化收益8%。", ["guaranteed_return"], None, None),
    ("买这个基金稳赚不赔，您放心。", ["guaranteed_return"], None, None),
    ("这只基金的收益是板上钉钉的，每年至少6%。", ["guaranteed_return"], None, None),
    ("本产品不保证收益，投资者可能损失部分本金。", [], None, None),
    ("EQ-13从未亏损过，一直跑赢大盘。", ["misleading_claim"], None, None),
    ("这只基金明年肯定翻倍，错过就没机会了。", ["misleading_claim"], None, None),
    ("消费成长股票基金是市场上最好的基金。", ["misleading_claim"], None, None),
    ("建议您买入EQ-11。", ["missing_risk_disclosure"], None, None),
    ("推荐您配置一些IG-3，债券基金面临利率风险和信用风险，净值可能下跌。", [], None, None),
    ("请拨打13800138000联系我办理申购。", ["pii"], None, None),
    ("无风险利率通常采用一年期国债收益率。", [], None, None),
    ("过往业绩不代表未来表现，基金投资需谨慎。", [], None, None),
    ("HY-9很适合这位客户，投资有风险。", ["suitability"], "C-1042", "HY-9"),
    ("货币基金不等于存款，收益不保证。", [], None, None),
    ("这款票据零风险，到期一定能拿回本金和票息。", ["guaranteed_return"], None, None),
    ("推荐您买SN-5，收益高。", ["missing_risk_disclosure"], None, None),
    ("资料请发到lihua.chen@example.cn。", ["pii"], None, None),
    ("该基金久期为3.9年，信用利差为417个基点。", [], None, None),
    ("过去三年它都是同类第一，以后也会一直领先。", ["misleading_claim"], None, None),
    ("黄金价格波动较大，黄金ETF联接基金的净值可能下跌。", [], None, None),
    ("跟着我买，闭着眼睛都能赚钱。", ["guaranteed_return"], None, None),
]


def build_compliance_check() -> list[EvalItem]:

    items = []
    for k, (text, cats, client, product) in enumerate(COMPLIANCE_TEXTS):
        unknown = set(cats) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"compliance item {k}: unknown categories {unknown}")
        item_id = f"compliance-{k:03d}"
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        items.append(
            EvalItem(
                id=item_id,
                skill="compliance_check",
                input={"text": text, "client": client, "product": product},
                reference={"categories": sorted(set(cats)), "passed": not cats},
                metadata={"lang": lang, "clean": not cats},
                split=split_for(item_id),
            )
        )
    return items


BUILDERS = {
    "planner": build_planner,
    "credit_lookup": build_credit_lookup,
    "report_summary": build_report_summary,
    "compliance_check": build_compliance_check,
}


def build(skills: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Build and write the eval sets; returns {skill: {items, train, heldout, version}}."""
    out = {}
    for skill in skills or list(BUILDERS):
        items = BUILDERS[skill]()
        write_items(skill, items)
        out[skill] = {
            "items": len(items),
            "train": sum(i.split == "train" for i in items),
            "heldout": sum(i.split == "heldout" for i in items),
            "version": dataset_version(skill),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skill", action="append", choices=sorted(BUILDERS))
    args = ap.parse_args(argv)
    for skill, info in build(args.skill).items():
        print(
            f"{skill:18s} items={info['items']:4d} train={info['train']:4d} heldout={info['heldout']:4d} "
            f"version={info['version']}"
        )


if __name__ == "__main__":
    run_main(main)
