"""Build the knowledge-base eval set (`evals/sets/knowledge_qa.jsonl`) from the seeded documents' facts.

Each item: a question (EN or ZH; the product named by code or in words) → gold passages (document name and
section; a question that needs two passages has two groups) → gold answer strings, or `answerable: false`
for a question whose answer is not in the knowledge base. The split is by TEMPLATE (each template is train
or heldout), so the heldout questions are worded differently from anything a threshold was tuned on.

    python -m fincopilot.evals.build_kb
"""

from __future__ import annotations

import random
from typing import Any

from fincopilot.errors import run_main
from fincopilot.evals.datasets import EvalItem, dataset_version, write_items
from fincopilot.tools import datagen
from fincopilot.tools.kb_seed import product_terms

SKILL = "knowledge_qa"
PER_TEMPLATE = 6


def _pct(x: float) -> str:
    return f"{x:.2f}%"


def _low(code: str) -> str:
    return code.lower().replace("-", "")


# (template id, split, lang, kind, question, gold groups, answer strings); {p} code, {n} name
def _product_templates(t: dict[str, Any], rnd: random.Random) -> list[tuple]:
    c, lo = t["code"], _low(t["code"])
    n_en, n_zh = t["name_en"], t["name_zh"]
    p_en = c if rnd.random() < 0.5 else f"the {n_en}"
    p_zh = c if rnd.random() < 0.5 else n_zh
    fe, fz, pe, pz = f"fees_{lo}_en", f"fees_{lo}_zh", f"prospectus_{lo}_en", f"prospectus_{lo}_zh"
    out = [
        (
            "red6m-a",
            "train",
            "en",
            "single",
            f"What is the redemption fee for {p_en} if I sell after three months?",
            [[(fe, "2 Redemption fee")]],
            [_pct(t["red_6m"])],
        ),
        (
            "red6m-b",
            "heldout",
            "en",
            "single",
            (f"A client held {p_en} for four months and redeems now: which redemption fee applies?"),
            [[(fe, "2 Redemption fee")]],
            [_pct(t["red_6m"])],
        ),
        (
            "sub-a",
            "train",
            "en",
            "single",
            f"What subscription fee does {p_en} charge on amounts below 1 million?",
            [[(fe, "1 Subscription fee")]],
            [_pct(t["sub_fee"])],
        ),
        (
            "risk-b",
            "heldout",
            "en",
            "single",
            f"Which risk level is {p_en} rated?",
            [[(pe, "3.1 Risk level")]],
            [t["risk"]],
        ),
        (
            "mgmt-a",
            "train",
            "en",
            "single",
            f"What is the annual management fee of {p_en}?",
            [[(pe, "5 Fees and expenses"), (fe, "3 Ongoing fees")]],
            [_pct(t["mgmt"])],
        ),
        (
            "min-b",
            "heldout",
            "en",
            "single",
            f"How much must a client invest at least to get into {p_en}?",
            [[(pe, "4.1 Subscription")]],
            [f"{t['min_investment']:,.0f}"],
        ),
        (
            "settle-a",
            "train",
            "en",
            "single",
            f"Within how many business days are redemption proceeds of {p_en} paid?",
            [[(pe, "4.2 Redemption")]],
            [f"T+{t['settle_days']}"],
        ),
        (
            "target-b",
            "heldout",
            "en",
            "single",
            f"Which client risk profile is {p_en} suitable for?",
            [[(pe, "3.2 Target investors")]],
            [t["profile"][0]],
        ),
        (
            "two-riskfee-a",
            "train",
            "en",
            "two",
            (f"What are the risk level and the subscription fee (below 1 million) of {p_en}?"),
            [[(pe, "3.1 Risk level")], [(fe, "1 Subscription fee")]],
            [t["risk"], _pct(t["sub_fee"])],
        ),
        (
            "two-riskred-b",
            "heldout",
            "en",
            "two",
            (f"For {p_en}, tell me its risk rating and the fee for redeeming after four months."),
            [[(pe, "3.1 Risk level")], [(fe, "2 Redemption fee")]],
            [t["risk"], _pct(t["red_6m"])],
        ),
        (
            "absent-perf-a",
            "train",
            "en",
            "absent",
            f"What performance fee does {p_en} charge above its hurdle?",
            [],
            [],
        ),
        (
            "absent-swing-b",
            "heldout",
            "en",
            "absent",
            f"What swing pricing threshold does {p_en} apply?",
            [],
            [],
        ),
        (
            "zh-red6m-a",
            "train",
            "zh",
            "single",
            f"{p_zh}持有三个月后赎回，赎回费率是多少？",
            [[(fz, "二、赎回费")]],
            [_pct(t["red_6m"])],
        ),
        (
            "zh-red6m-b",
            "heldout",
            "zh",
            "single",
            f"客户持有{p_zh}四个月，现在赎回要收多少赎回费？",
            [[(fz, "二、赎回费")]],
            [_pct(t["red_6m"])],
        ),
        (
            "zh-sub-a",
            "train",
            "zh",
            "single",
            f"{p_zh}申购金额100万元以下的申购费率是多少？",
            [[(fz, "一、申购费")]],
            [_pct(t["sub_fee"])],
        ),
        (
            "zh-risk-b",
            "heldout",
            "zh",
            "single",
            f"{p_zh}属于哪个风险等级？",
            [[(pz, "3.1 风险等级")]],
            [t["risk"]],
        ),
        (
            "zh-mgmt-a",
            "train",
            "zh",
            "single",
            f"{p_zh}每年的管理费率是多少？",
            [[(pz, "五、费用"), (fz, "三、持续费用")]],
            [_pct(t["mgmt"])],
        ),
        (
            "zh-target-b",
            "heldout",
            "zh",
            "single",
            f"{p_zh}适合什么风险承受能力的客户？",
            [[(pz, "3.2 适合投资者")]],
            [t["profile"][0]],
        ),
        (
            "zh-two-a",
            "train",
            "zh",
            "two",
            f"{p_zh}的风险等级和申购费率分别是多少？",
            [[(pz, "3.1 风险等级")], [(fz, "一、申购费")]],
            [t["risk"], _pct(t["sub_fee"])],
        ),
        (
            "zh-two-b",
            "heldout",
            "zh",
            "two",
            f"请告诉我{p_zh}的风险等级，以及持有四个月赎回的费率。",
            [[(pz, "3.1 风险等级")], [(fz, "二、赎回费")]],
            [t["risk"], _pct(t["red_6m"])],
        ),
        ("zh-absent-a", "train", "zh", "absent", f"{p_zh}的业绩报酬计提比例是多少？", [], []),
        ("zh-absent-b", "heldout", "zh", "absent", f"{p_zh}的摆动定价阈值是多少？", [], []),
    ]
    return out


