"""Personal-data detection for English and Chinese text.

`find_pii(text, known_names)` returns every span that is personal data:

- `id_card`: Chinese resident ID numbers (18 characters, valid birth date, ISO 7064 MOD 11-2 check digit);
- `bank_card`: 13-19 digit card numbers (contiguous or in groups of 4) that pass the Luhn check;
- `phone`: Chinese mobiles (`1[3-9]` + 9 digits, optional `+86`/`0086`), Chinese landlines (`010-62345678`),
  US numbers with separators and international numbers written with a leading `+`;
- `email`;
- `account_id`: client ids (`C-1042`), `ACC-…` account numbers, IBANs (mod-97 checked) and digit runs that
  follow an account keyword (`account no.`, `账号`, `账户`);
- `name`: names of known clients (pass them, or use `known_client_names()` to read the domain database).

Chinese has no word boundaries, so patterns never rely on `\\b`: numbers are delimited by "no digit
before/after", ASCII names by "no ASCII letter before/after", and Chinese names match as substrings.
Full-width digits and letters (`１３８…`) are detected too (they are mapped 1:1 to ASCII for matching,
so spans still index the original text), and so are digits spelled out one by one, seven or more in a row
("one three eight, zero zero one three …", 幺三八零零幺三…).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import date
from functools import lru_cache
from itertools import permutations
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from fincopilot.errors import InputError
from fincopilot.log import get_logger
from fincopilot.paths import db_path

PiiKind = Literal["id_card", "bank_card", "phone", "email", "account_id", "name"]
KINDS: tuple[PiiKind, ...] = ("id_card", "bank_card", "phone", "email", "account_id", "name")

# Which detector wins when two spans overlap (lower first): an email like 13800138000@163.com is one
# email, not a phone; an 18-digit ID that happens to pass Luhn is an ID card.
_PRIORITY = {"email": 0, "id_card": 1, "bank_card": 2, "account_id": 3, "phone": 4, "name": 5}


class PiiMatch(BaseModel):
    """One span of personal data in a text."""

    kind: PiiKind
    start: int
    end: int
    text: str

    @property
    def key(self) -> str:
        """The value in canonical form (digits only, lower-case email, folded name): equal values, equal keys."""
        return canonical_value(self.kind, self.text)


def canonical_value(kind: str, text: str) -> str:
    """Canonical form of a PII value, so `138 0013 8000` and `13800138000` are the same person."""
    t = _normalize(text)
    if kind in ("id_card", "bank_card"):
        return re.sub(r"[^0-9Xx]", "", t).upper()
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", t)
        # +86 / 0086 prefixes do not make a different number
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix) and digits[len(prefix)] == "1":
                return digits[len(prefix) :]
        return digits
    if kind == "email":
        return t.strip().lower()
    if kind == "account_id":
        return re.sub(r"[\s-]", "", t).upper()
    if _CJK.search(t):
        return re.sub(_NAME_SEP_CHARS, "", t)
    # separator-free (`zhang  min`, `Zhang\tMin`), but in the written order so restoring gives back each surface
    return " ".join(_LETTERS.findall(t)).casefold()


# --- normalization ----------------------------------------------------------------------------
# Detection runs on a normalized *view* of the text, mapped back to the original offsets: full-width and other
# compatibility forms folded (NFKC, one character each), digits of any script made ASCII, accents and a few
# Cyrillic/Greek look-alikes folded to Latin letters, every dash made "-", every Unicode space " ", and invisible
# format characters (zero-width spaces and joiners, BOM, soft hyphen, bidi controls) dropped.
_LOOKALIKES = dict(
    zip("АВЕЗІЈКМНОРСТУХаеіјоруѕсхԁһΑΒΕΖΗΙΚΜΝΟΡΤΥΧΖο", "ABE3IJKMHOPCTYXaeijopyscxdhABEZHIKMNOPTYXZo")
)
_LOOKALIKES.update({"\u2212": "-", "\u2043": "-", "\u2796": "-"})  # minus signs and a hyphen bullet


@lru_cache(maxsize=16384)
def _fold_char(ch: str) -> str:
    """The normalized form of one non-ASCII character: '' (invisible), or exactly one character."""
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    if category in ("Zs", "Zl", "Zp"):
        return " "
    if category == "Pd":
        return "-"
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    if ch in _LOOKALIKES:
        return _LOOKALIKES[ch]
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch
    base = unicodedata.normalize("NFKD", folded)
    if base[:1].isascii() and base[:1].isalpha() and all(unicodedata.combining(c) for c in base[1:]):
        return base[0]  # é -> e, ā -> a
    return folded


# Digits spelled out one by one ("one three eight ...", 幺三八…): a run of seven or more reads as a number.
_SPELLED = {
    **{w: str(d) for d, w in enumerate("zero one two three four five six seven eight nine".split())},
    **{c: str(d) for d, c in enumerate("零一二三四五六七八九")},
    "〇": "0",
    "幺": "1",
}
_SPELLED_TOKEN = re.compile("|".join(sorted(_SPELLED, key=len, reverse=True)), re.IGNORECASE)
_SPELLED_RUN = re.compile(
    rf"(?<![A-Za-z])(?:{_SPELLED_TOKEN.pattern})(?:[\s,，、.\-]*(?:{_SPELLED_TOKEN.pattern})){{6,}}(?![A-Za-z])",
    re.IGNORECASE,
)


class _View:
    """A normalized view of a text and, for each of its characters, the span of the original it came from.

    Full-width and other look-alike characters fold to ASCII; digits spelled one by one become digits."""

    __slots__ = ("ends", "origin", "text")

    def __init__(self, original: str):
        runs = list(_SPELLED_RUN.finditer(original))
        if original.isascii() and not runs:
            self.text, self.origin, self.ends = original, None, None
            return
        chars: list[str] = []
        origin: list[int] = []
        ends: list[int] = []
        i = 0
        while i < len(original):
            if runs and runs[0].start() == i:
                for token in _SPELLED_TOKEN.finditer(original, i, runs[0].end()):
                    chars.append(_SPELLED[token.group(0).lower()])
                    origin.append(token.start())
                    ends.append(token.end())
                i = runs.pop(0).end()
                continue
            ch = original[i]
            folded = ch if ch < "\x80" else _fold_char(ch)
            if folded:
                chars.append(folded)
                origin.append(i)
                ends.append(i + 1)
            i += 1
        self.text, self.origin, self.ends = "".join(chars), origin, ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the view's [start, end)."""
        if self.origin is None or self.ends is None:  # an ASCII text read as it is
            return start, end
        return self.origin[start], self.ends[end - 1]


