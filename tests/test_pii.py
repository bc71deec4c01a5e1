"""PII detection: checksums, formats, English and Chinese text, known names from a real DuckDB file."""

from __future__ import annotations

import os
import re
import time

import duckdb
import pytest

from fincopilot.errors import InputError
from fincopilot.safety.pii import (
    PiiMatch,
    canonical_value,
    find_pii,
    iban_ok,
    id_card_checksum_ok,
    known_client_names,
    luhn_ok,
)
from tests.pii_corpus import CARD_A, CARD_B, CLEAN_TEXTS, CORPUS, ID_A, ID_B, KNOWN_NAMES, make_id


def kinds(text: str, names=()) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in find_pii(text, names)]


def test_id_card_checksum_and_birth_date():
    assert ID_A.endswith("X") and id_card_checksum_ok(ID_A) and id_card_checksum_ok(ID_A.lower())
    wrong = ID_B[:-1] + str((int(ID_B[-1]) + 1) % 10) if ID_B[-1].isdigit() else ID_B[:-1] + "0"
    assert not id_card_checksum_ok(wrong)
    assert kinds(f"身份证{ID_B}") == [("id_card", ID_B)]
    assert (
        kinds(f"身份证{wrong}") == []
    )  # bad check digit: not an ID (and 18 digits failing Luhn: not a card)
    bad_date = make_id("11010519491331002")  # month 13, checksum otherwise valid
    assert id_card_checksum_ok(bad_date) and not [m for m in find_pii(bad_date) if m.kind == "id_card"]
    future = make_id("11010521990101002")
    assert not [m for m in find_pii(future) if m.kind == "id_card"]


def test_bank_cards_need_luhn_and_accept_groups():
    assert luhn_ok(CARD_A) and luhn_ok(CARD_B)
    assert kinds(f"卡号{CARD_A}。") == [("bank_card", CARD_A)]
    grouped = " ".join(CARD_B[i : i + 4] for i in range(0, 16, 4))
    assert kinds(f"card {grouped} expired") == [("bank_card", grouped)]
    not_luhn = CARD_B[:-1] + str((int(CARD_B[-1]) + 1) % 10)
    assert find_pii(f"order {not_luhn} shipped") == []
    # a longer digit run is not a card hiding inside it
    assert find_pii("ref 12345678901234567890123") == []


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "+86 138-0013-8000",
        "0086 13800138000",
        "138 0013 8000",
        "+8613800138000",
        "(212) 555-0123",
        "212-555-0123",
        "+1 415-555-0199",
        "+44 20 7946 0958",
        "010-62345678",
        "0755-23456789",
    ],
)
def test_phone_formats(phone):
    assert kinds(f"电话：{phone}。") == [("phone", phone)]
    assert kinds(f"call {phone} today") == [("phone", phone)]


def test_emails_in_chinese_text_do_not_swallow_characters():
    assert kinds("邮箱是zhang.wei@example.com。谢谢") == [("email", "zhang.wei@example.com")]
    # a phone number as an email local part is one email, not a phone
    assert kinds("邮箱13800138000@163.com") == [("email", "13800138000@163.com")]


def test_account_ids():
    assert kinds("client C-1042 and c-2077") == [("account_id", "C-1042"), ("account_id", "c-2077")]
    assert kinds("账号：6001234567890") == [("account_id", "6001234567890")]
    assert kinds("account number is 62170012345678") == [("account_id", "62170012345678")]
    assert kinds("ACC-00123456") == [("account_id", "ACC-00123456")]
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB83 WEST 1234 5698 7654 32")
    assert kinds("IBAN GB82 WEST 1234 5698 7654 32") == [("account_id", "GB82 WEST 1234 5698 7654 32")]
    # product codes and report ids are not accounts
    assert find_pii("HY-7 and report R-2024-0512") == []


