"""Normalization before compliance checks: disguises are undone and spans map back to the original text."""

from __future__ import annotations

import pytest

from fincopilot.tools.compliance_rules import pattern_violations
from fincopilot.tools.textnorm import normalize


@pytest.mark.parametrize(
    "raw, view",
    [
        ("ＨＹ－７ 年化８％", "HY-7 年化8%"),  # full-width → half-width
        ("稳\u200b赚\u200d不赔", "稳赚不赔"),  # zero-width characters
        ("保 本 保 息", "保本保息"),  # spacing inside a Chinese word
        ("we g u a r a n t e e it", "we guarantee it"),  # letter-spaced English word
        ("g-u-a-r-a-n-t-e-e-d 9%", "guaranteed 9%"),  # spelled with separators
        ("稳-赚-不-赔，保.本", "稳赚不赔,保本"),  # CJK characters with separators
        ("U.S. bonds, e.g. HY-7, 1.5% p.a.", "U.S. bonds, e.g. HY-7, 1.5% p.a."),  # abbreviations stay
        ("穩賺不賠，年化8%", "稳赚不赔,年化8%"),  # traditional → simplified (and NFKC punctuation)
    ],
)
def test_normalized_view(raw, view):
    assert normalize(raw).text == view


def test_spans_map_back_to_the_original():
    raw = "Note: 穩\u200b賺 不 賠 for ＨＹ－７."
    norm = normalize(raw)
    start = norm.text.index("稳赚不赔")
    assert norm.original_text(start, start + 4) == "穩\u200b賺 不 賠"
    hy = norm.text.index("HY-7")
    assert norm.original_text(hy, hy + 4) == "ＨＹ－７"


def test_plain_text_is_unchanged_and_identity_mapped():
    raw = "The NAV fell 3.39% in Q3. 净值下跌3.39%。"
    norm = normalize(raw)
    assert norm.text == raw
    assert norm.original_text(0, len(norm.text)) == raw


@pytest.mark.parametrize(
    "raw, quoted",
    [
        ("穩賺不賠，年化8%", "穩賺不賠"),
        ("保 本 保 息", "保 本 保 息"),
        ("稳\u200b赚不赔", "稳\u200b赚不赔"),
    ],
)
def test_rules_see_through_disguises_and_quote_the_original(raw, quoted):
    hits = pattern_violations(raw)
    assert [v.category for v in hits] == ["guaranteed_return"]
    assert hits[0].span == quoted
