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
so spans still index the original text).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from fincopilot.errors import InputError

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
    t = text.translate(_FULLWIDTH)
    if kind in ("id_card", "bank_card"):
        return re.sub(r"[^0-9Xx]", "", t).upper()
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", t)
        # +86 / 0086 prefixes do not make a different number
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix) and digits[len(prefix)] == "1":
                return digits[len(prefix):]
        return digits
    if kind == "email":
        return t.strip().lower()
    if kind == "account_id":
        return re.sub(r"[\s-]", "", t).upper()
    return " ".join(t.split()).casefold()


# --- normalization ----------------------------------------------------------------------------
# 1:1 character map (so offsets stay valid): full-width ASCII variants and the ideographic space.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def _normalize(text: str) -> str:
    return text.translate(_FULLWIDTH)


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
    r"[ -]?[0-9]{3}[0-9Xx]"
    + _NO_DIGIT_AFTER
)
_BANK_CARD = re.compile(
    _NO_DIGIT_BEFORE
    + r"(?:[0-9]{13,19}"                                  # contiguous
    r"|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?"  # 4-4-4-4(-3)
    r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})"                # Amex/Diners 4-6-5
    + _NO_DIGIT_AFTER
)
_PHONE_PATTERNS = (
    # CN mobile: 13800138000, 138 0013 8000, 138-0013-8000, +86 138..., 0086-138...
    re.compile(_NO_DIGIT_BEFORE + r"(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _NO_DIGIT_AFTER),
    # CN landline with area code: 010-62345678, (021) 6234 5678, 0755-2345678
    re.compile(_NO_DIGIT_BEFORE + r"(?:\(0[1-9][0-9]{1,2}\)[ -]?|0[1-9][0-9]{1,2}-)[2-9][0-9]{2,3}[ -]?[0-9]{4}"
               + _NO_DIGIT_AFTER),
    # US/NANP with separators: (212) 555-0123, 212-555-0123, 212.555.0123, +1 212 555 0123
    re.compile(_NO_DIGIT_BEFORE + r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
               + _NO_DIGIT_AFTER),
    # International with a leading +: +44 20 7946 0958, +49-30-1234567, +852 2345 6789
    re.compile(r"(?<![0-9A-Za-z+])\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,5}\)?){2,5}" + _NO_DIGIT_AFTER),
)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
                    r"(?![A-Za-z0-9-])")
_CLIENT_ID = re.compile(r"(?<![A-Za-z0-9-])[Cc]-[0-9]{3,10}(?![0-9A-Za-z])")
_ACCOUNT_CODE = re.compile(r"(?<![A-Za-z0-9-])(?:ACCT|ACC)[- ]?[0-9]{6,20}(?![0-9A-Za-z])", re.IGNORECASE)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_ACCOUNT_KEYWORD = re.compile(
    r"(?:account|acct|a/c|iban|账号|帐号|账户|帐户|户号|卡号)"
    r"(?:\s*(?:number|no\.?|num|#|id|号码|号)?)?\s*(?:[:：#=]|is|为|是)?\s*"
    r"(?P<num>[A-Za-z]{0,4}[0-9][0-9 -]{4,30}[0-9])(?![0-9])",
    re.IGNORECASE,
)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


_WORD = re.compile(r"[A-Za-z]+(?:['’.\-][A-Za-z]+)*")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


@lru_cache(maxsize=64)
def _name_index(names: tuple[str, ...]) -> tuple[frozenset[str], int, tuple[str, ...]]:
    """Known names prepared for matching: ASCII names as folded word sequences (both orders of a two-part
    name), with the longest sequence length; CJK names as plain strings, longest first.

    Word-window lookups in a set cost the same for 10 names or 10,000 (a regex alternation of all names
    was about 10x slower on the 600 names of the demo database)."""
    ascii_keys: set[str] = set()
    cjk: set[str] = set()
    longest = 1
    for raw in names:
        name = " ".join(_normalize(raw).split())
        if len(name) < 2:
            continue
        if _CJK.search(name):
            cjk.add(name.replace(" ", ""))
            continue
        words = [w.casefold() for w in _WORD.findall(name)]
        if not words:
            continue
        longest = max(longest, len(words))
        ascii_keys.add(" ".join(words))
        if len(words) == 2:
            ascii_keys.add(f"{words[1]} {words[0]}")
    return frozenset(ascii_keys), longest, tuple(sorted(cjk, key=len, reverse=True))