_POLICY = [
    (
        "pol-valid-a",
        "train",
        "en",
        "single",
        "How long is a client's risk profile assessment valid?",
        [[("policy_suitability_en", "2 Client risk profiles")]],
        ["12 months"],
    ),
    (
        "pol-records-a",
        "train",
        "en",
        "single",
        "For how many years must suitability records be kept?",
        [[("policy_suitability_en", "5 Records")]],
        ["5 years"],
    ),
    (
        "pol-cool-b",
        "heldout",
        "en",
        "single",
        ("If a client insists on a product above their risk profile, how long is the cooling-off period?"),
        [[("policy_suitability_en", "3.2 Products above")]],
        ["24-hour"],
    ),
    (
        "pol-elderly-b",
        "heldout",
        "en",
        "single",
        ("What recording is required when selling R4 products to clients aged 65 or over?"),
        [[("policy_suitability_en", "4.2 Elderly")]],
        ["audio and video"],
    ),
    (
        "pol-past-a",
        "train",
        "en",
        "single",
        "How many years of past performance must marketing material show?",
        [[("policy_marketing_en", "3 Past performance")]],
        ["5 complete years"],
    ),
    (
        "pol-approve-b",
        "heldout",
        "en",
        "single",
        "Who has to approve client-facing material before it is first used?",
        [[("policy_marketing_en", "5 Approval")]],
        ["Compliance"],
    ),
    (
        "pol-two-b",
        "heldout",
        "en",
        "two",
        "Can a C3 client buy an R4 product, and what must I disclose?",
        [
            [("policy_suitability_en", "3.2 Products above"), ("policy_suitability_en", "3.1 General rule")],
            [("policy_suitability_en", "4.1 Required disclosures")],
        ],
        ["risk level"],
    ),
    (
        "pol-two-a",
        "train",
        "en",
        "two",
        ("What may marketing material not promise, and which risk warning must it include?"),
        [[("policy_marketing_en", "2 Prohibited")], [("policy_marketing_en", "4 Risk warnings")]],
        ["guaranteed returns"],
    ),
    (
        "pol-absent-a",
        "train",
        "en",
        "absent",
        "What is the bank's policy on cryptocurrency custody for clients?",
        [],
        [],
    ),
    ("pol-absent-b", "heldout", "en", "absent", "How many vacation days do advisors get per year?", [], []),
    (
        "zh-pol-valid-a",
        "train",
        "zh",
        "single",
        "客户风险承受能力评估结果的有效期是多久？",
        [[("policy_suitability_zh", "二、客户风险承受能力")]],
        ["12个月"],
    ),
    (
        "zh-pol-records-b",
        "heldout",
        "zh",
        "single",
        "适当性记录需要保存几年？",
        [[("policy_suitability_zh", "五、记录保存")]],
        ["5年"],
    ),
    (
        "zh-pol-cool-a",
        "train",
        "zh",
        "single",
        "客户坚持购买超出其风险承受能力的产品，冷静期是多长？",
        [[("policy_suitability_zh", "3.2 超出")]],
        ["24小时"],
    ),
    (
        "zh-pol-elderly-b",
        "heldout",
        "zh",
        "single",
        "向65岁以上客户销售R4产品有什么要求？",
        [[("policy_suitability_zh", "4.2 老年")]],
        ["录音录像"],
    ),
    (
        "zh-pol-past-b",
        "heldout",
        "zh",
        "single",
        "宣传材料展示过往业绩至少要展示几年？",
        [[("policy_marketing_zh", "三、过往业绩")]],
        ["5年"],
    ),
    (
        "zh-pol-approve-a",
        "train",
        "zh",
        "single",
        "面向客户的材料首次使用前需要谁审批？",
        [[("policy_marketing_zh", "五、审批")]],
        ["合规部门"],
    ),
    (
        "zh-pol-two-a",
        "train",
        "zh",
        "two",
        "C3客户能买R4产品吗？销售前必须披露什么？",
        [
            [("policy_suitability_zh", "3.2 超出"), ("policy_suitability_zh", "3.1 一般原则")],
            [("policy_suitability_zh", "4.1 必须披露")],
        ],
        ["风险等级"],
    ),
    (
        "zh-pol-two-b",
        "heldout",
        "zh",
        "two",
        "宣传材料有哪些禁止性表述？必须包含什么风险提示？",
        [[("policy_marketing_zh", "二、禁止性表述")], [("policy_marketing_zh", "四、风险提示")]],
        ["保本保收益"],
    ),
    ("zh-pol-absent-a", "train", "zh", "absent", "银行对客户数字货币托管有什么规定？", [], []),
    ("zh-pol-absent-b", "heldout", "zh", "absent", "理财顾问每年有多少天年假？", [], []),
]


