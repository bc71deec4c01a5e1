"""The domain database (DuckDB): schema, `init_db`, and typed, parameterized read functions.

Reads open the file read-only, and every value from a user goes in as a bound parameter (`?`), never
into the SQL text: a name like `x'; DROP TABLE clients; --` is just a name that matches no client.
If the default database does not exist yet, the first read creates it (with a log line).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from fincopilot.errors import FinCopilotError, InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.paths import db_path
from fincopilot.principal import PermissionDenied, current_principal
from fincopilot.safety import audit
from fincopilot.tools import datagen
from fincopilot.tools.registry import tool

log = get_logger(__name__)

MAX_REF_LEN = 200
MAX_TEXT_SCAN = 20_000  # characters of free text searched for client names
CLIENT_ID = re.compile(r"\bC-\d{4,6}\b", re.IGNORECASE)
PRODUCT_CODE = re.compile(r"\b[A-Z]{2,4}-\d{1,3}\b", re.IGNORECASE)
# Quotes, semicolons and SQL comments: such a reference is matched literally only (never searched inside),
# so an injection attempt that happens to contain a real id or name still finds nothing.
SQL_LIKE = re.compile(r"['\";`\\]|--|/\*|\*/")

SCHEMA = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE clients (
    client_id VARCHAR PRIMARY KEY, name_en VARCHAR NOT NULL, name_zh VARCHAR NOT NULL,
    age INTEGER NOT NULL, risk_profile INTEGER NOT NULL CHECK (risk_profile BETWEEN 1 AND 5),
    risk_profile_label VARCHAR NOT NULL, annual_income DOUBLE NOT NULL, horizon_years INTEGER NOT NULL,
    email VARCHAR, phone VARCHAR, advisor VARCHAR, kyc_date DATE);
CREATE TABLE products (
    code VARCHAR PRIMARY KEY, name_en VARCHAR NOT NULL, name_zh VARCHAR NOT NULL, product_type VARCHAR NOT NULL,
    risk_level VARCHAR NOT NULL CHECK (risk_level IN ('R1','R2','R3','R4','R5')), currency VARCHAR NOT NULL,
    inception_date DATE, mgmt_fee_pct DOUBLE, custody_fee_pct DOUBLE, min_investment DOUBLE,
    nav DOUBLE, nav_date DATE);
CREATE TABLE holdings (
    client_id VARCHAR NOT NULL REFERENCES clients(client_id), product_code VARCHAR NOT NULL REFERENCES products(code),
    units DOUBLE NOT NULL, market_value DOUBLE NOT NULL, cost_basis DOUBLE NOT NULL, as_of DATE NOT NULL,
    PRIMARY KEY (client_id, product_code));
CREATE TABLE credit_records (
    client_id VARCHAR PRIMARY KEY REFERENCES clients(client_id), bureau_date DATE NOT NULL,
    status_of_existing_checking_account VARCHAR, duration_in_month INTEGER, credit_history VARCHAR,
    purpose VARCHAR, credit_amount INTEGER, savings_account_and_bonds VARCHAR, present_employment_since VARCHAR,
    installment_rate_in_percentage_of_disposable_income INTEGER, personal_status_and_sex VARCHAR,
    other_debtors_or_guarantors VARCHAR, present_residence_since INTEGER, property VARCHAR, age_in_years INTEGER,
    other_installment_plans VARCHAR, housing VARCHAR, number_of_existing_credits_at_this_bank INTEGER, job VARCHAR,
    number_of_people_being_liable_to_provide_maintenance_for INTEGER, telephone VARCHAR, foreign_worker VARCHAR,
    source_row INTEGER NOT NULL);
CREATE TABLE transactions (
    txn_id VARCHAR PRIMARY KEY, client_id VARCHAR NOT NULL REFERENCES clients(client_id),
    product_code VARCHAR NOT NULL REFERENCES products(code), txn_date DATE NOT NULL, txn_type VARCHAR NOT NULL,
    amount DOUBLE NOT NULL, units DOUBLE NOT NULL, nav DOUBLE NOT NULL);
CREATE TABLE reports (
    report_id VARCHAR PRIMARY KEY, product_code VARCHAR NOT NULL REFERENCES products(code),
    report_date DATE NOT NULL, language VARCHAR NOT NULL, title VARCHAR NOT NULL, body VARCHAR NOT NULL);
CREATE TABLE advisor_notes (
    note_id VARCHAR PRIMARY KEY, client_id VARCHAR NOT NULL REFERENCES clients(client_id), advisor VARCHAR,
    note_date DATE NOT NULL, language VARCHAR NOT NULL, body VARCHAR NOT NULL);
"""
# Insertion order respects the foreign keys; drop order is the reverse.
TABLES = (
    "meta",
    "clients",
    "products",
    "holdings",
    "credit_records",
    "transactions",
    "reports",
    "advisor_notes",
)


