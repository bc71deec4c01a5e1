"""The domain database: deterministic init, typed parameterized reads, safe against SQL injection."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fincopilot.errors import InputError, NotFoundError
from fincopilot.tools import data
from fincopilot.tools.numbers import extract_numbers

INJECTIONS = [
    "C-1042' OR '1'='1",
    "' OR 1=1 --",
    "x'; DROP TABLE clients; --",
    "Zhang Min'); DELETE FROM clients; --",
    'C-1042" OR ""="',
    "1; UPDATE clients SET risk_profile = 5",
    "' UNION SELECT * FROM credit_records --",
    "张敏' OR name_zh LIKE '%",
    "%",
    "_",
]


def test_init_creates_every_table_and_the_demo_rows(db):
    with data.connect(db) as con:
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in data.TABLES}
        assert counts["clients"] == 300 and counts["products"] == 30 and counts["credit_records"] == 300
        assert counts["reports"] >= 4 * counts["products"] and counts["holdings"] > 300
        assert counts["transactions"] > counts["holdings"] and counts["advisor_notes"] >= 300
        langs = dict(con.execute("SELECT language, count(*) FROM reports GROUP BY 1").fetchall())
        assert langs["en"] > 0 and langs["zh"] > 0
    client = data.get_client("C-1042")
    assert (client.name_en, client.name_zh) == ("Zhang Min", "张敏")
    assert 1 <= client.risk_profile <= 5 and client.horizon_years > 0
    hy7 = data.get_product("HY-7")
    assert hy7.product_type == "bond fund" and hy7.risk_level in {"R1", "R2", "R3", "R4", "R5"}


def test_init_is_idempotent_and_deterministic(db, tmp_path):
    before = data.table_checksums(db)
    again = data.init_db(db)
    assert again.created is False
    assert data.table_checksums(db) == before
    forced = data.init_db(db, force=True)
    assert forced.created is True and data.table_checksums(db) == before
    other = tmp_path / "other.duckdb"
    data.init_db(other)
    assert data.table_checksums(other) == before


@pytest.mark.parametrize(
    "ref",
    [
        "C-1042",
        "c-1042",
        " C-1042 ",
        "Zhang Min",
        "zhang min",
        "张敏",
        "please check client C-1042 today",
        "credit check for Zhang Min",
    ],
)
def test_get_client_resolves_ids_names_and_free_text(db, ref):
    assert data.get_client(ref).client_id == "C-1042"


def test_names_in_free_text_are_found_whole_and_per_text(db):
    client, product = data.get_client("C-1042"), data.get_product("HY-7")
    texts = [
        f"does the {product.name_en.upper()} suit {client.name_en.lower()}?",
        f"{client.name_zh}想买{product.name_zh}",
        f"{client.name_en}x and {product.code}",  # a longer word is not the name; a code is not a name
        "",
    ]
    found = [([c.client_id for c in cs], [p.code for p in ps]) for cs, ps in data.named_in(texts, path=db)]
    assert found == [(["C-1042"], ["HY-7"]), (["C-1042"], ["HY-7"]), ([], []), ([], [])]
    assert data.name_span(client.name_en, f"Ask {client.name_en}.") == (4, 4 + len(client.name_en))
    assert data.name_span("", "anything") is None


def test_unknown_client_gives_a_clear_error(db):
    with pytest.raises(NotFoundError, match=r"no client matches 'C-9999'.*C-1042"):
        data.get_client("C-9999")
    with pytest.raises(NotFoundError, match="no client matches"):
        data.get_client("Nobody Atall")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 5000, "C-1042\x00", "a\nb"])
def test_empty_huge_or_control_input_is_rejected(db, bad):
    with pytest.raises(InputError):
        data.get_client(bad)


@pytest.mark.parametrize("attack", INJECTIONS)
def test_sql_injection_finds_nothing_and_changes_nothing(db, attack):
    before = data.table_checksums(db)
    with pytest.raises(NotFoundError):
        data.get_client(attack)
    with pytest.raises(NotFoundError):
        data.get_product(attack)
    with pytest.raises(NotFoundError):
        data.get_report(report_id=attack)
    assert data.get_holdings(attack) == []
    with pytest.raises(NotFoundError):
        data.get_credit_record(attack)
    assert data.search_clients(attack) == []  # strpos, not LIKE: % and _ are plain characters
    assert data.table_checksums(db) == before


def test_reads_cannot_write_even_if_asked(db):
    import duckdb

    with data.connect(db) as con, pytest.raises(duckdb.Error):
        con.execute("DELETE FROM clients")


def test_reports_several_per_product_dated_with_many_figures(db):
    reports = data.list_reports("HY-7")
    assert len(reports) >= 4 and {r.language for r in reports} == {"en", "zh"}
    assert [r.report_date for r in reports] == sorted((r.report_date for r in reports), reverse=True)
    for r in reports:
        assert r.body.count("\n\n") >= 3, "multi-paragraph"
        assert len(extract_numbers(r.body)) >= 10, r.report_id
    latest = data.get_report("HY-7")
    assert latest.report_id == reports[0].report_id
    assert data.get_report("HY-7", "2026-06-30").report_date.isoformat() == "2026-06-30"
    assert (
        data.get_report("HY-7", "2026-07-15").report_date.isoformat() == "2026-06-30"
    )  # latest on or before
    zh = data.get_report("HY-7", language="zh")
    assert zh.language == "zh" and "到期收益率" in zh.body
    with pytest.raises(NotFoundError, match="available dates"):
        data.get_report("HY-7", "2020-01-01")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        data.get_report("HY-7", "last tuesday")


def test_holdings_transactions_notes_and_credit_record(db):
    holdings = data.get_holdings("C-1042")
    assert holdings and all(h.market_value > 0 and h.risk_level for h in holdings)
    assert data.get_transactions("C-1042")
    assert data.get_advisor_notes("C-1042")
    record = data.get_credit_record("C-1042")
    assert record["age_in_years"] == data.get_client("C-1042").age


def test_tools_are_registered_and_typed(db):
    from fincopilot.tools.registry import get_tool

    profile = get_tool("client_lookup")({"client": "张敏"})
    assert profile.client_id == "C-1042" and profile.holdings and "clients:C-1042" in profile.sources
    assert get_tool("product_lookup")({"product": "hy-7"}).code == "HY-7"
    report = get_tool("report_lookup")({"product": "HY-7"})
    assert report.sources == [f"reports:{report.report_id}"]
    with pytest.raises(InputError, match="bad arguments"):
        get_tool("client_lookup")({"name": "x"})


def test_default_database_is_created_on_first_use(isolated_home):
    assert data.get_client("C-1042").name_en == "Zhang Min"
    assert (isolated_home / "fincopilot.duckdb").exists()


def test_cli_data_commands(tmp_path):
    from fincopilot.cli import app

    runner = CliRunner()
    path = tmp_path / "cli.duckdb"
    first = runner.invoke(app, ["data", "init", "--db", str(path), "--json", "--no-kb"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["created"] is True and out["counts"]["clients"] == 300
    second = runner.invoke(app, ["data", "init", "--db", str(path), "--json", "--no-kb"])
    assert json.loads(second.stdout)["created"] is False
    assert runner.invoke(app, ["data", "init", "--db", str(path), "--force", "--no-kb"]).exit_code == 0
    listed = runner.invoke(
        app, ["data", "clients", "--search", "zhang min", "--json"], env={"FINCOPILOT_DB": str(path)}
    )
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["client_id"] == "C-1042"