def _item(
    tpl: str, split: str, lang: str, kind: str, question: str, gold: list, answer: list[str], n: int
) -> EvalItem:
    return EvalItem(
        id=f"kb-{tpl}-{n:02d}",
        skill=SKILL,
        split=split,  # type: ignore[arg-type]
        input={"question": question},
        reference={
            "answerable": kind != "absent",
            "answer": answer,
            "gold": [[{"doc": d, "section": s} for d, s in group] for group in gold],
        },
        metadata={"lang": lang, "kind": kind, "template": tpl},
    )


def build_knowledge_qa() -> list[EvalItem]:
    rnd = random.Random("kb-eval-v1")
    codes = [p.code for p in datagen.PRODUCTS]
    by_template: dict[str, list[tuple]] = {}
    for code in codes:
        for row in _product_templates(product_terms(code), rnd):
            by_template.setdefault(row[0], []).append(row)
    items: list[EvalItem] = []
    for _template, rows in sorted(by_template.items()):
        for n, row in enumerate(rnd.sample(rows, min(PER_TEMPLATE, len(rows)))):
            items.append(_item(*row, n=n))
    for n, row in enumerate(_POLICY):
        items.append(_item(*row, n=n))
    return items


def main() -> None:
    items = build_knowledge_qa()
    write_items(SKILL, items)
    train = sum(i.split == "train" for i in items)
    print(
        f"{SKILL}: items={len(items)} train={train} heldout={len(items) - train} "
        f"version={dataset_version(SKILL)}"
    )


if __name__ == "__main__":
    run_main(main)