def _normalize(text: str) -> str:
    return _View(text).text


# --- validators ---------------------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_checksum_ok(number: str) -> bool:
    """ISO 7064 MOD 11-2 check of an 18-character Chinese resident ID (separators ignored)."""
    n = re.sub(r"[\s-]", "", number).upper()
    if len(n) != 18 or not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        return False
    total = sum(int(d) * w for d, w in zip(n[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == n[17]


def _valid_birth_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check used by payment card numbers (separators ignored)."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces ignored)."""
    s = re.sub(r"\s", "", iban).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", s):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --- patterns (run on the normalized text) --------------------------------------------------------
_NO_DIGIT_BEFORE = r"(?<![0-9])(?<![0-9][.,])"
_NO_DIGIT_AFTER = r"(?![0-9]|[.,][0-9])"

_ID_CARD = re.compile(
    _NO_DIGIT_BEFORE
    + r"[1-9][0-9]{5}[ -]?(?P<birth>(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
    r"[ -]?[0-9]{3}[0-9Xx]" + _NO_DIGIT_AFTER
)
_BANK_CARD = re.compile(
    _NO_DIGIT_BEFORE + r"(?:[0-9]{13,19}"  # contiguous
    r"|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?"  # 4-4-4-4(-3)
    r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})"  # Amex/Diners 4-6-5
     + _NO_DIGIT_AFTER
)
_PHONE_PATTERNS = (
    # CN mobile: 13800138000, 138 0013 8000, 138-0013-8000, +86 138..., 0086-138...
    re.compile(_NO_DIGIT_BEFORE + r"(?:(?:\+|00)?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _NO_DIGIT_AFTER),
    # CN landline with area code: 010-62345678, (021) 6234 5678, 0755-2345678
    re.compile(
        _NO_DIGIT_BEFORE
        + r"(?:\(0[1-9][0-9]{1,2}\)[ -]?|0[1-9][0-9]{1,2}-)[2-9][0-9]{2,3}[ -]?[0-9]{4}"
        + _NO_DIGIT_AFTER
    ),
    # US/NANP with separators: (212) 555-0123, 212-555-0123, 212.555.0123, +1 212 555 0123
    re.compile(
        _NO_DIGIT_BEFORE
        + r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
        + _NO_DIGIT_AFTER
    ),
    # International with a leading +: +44 20 7946 0958, +49-30-1234567, +852 2345 6789
    re.compile(r"(?<![0-9A-Za-z+])\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,5}\)?){2,5}" + _NO_DIGIT_AFTER),
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9-])"
)
_CLIENT_ID = re.compile(r"(?<![A-Za-z0-9-])[Cc]-[0-9]{3,10}(?![0-9A-Za-z])")
_ACCOUNT_CODE = re.compile(r"(?<![A-Za-z0-9-])(?:ACCT|ACC)[- ]?[0-9]{6,20}(?![0-9A-Za-z])", re.IGNORECASE)
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
)
_ACCOUNT_KEYWORD = re.compile(
    r"(?:account|acct|a/c|iban|账号|帐号|账户|帐户|户号|卡号)"
    r"(?:\s*(?:number|no\.?|num|#|id|号码|号)?)?\s*(?:[:：#=]|is|为|是)?\s*"
    r"(?P<num>[A-Za-z]{0,4}[0-9][0-9 -]{4,30}[0-9])(?![0-9])",
    re.IGNORECASE,
)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


