"""Numeric faithfulness: numbers are matched by value, tolerant of formatting, strict on substance."""

import re

import pytest

from fincopilot.tools.numbers import (
    copy_only_pattern,
    extract_numbers,
    numeric_faithfulness,
    unsupported_numbers,
)

SOURCE = (
    "The HY-7 fund yielded 6.85% in 2025 with a duration of 3.4 years. Assets reached RMB 1.25亿 "
    "(1,234,567 units). The default rate was 2.13% and spreads widened 25 bps. 久期为3.4年。"
)


@pytest.mark.parametrize(
    "claim",
    [
        "yield 6.85% [1]",
        "yield 6.9%",
        "AUM 125,000,000",
        "AUM 1.25亿",
        "1234567 units",
        "spreads +0.25%",
        "收益率6.85%，久期3.4年",
        "client C-1042 and fund HY-7",
        "no numbers at all",
    ],
)
def test_supported_claims(claim):
    assert unsupported_numbers(claim, [SOURCE]) == []
    assert numeric_faithfulness(claim, [SOURCE]) == 1.0


@pytest.mark.parametrize(
    "claim, bad",
    [
        ("yield 6.7%", "6.7%"),
        ("duration 4.4 years", "4.4"),
        ("AUM 2亿", "2亿"),
        ("收益率为9.5%", "9.5%"),
        ("score 612", "612"),
    ],
)
def test_unsupported_claims_are_named(claim, bad):
    found = unsupported_numbers(claim, [SOURCE])
    assert [n.text for n in found] == [bad]
    assert numeric_faithfulness(claim, [SOURCE]) == 0.0


def test_extract_scales_units_and_keeps_spans():
    text = "Fees 1.5%, AUM 3 million, 2万 units, down -4.2%"
    nums = extract_numbers(text)
    assert [n.value for n in nums] == [1.5, 3e6, 2e4, -4.2]
    assert [text[n.start : n.end].strip() for n in nums] == ["1.5%", "3 million", "2万", "-4.2%"]


def test_citations_and_identifiers_are_not_numbers():
    assert extract_numbers("See [1], [2, 3] about C-1042 and HY-7.") == []


def test_partial_faithfulness():
    assert numeric_faithfulness("6.85% and 9.99%", [SOURCE]) == 0.5


def test_traditional_scales_and_range_dashes():
    assert [n.value for n in extract_numbers("減少3,200萬元，即0.32億元")] == [32_000_000, 32_000_000]
    assert [n.value for n in extract_numbers("年化2.90%-3.50%")] == [2.90, 3.50]  # the dash is not a sign
    assert [n.value for n in extract_numbers("收益率：-3.50%")] == [-3.50]
    assert unsupported_numbers("減少3,200萬元", ["較上月末減少0.32億元"]) == []


def test_copy_only_pattern_admits_the_source_numbers_and_nothing_else():
    source = "NAV 1.0842 on 2026-09-30, up 3.39% (CNY 8,270 million)."
    pattern = re.compile(copy_only_pattern(source, 200))
    assert pattern.match("NAV rose 3.39% to 1.0842 (CNY 8,270 million) by 2026-09-30.")
    assert not pattern.match("NAV rose 3.4% to 1.0842.")  # a rounded figure is not a copy
    assert not pattern.match("NAV rose 1.0842%.")  # a percentage only where the source writes one
    assert not pattern.match('NAV "rose"')  # no quote: the JSON string cannot run past its end
    assert pattern.match("No figures at all.")
    assert not re.compile(copy_only_pattern(source, 5)).match("a" * 6)  # bounded in items