def test_known_names_english_and_chinese():
    names = ["张伟", "Zhang Wei", "Alice Morgan"]
    assert kinds("客户张伟想买基金", names) == [("name", "张伟")]  # no word boundaries in Chinese
    assert kinds("ZHANG  wei and wei zhang", names) == [("name", "ZHANG  wei"), ("name", "wei zhang")]
    assert kinds("Zhang Weiming is someone else", names) == []  # ASCII names keep letter boundaries
    assert kinds("Alice Morgan's file", names) == [("name", "Alice Morgan")]
    assert kinds("张伟", ()) == []  # names are only detected when known


def test_fullwidth_digits_keep_original_spans():
    text = "手机１３８００１３８０００，谢谢"
    (m,) = find_pii(text)
    assert m.kind == "phone" and text[m.start : m.end] == m.text == "１３８００１３８０００"
    assert canonical_value("phone", m.text) == "13800138000" == canonical_value("phone", "+86 138-0013-8000")


def test_digits_spelled_one_by_one_are_a_number():
    for text, secret in (
        ("下午打给王先生，电话幺三八零零幺三八零零零。", "幺三八零零幺三八零零零"),
        (
            "text him at one three nine, two two three three, four four five five",
            "one three nine, two two three three, four four five five",
        ),
    ):
        (m,) = find_pii(text)
        assert (m.kind, m.text) == ("phone", secret)
        assert canonical_value("phone", m.text) == re.sub(r"\D", "", canonical_value("phone", m.text))
    assert canonical_value("phone", "幺三八零零幺三八零零零") == "13800138000"
    # numerals in ordinary words and dates are not numbers: fewer than seven in a row
    assert find_pii("一二月份净值上涨三成，二〇二六年一月起费率下调") == []
    assert find_pii("someone said nine or ten things") == []


@pytest.mark.parametrize("text,secrets", CORPUS)
def test_corpus_every_secret_is_covered(text, secrets):
    matches = find_pii(text, KNOWN_NAMES)
    for secret in secrets:
        start = text.index(secret)
        assert any(m.start <= start and start + len(secret) <= m.end for m in matches), (secret, matches)
    spans = [(m.start, m.end) for m in matches]
    assert spans == sorted(spans) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # no overlaps


@pytest.mark.parametrize("text", CLEAN_TEXTS)
def test_no_false_positives_on_financial_figures(text):
    assert find_pii(text, KNOWN_NAMES) == []


def test_bad_input():
    assert find_pii("") == []
    with pytest.raises(InputError, match="expects text"):
        find_pii(None)  # type: ignore[arg-type]
    big = "Zhang Wei 13800138000 " * 5000
    assert len(find_pii(big, ["Zhang Wei"])) == 10000
    assert isinstance(find_pii("C-1042")[0], PiiMatch)


def test_known_client_names_from_real_duckdb(tmp_path):
    db = tmp_path / "domain.duckdb"
    assert known_client_names(db) == ()  # no database yet: nothing to protect
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE clients (client_id VARCHAR, name VARCHAR, name_zh VARCHAR, age INTEGER)")
    con.execute(
        "INSERT INTO clients VALUES ('C-1042', 'Zhang Wei', '张伟', 40), ('C-2077', 'O''Brien Kate', NULL, 33)"
    )
    con.close()
    names = known_client_names(db)
    assert set(names) == {"Zhang Wei", "张伟", "O'Brien Kate"}
    assert kinds("张伟 and O'Brien Kate", names) == [("name", "张伟"), ("name", "O'Brien Kate")]
    time.sleep(0.01)
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO clients VALUES ('C-3310', 'Li Na', '李娜', 51)")
    con.close()
    os.utime(db)  # make sure the modification time moves even on coarse clocks
    assert {"Li Na", "李娜"} <= set(known_client_names(db))  # refreshed when the database changed


def test_known_client_names_uses_fincopilot_db_by_default(tmp_path, monkeypatch):
    db = tmp_path / "fc.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE clients (id VARCHAR, client_name VARCHAR)")
    con.execute("INSERT INTO clients VALUES (?, ?)", ["C-1", "Robert Chen"])
    con.close()
    monkeypatch.setenv("FINCOPILOT_DB", str(db))
    assert "Robert Chen" in known_client_names()