# Separators a disguise puts between the digits of one number (`139.8765.4321`, `110101 1990 0307 1233`).
_DIGIT_SEP = r"[ \t.\-_/·]{1,3}"
_DIGIT_RUN = re.compile(
    rf"(?<![0-9])[0-9]+(?:{_DIGIT_SEP}[0-9]+)+(?:(?:{_DIGIT_SEP})?[Xx](?![A-Za-z]))?(?![0-9])"
    rf"|(?<![0-9])[0-9]{{17}}{_DIGIT_SEP}[Xx](?![A-Za-z])"
)
_DIGIT_GROUP = re.compile(r"[0-9]+|[Xx]")
# Group lengths of card numbers written with separators, when the groups are part of a longer digit run.
_CARD_SHAPES = frozenset({(4, 6, 4), (4, 6, 5), (5, 5, 6), (6, 13), (6, 12)})
# Issuer prefixes of card networks (Visa, Mastercard, Amex, Discover, JCB, UnionPay): a Luhn-valid number with one
# of these is a card however its digits are grouped, even inside a longer run of digit groups.
_CARD_IIN = re.compile(r"4|5[1-5]|2(?:2[2-9][1-9]|[3-6][0-9]{2}|7[01][0-9]|720)|3[47]|35|6(?:011|2|4[4-9]|5)")
_MOBILE = re.compile(r"(?:86)?1[3-9][0-9]{9}")


def _grouped_number_kind(digits: str, shape: tuple[int, ...], whole_run: bool) -> PiiKind | None:
    """Which number `digits` (the digit groups of one disguised number, joined) is, if any."""
    if len(digits) == 18 and _valid_birth_date(digits[6:14]) and id_card_checksum_ok(digits):
        return "id_card"
    if not digits.isdigit():
        return None
    card_shaped = (
        whole_run
        or shape in _CARD_SHAPES
        or (set(shape[:-1]) == {4} and 1 <= shape[-1] <= 4)
        or (len(digits) >= 15 and _CARD_IIN.match(digits) is not None)
    )
    if 13 <= len(digits) <= 19 and card_shaped and luhn_ok(digits):
        return "bank_card"
    if len(digits) in (11, 13) and _MOBILE.fullmatch(digits):
        return "phone"
    return None


def _grouped_number_spans(norm: str) -> Iterator[tuple[PiiKind, int, int]]:
    """ID, card and mobile numbers whose digits are split into groups by separators, in any grouping:
    every run of consecutive groups holding 11 to 19 digits is checked (check digits keep this precise)."""
    for run in _DIGIT_RUN.finditer(norm):
        groups = [(m.start() + run.start(), m.group(0)) for m in _DIGIT_GROUP.finditer(run.group(0))]
        for i in range(len(groups)):
            digits = ""
            for j in range(i, len(groups)):
                if digits.endswith("X"):
                    break
                digits += groups[j][1].upper()
                if len(digits) > 19:
                    break
                if j == i or len(digits) < 11:
                    continue
                shape = tuple(len(g) for _, g in groups[i : j + 1])
                kind = _grouped_number_kind(digits, shape, i == 0 and j == len(groups) - 1)
                if kind:
                    yield kind, groups[i][0], groups[j][0] + len(groups[j][1])


# --- names ------------------------------------------------------------------------------------------------
_LETTERS = re.compile(r"[A-Za-z]+")
# What may stand between the parts of one name: `Min, Zhang`, `Xu-Juan`, `Zhang\tMin`, `张 敏`, `张·敏`.
_NAME_SEP_CHARS = r"[\s,.\-_·•・'’/]"
_NAME_SEP = re.compile(_NAME_SEP_CHARS + "{1,3}")
_CJK_SEP = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff])[\s.\-_·•・/]{1,3}(?=[\u3400-\u9fff\uf900-\ufaff])")
_MAX_NAME_WORDS = 6


