"""Replicas on one PostgreSQL database (issue 15), as real processes (tests/replica_server.py: the real server and
CopilotRunner with a scripted FAKE model gateway), against a real PostgreSQL server: a held answer approved
through replica B releases the thread started on A; a conversation continues on any replica; a replica killed
with SIGKILL mid-run loses no request (the retry with the same Idempotency-Key gets the one result, continued
from the last checkpoint on B; without a retry B's sweep finishes it); the audit chain stays one chain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server_fakes import DEMO, RISKY, free_port, prepare_home, wait_for_http

MODEL = "fincopilot-advisor"
HERE = Path(__file__).parent


class Replica:
    def __init__(self, env: dict[str, str], name: str, delay_s: float):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "replica_server.py"), str(self.port), str(delay_s)],
            env={**env, "FINCOPILOT_REPLICA": name},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_http(self.url + "/healthz", self.proc, timeout=120)

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=120)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def cluster(postgres_server, tmp_path_factory):
    """One database, keys, replicas A and B (1 s per FAKE model call) for the module, and a function starting
    more; every replica is stopped at the end. The tests run in order: the second kills A."""
    from fincopilot.safety import audit
    from fincopilot.server.keys import KeyStore
    from fincopilot.state import db

    home = prepare_home(tmp_path_factory.mktemp("replicas-home"))
    url = postgres_server.create_database()
    saved = {k: os.environ.get(k) for k in ("FINCOPILOT_HOME", "FINCOPILOT_DATABASE_URL")}
    os.environ.update(FINCOPILOT_HOME=str(home), FINCOPILOT_DATABASE_URL=url)
    store = KeyStore()
    keys = {
        "ann": store.create("advisor", "Olivia Brandt")[1],  # C-1042 and C-1007 are in her book
        "carl": store.create("compliance_officer", "Carl")[1],
    }
    env = {**os.environ, "FINCOPILOT_LEASE_S": "2", "HF_HUB_OFFLINE": "1"}
    started: dict[str, Replica] = {}

    def start(name: str, delay_s: float = 1.0) -> Replica:
        started[name] = Replica(env, name, delay_s)
        return started[name]

    start("A")
    start("B")
    yield started, start, keys, home
    for r in started.values():
        r.stop()
    audit.flush()
    db.close_all()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    postgres_server.drop_database(url)


@pytest.fixture
def replicas(cluster, monkeypatch):
    started, start, keys, home = cluster
    monkeypatch.setenv("FINCOPILOT_HOME", str(home))  # the replicas' home (audit key), not the isolated one
    return started, start, keys


def _ask(client: httpx.Client, messages: list[dict], **headers) -> httpx.Response:
    return client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages}, headers=headers)


def test_review_and_conversation_move_across_replicas(replicas):
    started, _, keys = replicas
    a, b = started["A"], started["B"]
    held = _ask(a.client(keys["ann"]), [{"role": "user", "content": RISKY}])
    assert held.status_code == 200 and held.json()["fincopilot"]["status"] == "held"
    thread = held.json()["fincopilot"]["thread_id"]
    r = b.client(keys["carl"]).post(f"/api/threads/{thread}/review", json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    assert a.client(keys["ann"]).get(f"/api/threads/{thread}").json()["status"] == "answered"

    first = _ask(b.client(keys["ann"]), [{"role": "user", "content": "Credit of C-1042?"}]).json()
    history = [
        {"role": "user", "content": "Credit of C-1042?"},
        {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
        {"role": "user", "content": "Now C-1007."},
    ]
    second = _ask(a.client(keys["ann"]), history).json()  # the next turn lands on the other replica
    assert second["fincopilot"]["thread_id"] == first["fincopilot"]["thread_id"]
    turns = a.client(keys["ann"]).get(f"/api/threads/{first['fincopilot']['thread_id']}").json()["turns"]
    assert [t["content"] for t in turns if t["role"] == "user"] == ["Credit of C-1042?", "Now C-1007."]


def _stream_until_plan(replica: Replica, key: str, idem: str) -> None:
    """Start a streaming request on `replica`; return once its plan is streamed and checkpointed."""
    with replica.client(key).stream(
        "POST",
        "/v1/chat/completions",
        headers={"Idempotency-Key": idem},
        json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": DEMO}]},
    ) as resp:
        assert resp.status_code == 200
        thread = resp.headers["x-fincopilot-thread"]
        for line in resp.iter_lines():
            if line.startswith("data:") and '"type": "plan"' in line.replace(
                '"type":"plan"', '"type": "plan"'
            ):
                _wait_for_plan_checkpoint(thread)
                return
    raise AssertionError("the stream ended before the plan")


def _wait_for_plan_checkpoint(thread: str, timeout_s: float = 30.0) -> None:
    """Until the checkpoint after the planner step is in PostgreSQL (the point a takeover continues from)."""
    from fincopilot.state.db import state_db

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        step = (
            state_db()
            .execute("SELECT max((metadata->>'step')::int) FROM checkpoints WHERE thread_id=?", (thread,))
            .rows[0][0]
        )
        if step is not None and step >= 1:
            return
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint after the plan of thread {thread} within {timeout_s} s")


def _ledger_row(idem: str) -> tuple:
    from fincopilot.state.db import state_db

    rows = (
        state_db()
        .execute("SELECT request_id, status, attempts, replica FROM runs WHERE idempotency_key=?", (idem,))
        .rows
    )
    assert len(rows) == 1, rows  # one run for the key, never a second
    return rows[0]


def test_a_replica_killed_mid_run_loses_no_request_and_a_retry_gets_the_one_result(replicas):
    from fincopilot.safety import audit

    started, _, keys = replicas
    a, b = started["A"], started["B"]
    _stream_until_plan(a, keys["ann"], "retry-key-1")  # the steps now wait on the slow FAKE model
    a.kill()
    retry = _ask(
        b.client(keys["ann"]), [{"role": "user", "content": DEMO}], **{"Idempotency-Key": "retry-key-1"}
    )
    assert retry.status_code == 200, retry.text
    body = retry.json()
    assert body["fincopilot"]["status"] == "answered" and "C-1042" in body["choices"][0]["message"]["content"]
    request_id, status, attempts, replica = _ledger_row("retry-key-1")
    assert status == "done" and attempts == 2 and replica == "B"
    again = _ask(
        b.client(keys["ann"]), [{"role": "user", "content": DEMO}], **{"Idempotency-Key": "retry-key-1"}
    )
    assert again.json()["choices"][0]["message"]["content"] == body["choices"][0]["message"]["content"]
    assert _ledger_row("retry-key-1")[2] == 2  # the replay started nothing
    continued = [r.payload for r in audit.rows(request_id, event="run_continued")]
    assert continued == [{"thread_id": body["fincopilot"]["thread_id"], "from_checkpoint": True}]
    assert len(audit.rows(request_id, event="request")) == 1  # continued, not run again from the start
    other = _ask(
        b.client(keys["ann"]),
        [{"role": "user", "content": "Credit of C-1007?"}],
        **{"Idempotency-Key": "retry-key-1"},
    )
    assert other.status_code == 422
    assert audit.verify().ok


def test_without_a_retry_another_replica_finishes_the_killed_run(replicas):
    started, start, keys = replicas
    c, b = start("C"), started["B"]
    _stream_until_plan(c, keys["ann"], "no-retry-1")
    c.kill()
    deadline = time.monotonic() + 60
    while _ledger_row("no-retry-1")[1] == "running" and time.monotonic() < deadline:
        time.sleep(0.3)
    request_id, status, attempts, replica = _ledger_row("no-retry-1")
    assert (status, attempts, replica) == ("done", 2, "B")  # C held it, B finished it
    from fincopilot.state.db import state_db

    thread = state_db().execute("SELECT thread_id FROM runs WHERE request_id=?", (request_id,)).rows[0][0]
    view = b.client(keys["ann"]).get(f"/api/threads/{thread}").json()
    assert view["status"] == "answered" and json.dumps(view).count("C-1042") >= 1