def _name_spans(norm: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    keys, longest, cjk = _name_index(names)
    spans: list[tuple[int, int]] = []
    if keys:
        words = list(_WORD.finditer(norm))
        for i in range(len(words)):
            for k in range(min(longest, len(words) - i), 0, -1):
                group = words[i:i + k]
                # the words of a name are separated by whitespace only
                if any(norm[a.end():b.start()].strip() for a, b in zip(group, group[1:])):
                    continue
                folded = [w.group(0).casefold() for w in group]
                end = group[-1].end()
                if " ".join(folded) not in keys:
                    stripped = _POSSESSIVE.sub("", folded[-1])
                    if stripped == folded[-1] or " ".join([*folded[:-1], stripped]) not in keys:
                        continue
                    end -= len(folded[-1]) - len(stripped)
                spans.append((group[0].start(), end))
                break
    for name in cjk:
        pos = norm.find(name)
        while pos != -1:
            spans.append((pos, pos + len(name)))
            pos = norm.find(name, pos + len(name))
    return spans


def _candidates(text: str, names: tuple[str, ...]) -> list[PiiMatch]:
    norm = _normalize(text)
    out: list[PiiMatch] = []

    def add(kind: PiiKind, start: int, end: int) -> None:
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


def find_pii(text: str, known_names: Iterable[str] = ()) -> list[PiiMatch]:
    """Every personal-data span in `text`, non-overlapping, in text order.

    `known_names` are the client names to look for (e.g. `known_client_names()`); without them, names
    are not detected (there is no reliable way to spot an arbitrary person's name, least of all in Chinese).
    """
    if not isinstance(text, str):
        raise InputError(f"find_pii expects text (str), got {type(text).__name__}")
    if not text:
        return []
    names = tuple(sorted({n for n in known_names if isinstance(n, str) and n.strip()}))
    chosen: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []
    # Higher-priority kinds first, then longer spans; skip anything overlapping a chosen span.
    for cand in sorted(_candidates(text, names), key=lambda c: (_PRIORITY[c.kind], -(c.end - c.start), c.start)):
        if any(cand.start < e and s < cand.end for s, e in taken):
            continue
        chosen.append(cand)
        taken.append((cand.start, cand.end))
    return sorted(chosen, key=lambda c: c.start)


def contains_pii(text: str, known_names: Iterable[str] = ()) -> bool:
    return bool(find_pii(text, known_names))


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
    from fincopilot.paths import db_path

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

    from fincopilot.log import get_logger

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        get_logger(__name__).warning("client_names_unavailable", db=str(path), error=str(err))
        return None
    try:
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? AND lower(column_name) LIKE ? AND data_type = 'VARCHAR'",
            ["clients", "%name%"],
        ).fetchall()]
        names: set[str] = set()
        for col in cols:
            # `col` comes from the catalog itself, quoted as an identifier; nothing user-supplied is spliced in.
            ident = '"' + col.replace('"', '""') + '"'
            for (value,) in con.execute(f"SELECT DISTINCT {ident} FROM clients WHERE {ident} IS NOT NULL").fetchall():
                if isinstance(value, str) and len(value.strip()) >= 2:
                    names.add(value.strip())
        return tuple(sorted(names))
    except duckdb.Error as err:
        get_logger(__name__).warning("client_names_unavailable", db=str(path), error=str(err))
        return None
    finally:
        con.close()
