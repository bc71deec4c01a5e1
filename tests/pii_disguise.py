"""A generated adversarial PII corpus: valid values of every kind, disguised the way a red team (or a careless
copy-paste) does it — separators between digits in any grouping, zero-width characters, full-width forms,
non-breaking spaces, names spaced, reversed with a comma, hyphenated or tab-separated — and embedded in English
and Chinese sentences. Deterministic for a seed; used by test_pii_adversarial.py and bench_safety.py.

`leaks(secret, kind, sent)` is the strict check: the secret's digits (or letters, or CJK characters) must not
appear in the sent text even after every separator, zero-width character and token is stripped out.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from functools import lru_cache

from fincopilot.safety.pii import _normalize
from tests.pii_corpus import make_card, make_id

SURNAMES = [
    ("Zhang", "张"),
    ("Wang", "王"),
    ("Li", "李"),
    ("Zhao", "赵"),
    ("Chen", "陈"),
    ("Liu", "刘"),
    ("Yang", "杨"),
    ("Huang", "黄"),
    ("Zhou", "周"),
    ("Wu", "吴"),
    ("Xu", "徐"),
    ("Sun", "孙"),
    ("Tang", "唐"),
    ("Gao", "高"),
    ("Lin", "林"),
    ("Guo", "郭"),
]
GIVEN = [
    ("Min", "敏"),
    ("Wei", "伟"),
    ("Fang", "芳"),
    ("Na", "娜"),
    ("Xiuying", "秀英"),
    ("Jing", "静"),
    ("Lei", "磊"),
    ("Yang", "洋"),
    ("Xujuan", "旭娟"),
    ("Jianguo", "建国"),
    ("Haoran", "浩然"),
    ("Yifan", "一凡"),
    ("Zihan", "子涵"),
    ("Qiang", "强"),
    ("Lihua", "丽华"),
    ("Tao", "涛"),
]
# syllable splits of two-syllable given names, for `Xu-Juan` style disguises
SYLLABLES = {
    "Xiuying": ("Xiu", "Ying"),
    "Xujuan": ("Xu", "Juan"),
    "Jianguo": ("Jian", "Guo"),
    "Haoran": ("Hao", "Ran"),
    "Yifan": ("Yi", "Fan"),
    "Zihan": ("Zi", "Han"),
    "Lihua": ("Li", "Hua"),
}

ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
DIGIT_SEPS = [
    " ",
    "-",
    ".",
    "\u00a0",
    "\t",
    "·",
    "_",
    "/",
    " - ",
    "\u3000",
    "\u2009",
    "\u2013",
    "\u200b",
    ". ",
]
NAME_SEPS = [" ", "  ", "\t", "\u00a0", "-", ", ", "_", ".", "\u3000", " \u200b"]
CJK_SEPS = [" ", "\t", "·", "\u00a0", "\u3000", "\u200b", "-", "・", " \u200d "]
EN_TEMPLATES = [
    "Client {v} asked about HY-7.",
    "Please check {v} before Friday.",
    "Ref: {v}; do not share.",
    "The record shows {v}, updated 2024-05-12.",
    "{v}",
]
ZH_TEMPLATES = ["客户{v}咨询HY-7债券基金。", "请核实{v}，勿外传。", "备注：{v}", "{v}的资料已更新。"]

KINDS = ("id_card", "bank_card", "phone", "email", "account_id", "name")


@dataclass(frozen=True)
class Variant:
    kind: str
    secret: str  # the canonical raw value (what must not leave)
    text: str  # the disguised value embedded in a sentence


def known_names() -> list[str]:
    """Every generated client name, in English and Chinese (register them as the known names)."""
    out = []
    for sur_en, sur_zh in SURNAMES:
        for giv_en, giv_zh in GIVEN:
            out += [f"{sur_en} {giv_en}", sur_zh + giv_zh]
    return out


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _sprinkle(rng: random.Random, s: str, k: int) -> str:
    """`s` with `k` zero-width characters inserted at random positions."""
    chars = list(s)
    for _ in range(k):
        chars.insert(rng.randint(1, max(1, len(chars) - 1)), rng.choice(ZW))
    return "".join(chars)


def _split(rng: random.Random, digits: str) -> list[str]:
    shapes = {
        18: [(6, 8, 4), (6, 4, 4, 4), (3, 3, 4, 4, 4), (9, 9), (6, 6, 6), (2, 4, 4, 4, 4)],
        16: [(4, 4, 4, 4), (5, 5, 6), (8, 8), (4, 12), (2, 2, 4, 4, 4)],
        19: [(4, 4, 4, 4, 3), (6, 13), (5, 5, 5, 4), (3, 4, 4, 4, 4)],
        11: [(3, 4, 4), (3, 3, 5), (3, 8), (1,) * 11, (4, 4, 3)],
        13: [(2, 3, 4, 4), (2, 11), (5, 4, 4), (13,)],
    }
    options = shapes.get(len(digits), [])
    if options and rng.random() < 0.7:
        shape = rng.choice(options)
    else:  # any random grouping
        cuts = sorted(rng.sample(range(1, len(digits)), rng.randint(1, min(5, len(digits) - 1))))
        shape = tuple(b - a for a, b in zip([0, *cuts], [*cuts, len(digits)]))
    out, pos = [], 0
    for n in shape:
        out.append(digits[pos : pos + n])
        pos += n
    return out


def disguise_number(rng: random.Random, digits: str) -> str:
    """`digits` grouped and separated at random, maybe with zero-width characters or full-width digits."""
    groups = _split(rng, digits)
    sep = rng.choice(DIGIT_SEPS)
    text = (
        sep.join(groups)
        if rng.random() < 0.8
        else "".join(g + rng.choice(DIGIT_SEPS) for g in groups[:-1]) + groups[-1]
    )
    roll = rng.random()
    if roll < 0.25:
        text = _sprinkle(rng, text, rng.randint(1, 4))
    elif roll < 0.4:
        text = _fullwidth(text)
    return text


def _random_id(rng: random.Random) -> str:
    area = rng.choice(["110101", "310115", "440304", "510104", "330106", "420102"])
    born = f"{rng.randint(1940, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return make_id(area + born + f"{rng.randint(0, 999):03d}")


def _random_card(rng: random.Random) -> str:
    prefix = rng.choice(["6222", "6217", "4111", "5105", "6228"])
    length = rng.choice([16, 19])
    return make_card(prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1)))


def _random_mobile(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice(string.digits) for _ in range(9))


def _disguise_name(rng: random.Random, sur: tuple[str, str], giv: tuple[str, str]) -> str:
    if rng.random() < 0.35:  # Chinese characters
        sep = rng.choice(CJK_SEPS)
        return sur[1] + sep + sep.join(giv[1]) if rng.random() < 0.5 else sur[1] + sep + giv[1]
    given = giv[0]
    if given in SYLLABLES and rng.random() < 0.5:
        given = rng.choice(["-", " ", "", "\u200b"]).join(SYLLABLES[given])
    style = rng.random()
    if style < 0.3:
        text = f"{given}, {sur[0]}"
    elif style < 0.5:
        text = given + rng.choice(NAME_SEPS) + sur[0]
    else:
        text = sur[0] + rng.choice(NAME_SEPS) + given
    text = rng.choice([str.upper, str.lower, str.title, lambda s: s])(text)
    roll = rng.random()
    if roll < 0.2:
        text = _sprinkle(rng, text, rng.randint(1, 3))
    elif roll < 0.3:
        text = _fullwidth(text)
    return text


def _one(rng: random.Random, kind: str) -> tuple[str, str]:
    """(secret, disguised surface) for one value of `kind`."""
    if kind == "id_card":
        value = _random_id(rng)
        return value, disguise_number(rng, value)
    if kind == "bank_card":
        value = _random_card(rng)
        return value, disguise_number(rng, value)
    if kind == "phone":
        value = _random_mobile(rng)
        prefix = rng.choice(["", "", "86", "+86 ", "0086-", "+86"])
        return value, prefix + disguise_number(rng, value) if prefix else disguise_number(
            rng, ("86" if rng.random() < 0.15 else "") + value
        )
    if kind == "email":
        user = rng.choice(["zhang.min", "wfang88", "li_na", "robert.chen+fin", "tang.na1002"])
        value = f"{user}@{rng.choice(['example.com', '163.com', 'bank.example.cn'])}"
        return value, rng.choice([_fullwidth, lambda s: _sprinkle(rng, s, 2), lambda s: s])(value)
    if kind == "account_id":
        value = f"C-{rng.randint(1000, 99999)}"
        surface = value.replace("-", rng.choice(["-", "\u2010", "\u2011", "\u2212", "\uff0d", "\u2013"]))
        return value, rng.choice([_fullwidth, lambda s: _sprinkle(rng, s, 1), lambda s: s])(surface)
    sur, giv = rng.choice(SURNAMES), rng.choice(GIVEN)
    return f"{sur[0]} {giv[0]}|{sur[1]}{giv[1]}", _disguise_name(rng, sur, giv)


def generate(n_per_kind: int, seed: int = 14) -> list[Variant]:
    """`n_per_kind` disguised variants of every kind, each embedded in an English or Chinese sentence."""
    rng = random.Random(seed)
    out = []
    for kind in KINDS:
        for _ in range(n_per_kind):
            secret, surface = _one(rng, kind)
            template = rng.choice(ZH_TEMPLATES if rng.random() < 0.4 else EN_TEMPLATES)
            out.append(Variant(kind, secret, template.format(v=surface)))
    return out


_TOKEN = re.compile(r"<[A-Z_]+_\d+>")


def leaks(secret: str, kind: str, sent: str) -> bool:
    """Does `sent` still carry `secret`, after normalizing and stripping every separator and token?"""
    flat, letters, cjk, digits = _views(sent)
    if kind == "name":
        en, zh = secret.split("|")
        sur, giv = (w.casefold() for w in en.split())
        return sur + giv in letters or giv + sur in letters or zh in cjk
    if kind == "email":
        return secret.casefold() in flat.casefold().replace(" ", "")
    if kind == "account_id":
        return re.search(r"[Cc][^A-Za-z0-9|]*" + secret.split("-")[1] + r"(?![0-9])", flat) is not None
    return secret.upper()[-11:] in digits


@lru_cache(maxsize=8)
def _views(sent: str) -> tuple[str, str, str, str]:
    """`sent` normalized with tokens cut out, then only its letters, CJK characters, digits (and X)."""
    flat = _TOKEN.sub("|", _normalize(sent))
    return (
        flat,
        re.sub(r"[^a-z|]", "", flat.casefold()),
        re.sub(r"[^\u3400-\u9fff|]", "", flat),
        re.sub(r"[^0-9X|]", "", flat.upper()),
    )