@lru_cache(maxsize=64)
def _name_index(names: tuple[str, ...]) -> tuple[frozenset[str], int, tuple[str, ...]]:
    """Known names prepared for matching: ASCII names as their folded letters with the parts in every order
    (`zhangmin`, `minzhang`), with the longest key; CJK names without separators, longest first.

    Word-window lookups in a set cost the same for 10 names or 10,000 (a regex alternation of all names
    was about 10x slower on the 600 names of the demo database)."""
    ascii_keys: set[str] = set()
    cjk: set[str] = set()
    for raw in names:
        name = _normalize(raw)
        if _CJK.search(name):
            compact = re.sub(_NAME_SEP_CHARS, "", name)
            if len(compact) >= 2:
                cjk.add(compact)
            continue
        parts = [w.casefold() for w in _LETTERS.findall(name)]
        if not parts or sum(map(len, parts)) < 2:
            continue
        orders = permutations(parts) if len(parts) <= 4 else [parts]
        ascii_keys.update("".join(order) for order in orders)
    longest = max(map(len, ascii_keys), default=0)
    return frozenset(ascii_keys), longest, tuple(sorted(cjk, key=len, reverse=True))


def _ascii_name_spans(norm: str, keys: frozenset[str], longest: int) -> list[tuple[int, int]]:
    """Windows of consecutive words, separated only by name separators, whose joined letters are a known name
    (the longest window wins; `Robert Chen's` matches `Robert Chen`)."""
    spans: list[tuple[int, int]] = []
    words = list(_LETTERS.finditer(norm))
    i = 0
    while i < len(words):
        joined, best = "", -1
        for j in range(i, min(i + _MAX_NAME_WORDS, len(words))):
            if j > i and not _NAME_SEP.fullmatch(norm, words[j - 1].end(), words[j].start()):
                break
            joined += words[j].group(0).casefold()
            if len(joined) > longest:
                break
            if joined in keys:
                best = j
        if best >= 0:
            spans.append((words[i].start(), words[best].end()))
            i = best + 1
        else:
            i += 1
    return spans


def _cjk_name_spans(norm: str, cjk: tuple[str, ...]) -> list[tuple[int, int]]:
    """CJK names as substrings of the text with separators between CJK characters removed (`张 敏`, `张·敏`)."""
    pieces, starts, pos = [], [], 0  # compact text, and where each compact piece starts in `norm`
    for sep in _CJK_SEP.finditer(norm):
        pieces.append(norm[pos : sep.start()])
        starts.append(pos)
        pos = sep.end()
    pieces.append(norm[pos:])
    starts.append(pos)
    offsets, at = [], 0
    for piece in pieces:
        offsets.append(at)
        at += len(piece)
    compact = "".join(pieces)

    def to_norm(k: int) -> int:
        idx = bisect_right(offsets, k) - 1
        return starts[idx] + (k - offsets[idx])

    spans = []
    for name in cjk:
        found = compact.find(name)
        while found != -1:
            spans.append((to_norm(found), to_norm(found + len(name) - 1) + 1))
            found = compact.find(name, found + len(name))
    return spans