# --------------------------------------------------------------------------------------------- models


class Client(BaseModel):
    client_id: str
    name_en: str
    name_zh: str
    age: int
    risk_profile: int = Field(description="KYC risk profile, 1 (conservative) .. 5 (aggressive)")
    risk_profile_label: str
    annual_income: float
    horizon_years: int
    email: str | None = None
    phone: str | None = None
    advisor: str | None = None
    kyc_date: date | None = None


class Product(BaseModel):
    code: str
    name_en: str
    name_zh: str
    product_type: str
    risk_level: str = Field(description="R1 (lowest) .. R5 (highest)")
    currency: str
    inception_date: date | None = None
    mgmt_fee_pct: float | None = None
    custody_fee_pct: float | None = None
    min_investment: float | None = None
    nav: float | None = None
    nav_date: date | None = None

    @property
    def risk_number(self) -> int:
        return int(self.risk_level[1])


class Holding(BaseModel):
    client_id: str
    product_code: str
    units: float
    market_value: float
    cost_basis: float
    as_of: date
    risk_level: str | None = None


class Report(BaseModel):
    report_id: str
    product_code: str
    report_date: date
    language: str
    title: str
    body: str


class AdvisorNote(BaseModel):
    note_id: str
    client_id: str
    advisor: str | None
    note_date: date
    language: str
    body: str


class Transaction(BaseModel):
    txn_id: str
    client_id: str
    product_code: str
    txn_date: date
    txn_type: str
    amount: float
    units: float
    nav: float


class InitResult(BaseModel):
    path: str
    created: bool
    counts: dict[str, int]
    content_hash: str


# --------------------------------------------------------------------------------------------- connection

_init_lock = threading.RLock()  # held while the default database is created: no read-only open meanwhile


def _resolve(path: Path | str | None) -> Path:
    return Path(path) if path is not None else db_path()


@contextmanager
def connect(path: Path | str | None = None, *, read_only: bool = True) -> Iterator[Any]:
    """A DuckDB connection to the domain database (read-only unless asked); closed on exit.

    The default database is created on first use; a database given by path must exist.
    """
    p = _resolve(path)
    with _init_lock:  # a thread that finds the file mid-creation waits until it is complete
        if not p.exists():
            if path is not None:
                raise NotFoundError(f"no database at {p}; create it with `fincopilot data init --db {p}`")
            log.warning("database_missing_creating", path=str(p))
            init_db(p)
    con = _open(p, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def _open(p: Path, *, read_only: bool):
    import duckdb

    try:
        return duckdb.connect(str(p), read_only=read_only)
    except duckdb.IOException as err:  # e.g. another process holds the write lock
        raise FinCopilotError(f"cannot open the database {p}: {str(err).splitlines()[0]}") from None


def _rows(con, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


# --------------------------------------------------------------------------------------------- init


def _content_hash(tables: dict[str, list[dict[str, Any]]]) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        for row in tables[name]:
            h.update(repr(sorted(row.items())).encode())
    return h.hexdigest()[:16]


def init_db(path: Path | str | None = None, *, force: bool = False) -> InitResult:
    """Create (or re-create with `force`) the domain database. Idempotent: the content is deterministic,
    and an up-to-date database is left as it is."""
    import duckdb
    import pandas as pd

    p = _resolve(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tables = datagen.build_tables()
    digest = _content_hash(tables)
    with _init_lock:
        con = _open(p, read_only=False)
        try:
            have = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
                ).fetchall()
            }
            if not force and set(TABLES) <= have:
                current = con.execute("SELECT value FROM meta WHERE key = 'content_hash'").fetchone()
                if current and current[0] == digest:
                    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES}
                    return InitResult(path=str(p), created=False, counts=counts, content_hash=digest)
            con.execute("BEGIN TRANSACTION")
            for t in reversed(TABLES):
                con.execute(f'DROP TABLE IF EXISTS "{t}"')  # table names are constants, not input
            for stmt in SCHEMA.strip().split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute(
                "INSERT INTO meta VALUES (?, ?), (?, ?)",
                ["content_hash", digest, "generator_version", datagen.GENERATOR_VERSION],
            )
            for name in TABLES[1:]:
                df = pd.DataFrame(tables[name])
                cols = [c[0] for c in con.execute(f'DESCRIBE "{name}"').fetchall()]
                con.register("_rows", df[cols])
                con.execute(f'INSERT INTO "{name}" SELECT * FROM _rows')
                con.unregister("_rows")
            con.execute("COMMIT")
            counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES}
        except Exception:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        finally:
            con.close()
    log.info("database_initialized", path=str(p), **counts)
    return InitResult(path=str(p), created=True, counts=counts, content_hash=digest)


