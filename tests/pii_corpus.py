"""Shared test data for the safety tests: valid ID-card and card numbers built with their check digits."""

from __future__ import annotations

from fincopilot.safety.pii import luhn_ok

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(first17: str) -> str:
    """An 18-character Chinese resident ID with a correct MOD 11-2 check character."""
    total = sum(int(d) * w for d, w in zip(first17, _W))
    return first17 + "10X98765432"[total % 11]


def make_card(prefix: str) -> str:
    """A card number with a correct Luhn check digit appended to `prefix`."""
    return next(prefix + c for c in "0123456789" if luhn_ok(prefix + c))


ID_A = make_id("11010519491231002")  # ends in X
ID_B = make_id("44030419900307123")
ID_C = make_id("31011519851120456")
CARD_A = make_card("622202123456789012")  # 19 digits, UnionPay-like
CARD_B = make_card("411111111111111")  # 16 digits, Visa-like
CARD_C = make_card("37828224631000")  # 15 digits, Amex-like

KNOWN_NAMES = ["张伟", "王芳", "Zhang Wei", "Alice Morgan", "李娜", "Robert Chen"]

# (text, the raw values that must never leave for an external backend)
CORPUS: list[tuple[str, list[str]]] = [
    (f"Client C-1042 (Zhang Wei, ID {ID_A}) wants the HY-7 bond fund.", ["C-1042", "Zhang Wei", ID_A]),
    (f"客户张伟，身份证号{ID_B}，手机13800138000，想买HY-7债券基金。", ["张伟", ID_B, "13800138000"]),
    (
        "Please call Alice Morgan at (212) 555-0123 or email alice.morgan@example.com.",
        ["Alice Morgan", "(212) 555-0123", "alice.morgan@example.com"],
    ),
    (f"王芳的银行卡号是{CARD_A}，邮箱wangfang@163.com。", ["王芳", CARD_A, "wangfang@163.com"]),
    (
        f"Card {CARD_B[:4]} {CARD_B[4:8]} {CARD_B[8:12]} {CARD_B[12:]} was used by client C-2077.",
        [f"{CARD_B[:4]} {CARD_B[4:8]} {CARD_B[8:12]} {CARD_B[12:]}", "C-2077"],
    ),
    (
        f"李娜 (C-3310) 的联系电话：+86 139-1234-5678，身份证{ID_C}。",
        ["李娜", "C-3310", "+86 139-1234-5678", ID_C],
    ),
    (
        "Robert Chen's account no. 6001234567890 holds CNY 1,200,000 in HY-7.",
        ["Robert Chen", "6001234567890"],
    ),
    (
        f"Amex {CARD_C} belongs to robert.chen@bank.example.org, phone +44 20 7946 0958.",
        [CARD_C, "robert.chen@bank.example.org", "+44 20 7946 0958"],
    ),
    (
        "请为客户张伟（C-1042）评估信用，手机号１３８００１３８０００。",
        ["张伟", "C-1042", "１３８００１３８０００"],
    ),
    (
        "Summarize the latest HY-7 report for Zhang Wei; his number is 13912345678.",
        ["Zhang Wei", "13912345678"],
    ),
    (
        f"ID {ID_A} and ID {ID_B} belong to two different clients, C-1042 and C-2077.",
        [ID_A, ID_B, "C-1042", "C-2077"],
    ),
    (
        "Alice Morgan wants a recommendation; reach her at alice.m+fin@mail.example.co.uk.",
        ["Alice Morgan", "alice.m+fin@mail.example.co.uk"],
    ),
    (f"王芳账户：ACC-00123456，银行卡{CARD_B}。", ["王芳", "ACC-00123456", CARD_B]),
    ("wei zhang asked whether HY-7 yields 5.2%; call him at 138 0013 8000.", ["wei zhang", "138 0013 8000"]),
    (f"李娜的邮箱是li.na@example.cn，证件号码{ID_C}，请勿外传。", ["李娜", "li.na@example.cn", ID_C]),
    (
        "Robert Chen (C-5501) phoned from +1 415-555-0199 about the IBAN GB82 WEST 1234 5698 7654 32.",
        ["Robert Chen", "C-5501", "+1 415-555-0199", "GB82 WEST 1234 5698 7654 32"],
    ),
    (
        f"客户王芳（C-2077）的卡号{CARD_A[:4]}-{CARD_A[4:8]}-{CARD_A[8:12]}-{CARD_A[12:16]}-{CARD_A[16:]}已冻结。",
        ["王芳", "C-2077", f"{CARD_A[:4]}-{CARD_A[4:8]}-{CARD_A[8:12]}-{CARD_A[12:16]}-{CARD_A[16:]}"],
    ),
    (
        "Zhang Wei and Alice Morgan share the email team@fin.example.com and phone 010-62345678.",
        ["Zhang Wei", "Alice Morgan", "team@fin.example.com", "010-62345678"],
    ),
    (
        f"张伟的身份证{ID_A}与王芳的身份证{ID_B}都已核验，联系电话0755-23456789。",
        ["张伟", "王芳", ID_A, ID_B, "0755-23456789"],
    ),
    (
        "Compliance note: do not share C-1042 or zhang.wei@example.com outside the bank.",
        ["C-1042", "zhang.wei@example.com"],
    ),
    (
        f"李娜 wants to move CNY 500,000 from card {CARD_B} to account number 62170012345678.",
        ["李娜", CARD_B, "62170012345678"],
    ),
    (
        "Robert Chen 的手机是 +8613700001111，邮箱 rchen@example.com。",
        ["Robert Chen", "+8613700001111", "rchen@example.com"],
    ),
]

# Financial text with numbers that are NOT personal data.
CLEAN_TEXTS = [
    "HY-7 returned 5.2% in 2024, with a duration of 3.4 years and 1,234,567,890 yuan under management.",
    "报告日期2024-05-12，HY-7基金规模12.5亿元，收益率3.20%，违约率0.8%。",
    "The PD model v2.1 gives grade BB with score 612 (threshold 580); see report R-2024-0512.",
    "Spread widened by 35bp between 2023-12-31 and 2024-03-31; the fund holds 128 bonds.",
    "净值1.0345，较上月上涨0.56%，持仓集中度前十大占比42.1%。",
]
