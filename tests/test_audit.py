"""Audit log: a real DuckDB file, hash chain, tamper detection, thread and process safety, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from fincopilot.cli import app
from fincopilot.errors import NotFoundError
from fincopilot.log import request_context
from fincopilot.safety import audit


def _fill(n: int = 6, rid: str = "req-a") -> None:
    for i in range(n):
        audit.record("step_start", request_id=rid, step=i, skill="credit_lookup", note="客户张伟")


def _sql(stmt: str, params=()) -> None:
    audit.flush()  # let go of the file, as another process editing it would need
    con = duckdb.connect(str(audit.audit_path()))
    con.execute(stmt, list(params))
    con.close()


def test_record_builds_a_chain_and_verify_is_ok():
    assert audit.verify().ok and audit.verify().count == 0
    seqs = [
        audit.record("request", request_id="req-1", text="hello"),
        audit.record("plan", request_id="req-1", plan={"steps": [{"id": 1, "skill": "credit_lookup"}]}),
        audit.record("answer", request_id="req-2"),
    ]
    assert seqs == [1, 2, 3]
    report = audit.verify()
    assert report.ok and report.count == 3 and report.head_seq == 3
    rows = audit.rows("req-1")
    assert [r.event for r in rows] == ["request", "plan"] and rows[1].payload["plan"]["steps"][0]["id"] == 1
    assert rows[1].prev_hash == rows[0].hash and audit.audit_path().parent == Path(
        os.environ["FINCOPILOT_HOME"]
    )


def test_request_id_from_log_context_and_payload_canonical():
    from pydantic import BaseModel

    class M(BaseModel):
        b: int = 2
        a: str = "x"

    with request_context("req-ctx"):
        audit.record("tool_call", model=M(), path=Path("/tmp/x"), tags={"b", "a"}, err=ValueError("bad"))
    (row,) = audit.rows("req-ctx")
    assert row.payload == {
        "model": {"a": "x", "b": 2},
        "path": "/tmp/x",
        "tags": ["a", "b"],
        "err": "ValueError: bad",
    }


def test_edited_payload_is_detected():
    _fill()
    _sql("UPDATE audit SET payload = replace(payload, 'credit_lookup', 'approve_all') WHERE seq = 4")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 4 and "edited" in report.problem and report.count == 3


def test_deleted_middle_row_is_detected():
    _fill()
    _sql("DELETE FROM audit WHERE seq = 3")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 3 and "missing" in report.problem


def test_deleted_last_rows_are_detected_and_new_rows_keep_the_gap_visible():
    _fill()
    _sql("DELETE FROM audit WHERE seq >= 5")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 5 and "5..6" in report.problem
    audit.record("answer", request_id="req-a")  # appending continues from the head: the gap stays
    assert audit.verify().first_bad_seq == 5


def test_reordered_rows_are_detected():
    _fill()
    _sql("UPDATE audit SET seq = CASE seq WHEN 2 THEN 3 WHEN 3 THEN 2 END WHERE seq IN (2, 3)")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 2


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link():
    _fill()
    audit.flush()
    con = duckdb.connect(str(audit.audit_path()))
    seq, ts, rid, event, payload, prev = con.execute(
        "SELECT seq, ts, request_id, event, payload, prev_hash FROM audit WHERE seq = 2"
    ).fetchone()
    forged = payload.replace("张伟", "someone")
    con.execute(
        "UPDATE audit SET payload = ?, hash = ? WHERE seq = 2",
        [forged, audit.row_hash(prev, seq, ts, rid, event, forged)],
    )
    con.close()
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 3 and "link" in report.problem


def test_threads_append_safely():
    def work(t: int) -> None:
        for i in range(15):
            audit.record("tool_call", request_id=f"req-t{t}", i=i)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    report = audit.verify()
    assert report.ok and report.count == 60


def test_concurrent_first_use_creates_one_whole_key():
    """Eight threads ask for the key of a new home at once: all get the same complete key (the old
    create-then-write let a reader see an empty file in most such races)."""
    barrier, keys, errors = threading.Barrier(8), [], []

    def first_use() -> None:
        barrier.wait()
        try:
            keys.append(audit.audit_key())
        except audit.AuditError as err:
            errors.append(err)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in audit.audit_key_path().parent.iterdir()] == ["audit.key"]  # no temp file left


def test_processes_append_safely(isolated_home):
    code = (
        "import sys\nfrom fincopilot.safety import audit\n"
        "for i in range(10): audit.record('step_finish', request_id='req-p'+sys.argv[1], i=i)\n"
    )
    audit.record("request", request_id="req-parent")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)], env={**os.environ}) for k in range(3)]
    for k in range(5):  # the parent keeps writing while the children do
        audit.record("step_start", request_id="req-parent", k=k)
    assert all(p.wait(timeout=120) == 0 for p in procs)
    report = audit.verify()
    assert report.ok and report.count == 36


def test_cli_verify_and_show():
    runner = CliRunner()
    audit.record("request", request_id="req-cli", text="Client C-1042 wants HY-7")
    audit.record(
        "route", request_id="req-cli", skill="planner", backend="smollm2-135m", reason="default backend"
    )
    res = runner.invoke(app, ["audit", "verify"])
    assert res.exit_code == 0 and "OK: 2 rows" in res.output
    res = runner.invoke(app, ["audit", "show", "req-cli", "--json"])
    assert res.exit_code == 0
    shown = json.loads(res.output)
    assert [r["event"] for r in shown] == ["request", "route"] and shown[1]["payload"][
        "backend"
    ] == "smollm2-135m"
    res = runner.invoke(app, ["audit", "show", "req-cli"])
    assert res.exit_code == 0 and "route" in res.output and "req-cli" in res.output
    _sql("UPDATE audit SET event = 'answer' WHERE seq = 2")
    res = runner.invoke(app, ["audit", "verify"])
    assert res.exit_code == 1 and "TAMPERED at row 2" in res.output
    res = runner.invoke(app, ["audit", "verify", "--json"])
    assert json.loads(res.output)["first_bad_seq"] == 2


def test_unknown_request_is_a_clear_error():
    audit.record("request", request_id="req-x")
    with pytest.raises(NotFoundError, match="no audit events for request 'req-nope'"):
        audit.trail("req-nope")
    with pytest.raises(NotFoundError):
        audit.trail("x" * 1000)
    proc = subprocess.run(
        [sys.executable, "-m", "fincopilot.cli", "audit", "show", "req-nope"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
    )
    assert (
        proc.returncode == 2
        and proc.stderr.startswith("error: no audit events")
        and "Traceback" not in proc.stderr
    )