def table_checksums(path: Path | str | None = None) -> dict[str, str]:
    """sha256 of every table's sorted rows: compare before and after to prove nothing changed."""
    out = {}
    with connect(path) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        for name in names:
            rows = sorted(repr(r) for r in con.execute(f'SELECT * FROM "{name}"').fetchall())
            out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


# --------------------------------------------------------------------------------------------- reads


def _clean(ref: Any, what: str, max_len: int = MAX_REF_LEN) -> str:
    if not isinstance(ref, str):
        raise InputError(f"{what} must be text, got {type(ref).__name__}")
    text = ref.strip()
    if not text:
        raise InputError(f"{what} is empty")
    if len(text) > max_len:
        raise InputError(f"{what} is too long ({len(text)} characters; at most {max_len})")
    if any(ord(ch) < 32 for ch in text):
        raise InputError(f"{what} contains control characters")
    return text


# --------------------------------------------------------------------------------------- client book
def _deny(client: str, what: str) -> PermissionDenied:
    p = current_principal()
    assert p is not None
    audit.record(
        "access_denied", principal=p.id, principal_name=p.name, role=p.role, client=client, what=what
    )
    return PermissionDenied(
        f"client {client} is not in your book ({p.name}): an advisor sees only the clients "
        "assigned to them; ask the client's advisor or a compliance officer"
    )


