"""The keyed audit chain and its signed anchors (issue 14.5): each red-team attack on a real DuckDB log is
detected: deleting the file, emptying or dropping the tables, appending a forged row with a recomputed
(unkeyed) hash and head, re-hashing a rewritten tail, deleting tail rows and moving the head, forging an
anchor. The key lives outside the database file."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import duckdb
import pytest
from typer.testing import CliRunner

from fincopilot.cli import app
from fincopilot.safety import audit


def _fill(n: int = 8) -> None:
    for i in range(n):
        audit.record("step_finish", request_id="req-anchor", step=i, client="C-1042")


def _sql(*stmts: str, params=()) -> None:
    audit.flush()
    con = duckdb.connect(str(audit.audit_path()))
    for stmt in stmts:
        con.execute(stmt, list(params))
    con.close()


def _unkeyed(prev: str, seq: int, ts: str, rid, event: str, payload: str) -> str:
    """What the old chain computed: a plain SHA-256 anyone can recompute."""
    canonical = json.dumps([seq, ts, rid, event, payload], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()


@pytest.fixture
def anchored():
    _fill()
    a = audit.anchor()
    assert a.seq == 8 and audit.verify().ok and audit.verify().anchors_checked == 1
    return a


def test_key_is_outside_the_database_with_mode_0600(isolated_home):
    audit.record("request", request_id="r")
    key_file = audit.audit_key_path()
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.parent != audit.audit_path().parent
    assert key_file.read_text().strip().encode() not in audit.audit_path().read_bytes()


def test_env_key_is_used_and_a_different_key_fails(monkeypatch):
    monkeypatch.setenv("FINCOPILOT_AUDIT_KEY", "k" * 40)
    _fill(3)
    assert audit.verify().ok
    monkeypatch.setenv("FINCOPILOT_AUDIT_KEY", "z" * 40)
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 1 and "keyed hash" in report.problem
    monkeypatch.setenv("FINCOPILOT_AUDIT_KEY", "short")
    with pytest.raises(audit.AuditError, match="at least 32"):
        audit.verify()


def test_deleted_file_fails_against_the_anchor(anchored):
    audit.flush()
    audit.audit_path().unlink()
    report = audit.verify()
    assert not report.ok and "holds 0 rows" in report.problem and "held 8" in report.problem


def test_emptied_tables_fail(anchored):
    _sql("DELETE FROM audit", "DELETE FROM audit_head")
    report = audit.verify()
    assert not report.ok and "deleted, emptied or truncated" in report.problem


def test_dropped_tables_fail(anchored):
    _sql("DROP TABLE audit", "DROP TABLE audit_head")
    assert not audit.verify().ok


def test_forged_row_with_recomputed_unkeyed_hash_and_head_fails(anchored):
    audit.flush()
    con = duckdb.connect(str(audit.audit_path()))
    seq, prev = con.execute("SELECT seq, hash FROM audit_head").fetchone()
    ts, payload = "2026-01-01T00:00:00.000000+00:00", '{"approved_by":"nobody"}'
    digest = _unkeyed(prev, seq + 1, ts, "req-forged", "review", payload)
    con.execute(
        "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq + 1, ts, "req-forged", "review", payload, prev, digest],
    )
    con.execute("UPDATE audit_head SET seq = ?, hash = ?", [seq + 1, digest])
    con.close()
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 9 and "forged" in report.problem


def test_rewritten_tail_rehashed_without_the_key_fails(anchored):
    audit.flush()
    con = duckdb.connect(str(audit.audit_path()))
    rows = con.execute(
        "SELECT seq, ts, request_id, event, payload FROM audit WHERE seq >= 5 ORDER BY seq"
    ).fetchall()
    prev = con.execute("SELECT hash FROM audit WHERE seq = 4").fetchone()[0]
    for seq, ts, rid, event, payload in rows:
        payload = payload.replace("C-1042", "C-9999")
        digest = _unkeyed(prev, seq, ts, rid, event, payload)
        con.execute(
            "UPDATE audit SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            [payload, prev, digest, seq],
        )
        prev = digest
    con.execute("UPDATE audit_head SET hash = ?", [prev])
    con.close()
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 5


def test_rewritten_tail_rehashed_with_the_key_fails_against_the_anchor(anchored):
    """Even an attacker holding the key cannot rewrite history that an anchor (kept elsewhere) covers."""
    audit.flush()
    con = duckdb.connect(str(audit.audit_path()))
    rows = con.execute(
        "SELECT seq, ts, request_id, event, payload FROM audit WHERE seq >= 5 ORDER BY seq"
    ).fetchall()
    prev = con.execute("SELECT hash FROM audit WHERE seq = 4").fetchone()[0]
    for seq, ts, rid, event, payload in rows:
        payload = payload.replace("C-1042", "C-9999")
        digest = audit.row_hash(prev, seq, ts, rid, event, payload)
        con.execute(
            "UPDATE audit SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            [payload, prev, digest, seq],
        )
        prev = digest
    con.execute("UPDATE audit_head SET hash = ?", [prev])
    con.close()
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 8 and "rewritten" in report.problem


def test_tail_deleted_and_head_moved_fails(anchored):
    audit.flush()
    con = duckdb.connect(str(audit.audit_path()))
    new_head = con.execute("SELECT seq, hash FROM audit WHERE seq = 5").fetchone()
    con.execute("DELETE FROM audit WHERE seq > 5")
    con.execute("UPDATE audit_head SET seq = ?, hash = ?", list(new_head))
    con.close()
    report = audit.verify()
    assert not report.ok and "holds 5 rows" in report.problem and "held 8" in report.problem


def test_forged_or_edited_anchor_fails(anchored):
    path = audit.anchors_path()
    line = json.loads(path.read_text().splitlines()[0])
    line["seq"] = 3  # an attacker lowering the anchor to hide a truncation
    path.write_text(json.dumps(line) + "\n")
    report = audit.verify()
    assert not report.ok and "not signed" in report.problem
    path.write_text("not json\n")
    assert "not a valid anchor" in audit.verify().problem


def test_appending_after_an_anchor_stays_ok_and_anchors_accumulate(anchored):
    _fill(3)
    second = audit.anchor()
    report = audit.verify()
    assert report.ok and report.count == 11 and report.anchors_checked == 2 and second.seq == 11


def test_no_anchor_is_ok_with_a_warning_and_a_broken_log_is_not_anchored():
    _fill(2)
    report = audit.verify()
    assert report.ok and "no anchors" in report.warning
    _sql("UPDATE audit SET event = 'x' WHERE seq = 1")
    with pytest.raises(audit.AuditError, match="broken log"):
        audit.anchor()


def test_cli_anchor_and_verify(tmp_path):
    _fill(4)
    out = tmp_path / "external" / "anchors.jsonl"
    runner = CliRunner()
    res = runner.invoke(app, ["audit", "anchor", "--out", str(out)])
    assert res.exit_code == 0 and json.loads(res.output)["seq"] == 4 and out.exists()
    res = runner.invoke(app, ["audit", "verify", "--anchors", str(out)])
    assert res.exit_code == 0 and "OK: 4 rows" in res.output and "1 anchors checked" in res.output
    audit.flush()
    os.remove(audit.audit_path())
    res = runner.invoke(app, ["audit", "verify", "--anchors", str(out)])
    assert res.exit_code == 1 and "TAMPERED" in res.output and "held 4" in res.output
