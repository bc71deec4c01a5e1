"""Retention (issue 15): `CopilotRunner.prune` / `fincopilot threads prune` delete finished threads' checkpoints
after a TTL, keep the newest N checkpoints of the others, spare held threads, and never touch the audit log.
The real CopilotRunner with a scripted FAKE model gateway, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from server_fakes import RISKY, fake_runner, prepare_home

from fincopilot.safety import audit


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Domain data and scorecard made once; each test gets a copy in its own home."""
    return prepare_home(tmp_path_factory.mktemp("retention-prepared"))


@pytest.fixture
def home(prepared, isolated_home):
    shutil.copytree(prepared, isolated_home, dirs_exist_ok=True)
    return isolated_home


def _checkpoints(runner, thread_id: str) -> int:
    return len(list(runner.saver.list({"configurable": {"thread_id": thread_id}})))


def _fill(runner) -> None:
    for tid in ("old-1", "old-2"):
        list(runner.run("Credit of C-1042?", thread_id=tid))
    list(runner.run("Credit of C-1007?", thread_id="old-2"))
    assert list(runner.run(RISKY, thread_id="held-1"))[-1].data["status"] == "held"


def test_prune_deletes_finished_threads_spares_held_and_keeps_audit(home, tmp_path):
    runner = fake_runner(tmp_path / "cp.sqlite")
    _fill(runner)
    audit.flush()
    audit_rows = len(audit.rows())
    dry = runner.prune(0, dry_run=True)
    assert sorted(dry.threads_deleted) == ["old-1", "old-2"] and _checkpoints(runner, "old-1") > 0
    report = runner.prune(0)
    assert sorted(report.threads_deleted) == ["old-1", "old-2"] and report.kept == 1
    assert _checkpoints(runner, "old-1") == 0 and runner.index.owner("old-1") is None
    assert runner.thread("held-1").status == "held"  # waits for its review
    assert len(audit.rows()) == audit_rows and audit.verify().ok  # the audit log is never touched
    assert runner.prune(86400).threads_deleted == []  # recent threads stay


def test_keep_last_trims_checkpoints_and_the_thread_still_continues(home, tmp_path):
    runner = fake_runner(tmp_path / "cp.sqlite")
    _fill(runner)
    before = _checkpoints(runner, "old-2")
    report = runner.prune(86400, keep_last=2)
    assert _checkpoints(runner, "old-2") == 2 < before and report.checkpoints_deleted >= before - 2
    view = runner.thread("old-2")
    assert [t["content"] for t in view.turns if t["role"] == "user"] == [
        "Credit of C-1042?",
        "Credit of C-1007?",
    ]
    assert list(runner.run("And C-1042 again?", thread_id="old-2"))[-1].data["status"] == "answered"
    assert runner.thread("held-1").status == "held"


def test_prune_on_postgres_uses_langgraphs_keep_latest(pg_url, home, tmp_path):
    runner = fake_runner(tmp_path / "unused.sqlite")
    _fill(runner)
    runner.prune(86400, keep_last=1)
    assert _checkpoints(runner, "old-2") == 1
    assert len(runner.thread("old-2").turns) == 4 and runner.thread("held-1").status == "held"
    assert sorted(runner.prune(0).threads_deleted) == ["old-1", "old-2"]
    runner.close()


def test_cli_names_a_bad_duration(isolated_home):
    exe = str(Path(sys.executable).with_name("fincopilot"))
    proc = subprocess.run(
        [exe, "threads", "prune", "--older-than", "soon"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        proc.returncode == 2 and "invalid duration 'soon'" in proc.stderr and "Traceback" not in proc.stderr
    )