def _in_book(rows: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """The rows of clients the current principal may see; PermissionDenied when it may see none of them."""
    p = current_principal()
    if p is None or p.sees_every_client:
        return rows
    mine = [r for r in rows if r.get("advisor") == p.name]
    if rows and not mine:
        raise _deny(rows[0]["client_id"] if len(rows) == 1 else "(matching reference)", what)
    return mine


def _check_book(con: Any, client_id: str, what: str) -> None:
    """PermissionDenied unless the current principal may see `client_id`'s data."""
    p = current_principal()
    if p is None or p.sees_every_client:
        return
    rows = _rows(con, "SELECT client_id, advisor FROM clients WHERE upper(client_id) = upper(?)", [client_id])
    _in_book(rows, what)


def check_client_mentions(text: str, *, path: Path | str | None = None) -> None:
    """PermissionDenied (audited) when `text` names, by id or full name, a client the current principal may not
    see: a request about another advisor's client is refused up front with a clear message. (The reads
    themselves are checked too; this only makes the refusal come first and plainly.)"""
    p = current_principal()
    if p is None or p.sees_every_client or not _resolve(path).exists():
        return
    ids = sorted({m.upper() for m in CLIENT_ID.findall(text)})
    with connect(path) as con:
        rows = (
            _rows(
                con,
                "SELECT client_id, advisor FROM clients WHERE upper(client_id) IN "
                f"({', '.join('?' for _ in ids)})",
                ids,
            )
            if ids
            else []
        )
        rows += _rows_naming(con, "clients", _CLIENT_COLS, text)
    for row in rows:
        _in_book([row], "request")


_CLIENT_COLS = (
    "client_id, name_en, name_zh, age, risk_profile, risk_profile_label, annual_income, horizon_years, "
    "email, phone, advisor, kyc_date"
)


def name_span(name: str, text: str) -> tuple[int, int] | None:
    """Where a full name (a client's or a product's) occurs in `text`: Chinese as written, English as whole
    words in any case ("Li Na" is not inside "Li Nan"); None when it does not."""
    if not name:
        return None
    if re.search(r"[\u4e00-\u9fff]", name):
        at = text.find(name)
        return (at, at + len(name)) if at >= 0 else None
    m = re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", text, re.IGNORECASE)
    return m.span() if m else None


def _rows_naming(con: Any, table: str, cols: str, text: str) -> list[dict[str, Any]]:
    """The rows of `table` (clients or products) whose full name, English or Chinese, occurs in free text; the
    text is a bound parameter."""
    rows = _rows(
        con,
        f"SELECT {cols} FROM {table} WHERE strpos(lower(?), lower(name_en)) > 0 OR strpos(?, name_zh) > 0",
        [text[:MAX_TEXT_SCAN], text[:MAX_TEXT_SCAN]],
    )
    return [r for r in rows if name_span(r["name_zh"], text) or name_span(r["name_en"], text)]


def named_in(
    texts: Sequence[str], *, path: Path | str | None = None
) -> list[tuple[list[Client], list[Product]]]:
    """For each text, the clients of the current principal's book and the products whose full name (English
    or Chinese) occurs in it; one database connection for all the texts."""
    p = current_principal()
    out = []
    with connect(path) as con:
        for text in texts:
            clients = [
                Client(**r)
                for r in _rows_naming(con, "clients", _CLIENT_COLS, text)
                if p is None or p.sees_every_client or r["advisor"] == p.name
            ]
            named = [Product(**r) for r in _rows_naming(con, "products", _PRODUCT_COLS, text)]
            out.append((clients, named))
    return out


def get_client(ref: str, *, path: Path | str | None = None) -> Client:
    """Resolve a client by id (`C-1042`, any case), by exact name (English, any case, or Chinese), or from
    free text that contains an id or a full client name."""
    text = _clean(ref, "client reference")
    with connect(path) as con:
        if CLIENT_ID.fullmatch(text):
            rows = _rows(con, f"SELECT {_CLIENT_COLS} FROM clients WHERE upper(client_id) = upper(?)", [text])
        else:
            rows = _rows(
                con,
                f"SELECT {_CLIENT_COLS} FROM clients WHERE lower(name_en) = lower(?) OR name_zh = ?",
                [text, text],
            )
            if not rows and not SQL_LIKE.search(text):
                ids = sorted({m.upper() for m in CLIENT_ID.findall(text)})
                if ids:
                    rows = _rows(
                        con,
                        f"SELECT {_CLIENT_COLS} FROM clients WHERE upper(client_id) IN "
                        f"({', '.join('?' for _ in ids)})",
                        ids,
                    )
            if not rows and not SQL_LIKE.search(text):
                rows = _rows_naming(con, "clients", _CLIENT_COLS, text)
    rows = _in_book(rows, "client profile")
    if len(rows) > 1:
        raise InputError(
            f"client reference {text!r} is ambiguous: "
            + ", ".join(f"{r['client_id']} ({r['name_en']})" for r in rows[:10])
        )
    if not rows:
        raise NotFoundError(
            f"no client matches {text!r}; give a client id like C-1042 or a full name (English or Chinese); "
            "`fincopilot data clients --search TEXT` lists ids"
        )
    return Client(**rows[0])


def search_clients(query: str, *, limit: int = 20, path: Path | str | None = None) -> list[Client]:
    """Clients whose id or name contains `query` (case-insensitive)."""
    text = _clean(query, "search text")
    limit = max(1, min(int(limit), 200))
    p = current_principal()
    book, book_args = ("", []) if p is None or p.sees_every_client else (" AND advisor = ?", [p.name])
    with connect(path) as con:
        rows = _rows(
            con,
            f"SELECT {_CLIENT_COLS} FROM clients WHERE (strpos(lower(client_id), lower(?)) > 0 OR "
            f"strpos(lower(name_en), lower(?)) > 0 OR strpos(name_zh, ?) > 0){book} "
            "ORDER BY client_id LIMIT ?",
            [text, text, text, *book_args, limit],
        )
    return [Client(**r) for r in rows]


_PRODUCT_COLS = (
    "code, name_en, name_zh, product_type, risk_level, currency, inception_date, mgmt_fee_pct, "
    "custody_fee_pct, min_investment, nav, nav_date"
)


def get_product(ref: str, *, path: Path | str | None = None) -> Product:
    """Resolve a product by code (`HY-7`, any case), by exact name, or from free text containing its code."""
    text = _clean(ref, "product reference")
    with connect(path) as con:
        rows = _rows(
            con,
            f"SELECT {_PRODUCT_COLS} FROM products WHERE upper(code) = upper(?) OR "
            "lower(name_en) = lower(?) OR name_zh = ?",
            [text, text, text],
        )
        if not rows and not SQL_LIKE.search(text):
            codes = sorted({m.upper() for m in PRODUCT_CODE.findall(text)})
            if codes:
                rows = _rows(
                    con,
                    f"SELECT {_PRODUCT_COLS} FROM products WHERE upper(code) IN "
                    f"({', '.join('?' for _ in codes)})",
                    codes,
                )
    if len(rows) > 1:
        raise InputError(f"product reference {text!r} is ambiguous: " + ", ".join(r["code"] for r in rows))
    if not rows:
        raise NotFoundError(
            f"no product matches {text!r}; give a product code like HY-7 "
            "(`fincopilot data products` lists them)"
        )
    return Product(**rows[0])


def list_products(*, path: Path | str | None = None) -> list[Product]:
    with connect(path) as con:
        return [Product(**r) for r in _rows(con, f"SELECT {_PRODUCT_COLS} FROM products ORDER BY code")]


def get_holdings(client_id: str, *, path: Path | str | None = None) -> list[Holding]:
    """A client's holdings with each product's risk level."""
    cid = _clean(client_id, "client id")
    with connect(path) as con:
        _check_book(con, cid, "holdings")
        rows = _rows(
            con,
            "SELECT h.client_id, h.product_code, h.units, h.market_value, h.cost_basis, h.as_of, "
            "p.risk_level FROM holdings h JOIN products p ON p.code = h.product_code "
            "WHERE upper(h.client_id) = upper(?) ORDER BY h.product_code",
            [cid],
        )
    return [Holding(**r) for r in rows]


def get_transactions(client_id: str, *, path: Path | str | None = None) -> list[Transaction]:
    cid = _clean(client_id, "client id")
    with connect(path) as con:
        _check_book(con, cid, "transactions")
        rows = _rows(
            con,
            "SELECT * FROM transactions WHERE upper(client_id) = upper(?) ORDER BY txn_date, txn_id",
            [cid],
        )
    return [Transaction(**r) for r in rows]


def get_advisor_notes(client_id: str, *, path: Path | str | None = None) -> list[AdvisorNote]:
    cid = _clean(client_id, "client id")
    with connect(path) as con:
        _check_book(con, cid, "advisor notes")
        rows = _rows(
            con,
            "SELECT * FROM advisor_notes WHERE upper(client_id) = upper(?) ORDER BY note_date DESC",
            [cid],
        )
    return [AdvisorNote(**r) for r in rows]


def get_credit_record(client_id: str, *, path: Path | str | None = None) -> dict[str, Any]:
    """The client's credit-bureau record: the 20 German-credit attributes (plus bureau date and source row)."""
    cid = _clean(client_id, "client id")
    with connect(path) as con:
        _check_book(con, cid, "credit record")
        rows = _rows(con, "SELECT * FROM credit_records WHERE upper(client_id) = upper(?)", [cid])
    if not rows:
        raise NotFoundError(f"no credit record for client {cid!r}")
    return rows[0]


def _parse_date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = _clean(value, "date", 40)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"bad date {text!r}; use YYYY-MM-DD") from None


