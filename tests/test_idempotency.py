"""Runs and retries on the embedded state (issue 15): the run ledger's leases (begin, heartbeat, expiry,
takeover by exactly one replica), and idempotent retries through a real uvicorn server on 127.0.0.1 with the
real CopilotRunner and a scripted FAKE model gateway: the same Idempotency-Key (or the returned request id) gets
the one result, never a second run; a reused key for another request is 422; a thread busy on another replica
is 409."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from server_fakes import LiveServer, fake_runner, prepare_home

from fincopilot.principal import Principal
from fincopilot.state.runs import RunLedger, ThreadBusy

OPERATOR_1 = Principal(id="p-1", role="operator", name="Op One")

MODEL = "fincopilot-advisor"


def _begin(ledger: RunLedger, rid: str, key: str | None = None, thread: str = "t-1"):
    return ledger.begin(
        request_id=rid,
        principal_id="p-1",
        idempotency_key=key,
        thread_id=thread,
        model=MODEL,
        kind="run",
        input={"text": "hi"},
    )


def test_lease_expiry_lets_exactly_one_other_replica_take_over(isolated_home):
    a = RunLedger(replica="A", lease_s=0.2)
    b, c = RunLedger(replica="B", lease_s=5), RunLedger(replica="C", lease_s=5)
    rec, new = _begin(a, "req-1", "k1")
    assert new and rec.replica == "A" and rec.status == "running"
    assert _begin(a, "req-2", "k1") == (a.get("req-1"), False)  # same key: the same run
    with pytest.raises(ThreadBusy):
        _begin(a, "req-3", None)  # one running request per thread
    assert not b.take_over("req-1")  # lease still valid
    time.sleep(0.3)
    assert [r.request_id for r in b.expired()] == ["req-1"]
    with ThreadPoolExecutor(2) as pool:
        wins = list(pool.map(lambda led: led.take_over("req-1"), [b, c]))
    assert sorted(wins) == [False, True]
    winner = b if wins[0] else c
    assert a.heartbeat_many({"req-1"}) == {"req-1"} and not a.finish("req-1", "done")  # A lost it
    a.record_event("req-1", '{"type": "request"}')
    winner.record_event("req-1", '{"type": "done"}')
    assert [n for n, _ in winner.events("req-1")] == [0, 1] and winner.finish("req-1", "done")
    assert winner.get("req-1").attempts == 2 and winner.get("req-1").status == "done"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = prepare_home(tmp_path_factory.mktemp("idem-home"))
    old = os.environ.get("FINCOPILOT_HOME")
    os.environ["FINCOPILOT_HOME"] = str(home)
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    store = KeyStore(home / "server.sqlite")
    key = store.create("advisor", "Olivia Brandt")[1]  # C-1042 and C-1007 are in her book
    with LiveServer(
        create_app({MODEL: fake_runner(home / "checkpoints.sqlite", delay_s=0.2)}, keys=store)
    ) as srv:
        yield srv, key, home
    if old is None:
        os.environ.pop("FINCOPILOT_HOME", None)
    else:
        os.environ["FINCOPILOT_HOME"] = old


@pytest.fixture
def api(served, monkeypatch):
    server, key, home = served
    monkeypatch.setenv("FINCOPILOT_HOME", str(home))
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _post(api: httpx.Client, text: str, **headers) -> httpx.Response:
    return api.post(
        "/v1/chat/completions",
        headers=headers,
        json={"model": MODEL, "messages": [{"role": "user", "content": text}]},
    )


def _runs(key: str) -> list[tuple]:
    from fincopilot.state.db import state_db

    return (
        state_db()
        .execute("SELECT request_id, status, attempts FROM runs WHERE idempotency_key=?", (key,))
        .rows
    )


def test_concurrent_retries_with_one_key_get_one_run(api):
    from fincopilot.safety import audit

    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(lambda _: _post(api, "Credit of C-1042?", **{"Idempotency-Key": "same-1"}), range(3))
        )
    assert [r.status_code for r in answers] == [200, 200, 200]
    contents = {r.json()["choices"][0]["message"]["content"] for r in answers}
    assert len(contents) == 1 and "C-1042" in contents.pop()
    ((request_id, status, attempts),) = _runs("same-1")
    assert status == "done" and attempts == 1
    assert {r.json()["fincopilot"]["request_id"] for r in answers} == {request_id}
    audit.flush()
    assert len(audit.rows(request_id, event="request")) == 1  # one run, never a second


def test_the_returned_request_id_works_as_the_key(api):
    first = _post(api, "Credit of C-1007?")
    rid = first.headers["x-request-id"]
    again = _post(api, "Credit of C-1007?", **{"X-Request-Id": rid})
    assert again.status_code == 200 and again.json()["fincopilot"]["request_id"] == rid
    assert (
        again.json()["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    )


def test_a_reused_or_malformed_key_is_refused(api):
    assert _post(api, "Credit of C-1042?", **{"Idempotency-Key": "reuse-1"}).status_code == 200
    r = _post(api, "Credit of C-1007?", **{"Idempotency-Key": "reuse-1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    r = _post(api, "Credit of C-1042?", **{"Idempotency-Key": "x" * 201})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["error"]["message"]


def test_a_thread_running_on_another_replica_is_busy(api):
    first = _post(api, "Credit of C-1042?").json()["fincopilot"]["thread_id"]
    other = RunLedger(replica="elsewhere", lease_s=60)
    _begin(other, "req-elsewhere", thread=first)
    r = api.post("/api/chat", json={"message": "again", "thread_id": first})
    assert r.status_code == 409 and r.json()["error"]["code"] == "thread_busy"
    other.finish("req-elsewhere", "done")


def test_continue_run_picks_up_from_the_last_checkpoint(isolated_home, tmp_path):
    """The takeover path in one process: a run abandoned after its plan (as when its process dies) is continued
    from the checkpoint, not from the start; a held run continued with its review is released; a finished one
    only reports done."""
    from server_fakes import DEMO, RISKY

    from fincopilot.safety import audit

    prepare_home(isolated_home)
    runner = fake_runner(tmp_path / "cp.sqlite")
    events = runner.run(DEMO, thread_id="t-cont", request_id="req-cont", principal=OPERATOR_1)
    for event in events:
        if event.type == "plan":
            break
    events.close()  # the consumer is gone mid-run
    time.sleep(0.5)
    continued = list(runner.continue_run("t-cont", "req-cont", text=DEMO, principal=OPERATOR_1))
    assert continued[-1].data["status"] == "answered" and "request" not in [e.type for e in continued]
    audit.flush()
    assert [r.payload["from_checkpoint"] for r in audit.rows("req-cont", event="run_continued")] == [True]
    assert len(audit.rows("req-cont", event="request")) == 1
    assert [e.type for e in runner.continue_run("t-cont", "req-cont", text=DEMO)] == ["done"]

    assert list(runner.run(RISKY, thread_id="t-held", principal=OPERATOR_1))[-1].data["status"] == "held"
    review = {"decision": "approve", "reviewer": "Carl"}
    done = list(runner.continue_run("t-held", "req-review", review=review))
    assert done[-1].data["status"] == "answered"
    assert [e.data["status"] for e in runner.continue_run("t-held", "req-review", review=review)] == [
        "answered"
    ]
