"""Compliance rules: every category fires on positive examples and stays silent on clean ones, in
English and Chinese; the CLI prints exactly the contract's JSON shape."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from skill_helpers import scripted_fake

from fincopilot.agents.compliance_check import check_rules
from fincopilot.errors import InputError, NotFoundError
from fincopilot.tools import data

DISCLOSED_EN = (
    " Investment involves risk; you may lose money and past performance does not indicate future results."
)
DISCLOSED_ZH = "投资有风险，基金净值可能下跌，过往业绩不代表未来表现。"

POSITIVE = {
    ("guaranteed_return", "en"): [
        "We guarantee an 8% annual return on HY-7." + DISCLOSED_EN,
        "HY-7 is a risk-free way to earn 7% a year." + DISCLOSED_EN,
        "Your principal is guaranteed and you cannot lose." + DISCLOSED_EN,
        "I promise you will get 10% returns from this fund." + DISCLOSED_EN,
        "This note will definitely pay its coupon in full." + DISCLOSED_EN,
    ],
    ("guaranteed_return", "zh"): [
        "该产品保本保息，年化收益8%。" + DISCLOSED_ZH,
        "HY-7稳赚不赔，请放心购买。" + DISCLOSED_ZH,
        "我们保证年化收益不低于6%。" + DISCLOSED_ZH,
        "这只基金零风险，适合所有人。" + DISCLOSED_ZH,
        "买入后一定能赚钱。" + DISCLOSED_ZH,
    ],
    ("misleading_claim", "en"): [
        "HY-7 will definitely outperform the market next year." + DISCLOSED_EN,
        "This fund has never lost money since launch." + DISCLOSED_EN,
        "It is the best fund in the market, full stop." + DISCLOSED_EN,
        "Its past performance guarantees strong future gains." + DISCLOSED_EN,
        "High yield bonds can only go up from here." + DISCLOSED_EN,
    ],
    ("misleading_claim", "zh"): [
        "HY-7只涨不跌，是稳健之选。" + DISCLOSED_ZH,
        "该基金成立以来从未亏损。" + DISCLOSED_ZH,
        "这是市场上最好的基金。" + DISCLOSED_ZH,
        "过往业绩证明了未来的收益。" + DISCLOSED_ZH,
        "明年一定会跑赢大盘。" + DISCLOSED_ZH,
    ],
    ("missing_risk_disclosure", "en"): [
        "I recommend HY-7 for Zhang Min's portfolio.",
        "You should buy the High Yield Bond Fund now; its yield to maturity is 7.88%.",
        "We suggest adding HY-7 to the client's bond allocation.",
        "HY-7 is a good fit for a balanced investor like you.",
    ],
    ("missing_risk_disclosure", "zh"): [
        "建议您买入HY-7高收益债券基金。",
        "推荐客户配置HY-7，到期收益率为7.88%。",
        "这只基金非常适合您，可以申购。",
        "HY-7值得配置，收益率可观。",
    ],
    ("pii", "en"): [
        "Call the client on 13812345678 to confirm." + DISCLOSED_EN,
        "Send the report to zhang.min1042@example.com." + DISCLOSED_EN,
        "Her ID card number is 11010519491231002X." + DISCLOSED_EN,
        "Debit card 4111 1111 1111 1111 will be charged." + DISCLOSED_EN,
    ],
    ("pii", "zh"): [
        "请致电客户手机13912345678确认。" + DISCLOSED_ZH,
        "客户身份证号为11010519491231002X。" + DISCLOSED_ZH,
        "报告已发送至邮箱 zhangmin@example.cn。" + DISCLOSED_ZH,
        "扣款银行卡号6222020200112233446。" + DISCLOSED_ZH,
    ],
}

CLEAN = {
    "en": [
        "I recommend HY-7 for Zhang Min's bond allocation: its yield to maturity is 7.88% with a duration of "
        "3.7 years. Risks include credit and interest-rate risk; the value may fall and returns are not guaranteed.",
        "Returns are not guaranteed and this is not a risk-free investment.",
        "The fund's NAV rose 1.16% last quarter. Past performance does not indicate future results.",
        "HY-7 carries credit, interest-rate and liquidity risk. It is rated R3.",
        "There is no guarantee of principal; the note may lose value.",
        "The risk-free rate used in our model is 1.8%.",
    ],
    "zh": [
        "建议您配置HY-7。投资有风险，基金净值可能下跌，过往业绩不代表未来表现。",
        "本产品不保本，收益不作保证。",
        "该基金并非无风险产品，请谨慎投资。",
        "HY-7近一季度上涨1.16%，到期收益率为7.88%。",
        "过往业绩不代表未来表现，基金存在信用风险和利率风险。",
        "模型中的无风险利率为1.8%。",
    ],
}


def _cases():
    for (category, lang), texts in POSITIVE.items():
        for i, text in enumerate(texts):
            yield pytest.param(category, text, id=f"{category}-{lang}-{i}")


@pytest.mark.parametrize(("category", "text"), list(_cases()))
def test_category_fires_on_positive_examples(category, text):
    result = check_rules(text)
    assert not result.passed
    hits = [v for v in result.violations if v.category == category]
    assert hits, result
    for v in result.violations:
        assert v.span and v.span in text and v.reason
        assert re.fullmatch(r"CMP-(GR|MC|RD|PII)-\d{3}", v.rule)
    # Positive examples of one category do not trip the others (each adds a disclosure where needed).
    assert {v.category for v in result.violations} == {category}, result


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_clean_texts_pass(lang):
    for text in CLEAN[lang]:
        result = check_rules(text)
        assert result.passed, (text, result)


SUITABILITY_TEXTS = {
    "en": "I recommend {code} for this client; risks include credit and market risk and you may lose money.",
    "zh": "建议该客户买入{code}。投资有风险，可能出现亏损。",
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(
    ("code", "rules"), [("HY-9", {"SUIT-001"}), ("EQ-13", {"SUIT-001"}), ("SN-7", {"SUIT-001", "SUIT-006"})]
)
def test_suitability_fires_with_client_and_product(db, lang, code, rules):
    text = SUITABILITY_TEXTS[lang].format(code=code)
    bad = check_rules(text, client="C-1042", product=code)  # risk profile 3; R4/R5 products
    assert {v.category for v in bad.violations} == {"suitability"}
    assert {v.rule for v in bad.violations} == rules and all(v.span == code for v in bad.violations)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("code", ["HY-7", "IG-3", "MM-1"])
def test_suitability_silent_for_suitable_products(db, lang, code):
    result = check_rules(SUITABILITY_TEXTS[lang].format(code=code), client="C-1042", product=code)
    assert result.passed, result


def test_suitability_rules_cover_age_horizon_concentration_and_income(db):
    from fincopilot.tools.suitability import check_suitability

    client = data.get_client("C-1042")
    product = data.get_product("EQ-10")  # R4 equity fund
    holdings = data.get_holdings("C-1042")
    risky = client.model_copy(update={"risk_profile": 5, "age": 74, "horizon_years": 2})
    result = check_suitability(risky, product, holdings, amount=1_000_000)
    assert {v.rule for v in result.violations} == {"SUIT-002", "SUIT-003", "SUIT-004", "SUIT-005"}
    assert all(v.reason for v in result.violations) and not result.suitable
    fine = check_suitability(client.model_copy(update={"risk_profile": 5}), product, holdings, amount=10_000)
    assert fine.suitable, fine


def test_bad_input_is_rejected(db):
    with pytest.raises(InputError, match="empty"):
        check_rules("   ")
    with pytest.raises(InputError, match="too long"):
        check_rules("x" * 50_000)
    with pytest.raises(InputError, match="both client and product"):
        check_rules("I recommend HY-7.", client="C-1042")
    with pytest.raises(NotFoundError):
        check_rules("I recommend HY-7.", client="C-9999", product="HY-7")


def test_skill_uses_the_suitability_tool_and_validates_model_flags(db):
    from fincopilot.agents.skills import SkillContext, get_skill

    s = get_skill("compliance_check")
    text = "I recommend HY-7, a fund with a yield you can count on. Investment involves risk."
    reply = json.dumps(
        {
            "flags": [
                {"category": "guaranteed_return", "quote": "a yield you can count on"},
                {"category": "misleading_claim", "quote": "not in the text at all"},
            ]
        }
    )
    ctx = SkillContext(skill=s.name, allowed_tools=s.tools, gateway=scripted_fake(reply))
    result = s.run({"text": text, "client": "C-1042", "product": "HY-7", "assist": True}, ctx)
    assert [(v.rule, v.span) for v in result.violations] == [("CMP-LLM-001", "a yield you can count on")]
    plain = s.run(
        {"text": text, "client": "C-1042", "product": "HY-7"},
        SkillContext(skill=s.name, allowed_tools=s.tools, gateway=scripted_fake("{}")),
    )
    assert plain.passed  # rules alone: nothing to flag


def test_cli_compliance_check_json_shape(db):
    text = "我们保证收益，稳赚不赔！Call me at 13812345678. I recommend HY-9."
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fincopilot.cli",
            "compliance",
            "check",
            "--json",
            "--client",
            "C-1042",
            "--product",
            "HY-9",
        ],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "FINCOPILOT_DB": str(db)},
    )
    assert proc.returncode == 1, proc.stderr
    payload = json.loads(proc.stdout)
    assert set(payload) == {"passed", "violations", "produced_by"} and payload["passed"] is False
    assert payload["produced_by"] == "rules"  # provenance: no model took part
    assert all(set(v) == {"category", "rule", "span", "reason"} for v in payload["violations"])
    assert {v["category"] for v in payload["violations"]} == {
        "guaranteed_return",
        "pii",
        "suitability",
        "missing_risk_disclosure",
    }
    clean = subprocess.run(
        [sys.executable, "-m", "fincopilot.cli", "compliance", "check", "--json"],
        input=CLEAN["en"][0],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert clean.returncode == 0 and json.loads(clean.stdout) == {
        "passed": True,
        "violations": [],
        "produced_by": "rules",
    }
    empty = subprocess.run(
        [sys.executable, "-m", "fincopilot.cli", "compliance", "check", "--json"],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert empty.returncode == 2 and "no text on stdin" in empty.stderr


# promises to make up a loss or a shortfall (CMP-GR-006, CMP-GR-104), each beside twins that refuse or quote it
MAKE_UP_PROMISES = (
    "If the fund returns less than 6% this year, I'll make up the difference myself.",
    "Should the note lose anything, the bank will make you whole.",
    "这只产品的本金我们兜底，您放心。",
    "年底要是亏了，亏损部分我们公司补齐。",
    "这笔投资旱涝保收。",
    "年化8%，这个收益我给您打包票。",
    "收益低于5%的部分由我们支行补足。",
)
MAKE_UP_TWINS = (
    "I can't promise that I'll make up the difference if the fund underperforms.",
    "The training deck lists 'we will make you whole' among the banned phrases.",
    "浮动收益的产品，本金我们没法兜底。",
    "话术手册把“亏了算我的”列为禁用话术。",
    "收益这件事我没办法跟您打包票。",
    "收益不到5%的部分，我们支行不会补足。",
)


@pytest.mark.parametrize("text", MAKE_UP_PROMISES)
def test_a_promise_to_make_up_a_loss_is_a_guaranteed_return(text):
    rules = {v.rule for v in check_rules(text).violations}
    assert rules & {"CMP-GR-006", "CMP-GR-104"}, text


@pytest.mark.parametrize("text", MAKE_UP_TWINS)
def test_refusing_or_quoting_that_promise_is_not(text):
    assert check_rules(text).passed, text