def list_reports(product: str, *, path: Path | str | None = None) -> list[Report]:
    """Every report on a product, newest first."""
    code = get_product(product, path=path).code
    with connect(path) as con:
        rows = _rows(
            con, "SELECT * FROM reports WHERE product_code = ? ORDER BY report_date DESC, language", [code]
        )
    return [Report(**r) for r in rows]


def get_report(
    product: str | None = None,
    report_date: str | date | None = None,
    *,
    report_id: str | None = None,
    language: str | None = None,
    path: Path | str | None = None,
) -> Report:
    """A report by id, or a product's report on `report_date` (else the latest on or before it; the latest
    overall when no date is given)."""
    if report_id is not None:
        rid = _clean(report_id, "report id")
        with connect(path) as con:
            rows = _rows(con, "SELECT * FROM reports WHERE upper(report_id) = upper(?)", [rid])
        if not rows:
            raise NotFoundError(
                f"no report {rid!r}; `fincopilot data reports --product CODE` lists report ids"
            )
        return Report(**rows[0])
    if product is None:
        raise InputError("give a product code (e.g. HY-7) or a report id")
    when = _parse_date(report_date)
    reports = list_reports(product, path=path)
    if language:
        reports = [r for r in reports if r.language == language] or reports
    if when is not None:
        exact = [r for r in reports if r.report_date == when]
        candidates = exact or [r for r in reports if r.report_date <= when]
        if not candidates:
            dates = ", ".join(sorted({r.report_date.isoformat() for r in reports}))
            raise NotFoundError(
                f"no report on {reports[0].product_code if reports else product} on or before "
                f"{when}; available dates: {dates}"
            )
        reports = candidates
    if not reports:
        raise NotFoundError(f"no reports on product {product!r}")
    return reports[0]


