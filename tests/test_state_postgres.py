"""The PostgreSQL state backend (issue 15) against a real PostgreSQL server (tests/pg_helpers.py): versioned
migrations, keys, principals and thread owners, the audit chain as one linear chain under concurrent appends
from two processes, LangGraph checkpoints in the official PostgresSaver (a held answer reviewed through a
second runner, as on another replica), and the `fincopilot db` commands."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from typer.testing import CliRunner

from fincopilot.cli import app
from fincopilot.safety import audit
from fincopilot.server.keys import KeyStore
from fincopilot.state import db as state
from fincopilot.state.migrations import MIGRATIONS, applied, upgrade


def test_migrations_are_versioned_and_applied_once(pg_url, isolated_home):
    db = state.state_db()
    assert db.engine == "postgres"
    assert [v for v, _, _ in applied(db)] == [m.version for m in MIGRATIONS]
    assert upgrade(db) == []  # nothing left to apply
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert {
        "api_keys",
        "principals",
        "thread_owners",
        "conversations",
        "runs",
        "run_events",
        "audit",
        "audit_head",
        "audit_meta",
        "schema_version",
    } <= tables
    assert not (isolated_home / "server.sqlite").exists()  # nothing went to the embedded file


def test_keys_principals_and_threads_live_in_postgres(pg_url, isolated_home):
    from fincopilot.state.threads import ThreadIndex

    store = KeyStore()
    rec, key = store.create("advisor", "Ann Lee")
    officer, _ = store.create("compliance_officer", "ANN  lee")
    assert store.verify(key).principal_id == rec.principal_id == officer.principal_id
    index = ThreadIndex()
    assert (
        index.claim("t-1", rec.principal_id, rec.key_id, rec.name, "m", "hello").principal_id
        == rec.principal_id
    )
    assert index.claim("t-1", "p-other", "x", "X", "m", "steal").principal_id == rec.principal_id
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 2
        assert conn.execute("SELECT principal_id FROM thread_owners").fetchone()[0] == rec.principal_id


_APPENDER = """
import sys
from fincopilot.safety import audit
for i in range(40):
    audit.record("step_finish", request_id="req-replica-" + sys.argv[1], i=i)
"""


def test_audit_is_one_chain_under_concurrent_appends_from_two_processes(pg_url, isolated_home):
    audit.record("request", request_id="req-parent")
    env = {**os.environ, "FINCOPILOT_DATABASE_URL": pg_url}
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, name], env=env) for name in ("a", "b")]
    for k in range(10):
        audit.record("step_start", request_id="req-parent", k=k)
    assert all(p.wait(timeout=120) == 0 for p in procs)
    report = audit.verify()
    assert report.ok and report.count == 91 and report.head_seq == 91
    assert len({r.prev_hash for r in audit.rows()}) == 91  # no fork: every row extends a different head
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO audit SELECT seq + 1000, ts, request_id, event, payload, prev_hash, hash "
            "FROM audit WHERE seq = 5"
        )
    a = audit.anchor()
    assert a.seq == 91 and a.log.startswith("PostgreSQL")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM audit WHERE seq > 80")
        conn.execute("UPDATE audit_head SET seq = 80, hash = (SELECT hash FROM audit WHERE seq = 80)")
    report = audit.verify()
    assert not report.ok and "held 91" in report.problem


def test_a_replica_with_another_audit_key_cannot_append(pg_url, isolated_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_AUDIT_KEY", "a" * 40)
    audit.record("request", request_id="req-1")
    monkeypatch.setenv("FINCOPILOT_AUDIT_KEY", "b" * 40)
    with pytest.raises(audit.AuditError, match="same FINCOPILOT_AUDIT_KEY"):
        audit.record("request", request_id="req-2")
    assert len(audit.rows()) == 1


def test_checkpoints_in_postgres_let_a_second_runner_review_a_held_answer(pg_url, isolated_home, tmp_path):
    from server_fakes import RISKY, fake_runner, prepare_home

    from fincopilot.principal import Principal

    prepare_home(isolated_home)
    runner_a = fake_runner(tmp_path / "unused-a.sqlite")
    assert runner_a.engine == "postgres"
    asker = Principal(id="p-asker", role="advisor", name="Olivia Brandt")  # C-1042 is in her book
    events = list(runner_a.run(RISKY, thread_id="pg-held", principal=asker))
    assert events[-1].data["status"] == "held"
    runner_b = fake_runner(tmp_path / "unused-b.sqlite")  # another replica: nothing shared but the database
    assert runner_b.thread("pg-held").status == "held"
    from fincopilot.graphs.state import Review

    done = list(runner_b.resume("pg-held", Review(decision="reject", reviewer="Carl Checker")))
    assert done[-1].data["status"] == "rejected"
    assert runner_a.thread("pg-held").status == "rejected"
    assert "pg-held" in runner_a.threads()
    assert not (tmp_path / "unused-a.sqlite").exists()
    runner_a.close()
    runner_b.close()


def test_db_commands(pg_url, isolated_home):
    res = CliRunner().invoke(app, ["db", "upgrade"])
    assert res.exit_code == 0 and "up to date" in res.output and "postgresql://" in res.output
    res = CliRunner().invoke(app, ["db", "status"])
    assert res.exit_code == 0 and f"schema version {MIGRATIONS[-1].version}" in res.output


def test_a_bad_database_url_is_a_clear_error(monkeypatch, isolated_home):
    monkeypatch.setenv("FINCOPILOT_DATABASE_URL", "mysql://nope")
    with pytest.raises(Exception, match="must be a postgresql:// URL"):
        state.state_db()
    monkeypatch.setenv("FINCOPILOT_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(state.StateError, match="cannot connect") as err:
        state.state_db()
    assert "secret" not in str(err.value)