def _name_spans(norm: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    keys, longest, cjk = _name_index(names)
    spans = _ascii_name_spans(norm, keys, longest) if keys else []
    if cjk:
        spans += _cjk_name_spans(norm, cjk)
    return spans


def _candidates(text: str, names: tuple[str, ...]) -> list[PiiMatch]:
    view = _View(text)
    norm = view.text
    out: list[PiiMatch] = []

    def add(kind: PiiKind, start: int, end: int) -> None:
        start, end = view.span(start, end)
        out.append(PiiMatch(kind=kind, start=start, end=end, text=text[start:end]))

    for m in _EMAIL.finditer(norm):
        add("email", m.start(), m.end())
    for m in _ID_CARD.finditer(norm):
        if _valid_birth_date(m.group("birth")) and id_card_checksum_ok(m.group(0)):
            add("id_card", m.start(), m.end())
    for m in _BANK_CARD.finditer(norm):
        digits = re.sub(r"[^0-9]", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            add("bank_card", m.start(), m.end())
    for kind, start, end in _grouped_number_spans(norm):
        add(kind, start, end)
    for m in _CLIENT_ID.finditer(norm):
        add("account_id", m.start(), m.end())
    for m in _ACCOUNT_CODE.finditer(norm):
        add("account_id", m.start(), m.end())
    for m in _IBAN.finditer(norm):
        if iban_ok(m.group(0)):
            add("account_id", m.start(), m.end())
    for m in _ACCOUNT_KEYWORD.finditer(norm):
        num = m.group("num").rstrip(" -")
        if sum(c.isdigit() for c in num) >= 6:
            add("account_id", m.start("num"), m.start("num") + len(num))
    for pattern in _PHONE_PATTERNS:
        for m in pattern.finditer(norm):
            digits = sum(c.isdigit() for c in m.group(0))
            if 7 <= digits <= 15:
                add("phone", m.start(), m.end())
    for start, end in _name_spans(norm, names):
        add("name", start, end)
    return out


@lru_cache(maxsize=64)
def _usable_names(names: tuple[Any, ...]) -> tuple[str, ...]:
    """The non-blank names, sorted and deduplicated (cached: a request passes the same tuple on every call)."""
    return tuple(sorted({n for n in names if isinstance(n, str) and n.strip()}))


def find_pii(text: str, known_names: Iterable[str] = ()) -> list[PiiMatch]:
    """Every personal-data span in `text`, non-overlapping, in text order.

    `known_names` are the client names to look for (e.g. `known_client_names()`); without them, names
    are not detected (there is no reliable way to spot an arbitrary person's name, least of all in Chinese).
    """
    if not isinstance(text, str):
        raise InputError(f"find_pii expects text (str), got {type(text).__name__}")
    if not text:
        return []
    names = _usable_names(known_names if isinstance(known_names, tuple) else tuple(known_names))
    chosen: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []
    # Higher-priority kinds first, then longer spans; skip anything overlapping a chosen span.
    for cand in sorted(
        _candidates(text, names), key=lambda c: (_PRIORITY[c.kind], -(c.end - c.start), c.start)
    ):
        if any(cand.start < e and s < cand.end for s, e in taken):
            continue
        chosen.append(cand)
        taken.append((cand.start, cand.end))
    return sorted(chosen, key=lambda c: c.start)


# --- known client names from the domain database -------------------------------------------------------
_names_lock = threading.Lock()
_names_cache: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {}
_extra_names: set[str] = set()


def add_known_names(names: Iterable[str]) -> None:
    """Register extra names to protect in this process (e.g. names held outside the domain database)."""
    with _names_lock:
        _extra_names.update(n.strip() for n in names if n and n.strip())


def known_client_names(db: Path | str | None = None) -> tuple[str, ...]:
    """Names of the known clients: every `*name*` text column of the domain DuckDB's `clients` table
    (cached; re-read when the file changes), plus names registered with `add_known_names`.

    A missing database or table means no names (nothing to protect yet); a database that cannot be
    opened right now (another process is writing it) keeps the last names read.
    """

    path = Path(db) if db is not None else db_path()
    with _names_lock:
        extra = tuple(_extra_names)
    try:
        st = path.stat()
    except OSError:
        return tuple(sorted(set(extra)))
    stamp = (st.st_mtime_ns, st.st_size)
    key = str(path.resolve())
    with _names_lock:
        cached = _names_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return tuple(sorted(set(cached[1]) | set(extra)))
    names = _read_names(path)
    if names is None:  # could not open now: keep what we had
        return tuple(sorted(set(cached[1] if cached else ()) | set(extra)))
    with _names_lock:
        _names_cache[key] = (stamp, names)
    return tuple(sorted(set(names) | set(extra)))


def _read_names(path: Path) -> tuple[str, ...] | None:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        get_logger(__name__).warning("client_names_unavailable", db=str(path), error=str(err))
        return None
    try:
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? AND lower(column_name) LIKE ? AND data_type = 'VARCHAR'",
                ["clients", "%name%"],
            ).fetchall()
        ]
        names: set[str] = set()
        for col in cols:
            # `col` comes from the catalog itself, quoted as an identifier; nothing user-supplied is spliced in.
            ident = '"' + col.replace('"', '""') + '"'
            for (value,) in con.execute(
                f"SELECT DISTINCT {ident} FROM clients WHERE {ident} IS NOT NULL"
            ).fetchall():
                if isinstance(value, str) and len(value.strip()) >= 2:
                    names.add(value.strip())
        return tuple(sorted(names))
    except duckdb.Error as err:
        get_logger(__name__).warning("client_names_unavailable", db=str(path), error=str(err))
        return None
    finally:
        con.close()