# --------------------------------------------------------------------------------------------- tools


class ClientLookupArgs(BaseModel):
    client: str = Field(description="client id like C-1042, or a full name in English or Chinese")


class ClientProfile(Client):
    holdings: list[Holding] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)


@tool(
    name="client_lookup",
    args=ClientLookupArgs,
    output=ClientProfile,
    description="Find a client by id or name: KYC profile (risk profile, age, income, horizon) and holdings.",
)
def client_lookup(args: ClientLookupArgs) -> ClientProfile:
    client = get_client(args.client)
    holdings = get_holdings(client.client_id)
    return ClientProfile(
        **client.model_dump(),
        holdings=holdings,
        sources=[f"clients:{client.client_id}", f"holdings:{client.client_id}"],
    )


class ProductLookupArgs(BaseModel):
    product: str = Field(description="product code like HY-7, or its name")


class ProductOut(Product):
    sources: list[str] = Field(default_factory=list)


@tool(
    name="product_lookup",
    args=ProductLookupArgs,
    output=ProductOut,
    description="Find a product by code or name: type, risk level R1-R5, fees, latest NAV.",
)
def product_lookup(args: ProductLookupArgs) -> ProductOut:
    p = get_product(args.product)
    return ProductOut(**p.model_dump(), sources=[f"products:{p.code}"])


class ReportLookupArgs(BaseModel):
    product: str | None = Field(None, description="product code like HY-7")
    date: str | None = Field(None, description="YYYY-MM-DD; default: the latest report")
    report_id: str | None = Field(None, description="a report id like RPT-HY-7-20260930-EN")
    language: str | None = Field(None, description="en or zh; default: any")


class ReportOut(Report):
    sources: list[str] = Field(default_factory=list)


@tool(
    name="report_lookup",
    args=ReportLookupArgs,
    output=ReportOut,
    description="Fetch a research report by product (and date; latest by default) or by report id.",
)
def report_lookup(args: ReportLookupArgs) -> ReportOut:
    r = get_report(args.product, args.date, report_id=args.report_id, language=args.language)
    return ReportOut(**r.model_dump(), sources=[f"reports:{r.report_id}"])
