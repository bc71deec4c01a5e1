"""The HTTP server through the official `openai` client and httpx against a real uvicorn server on 127.0.0.1.

The runner is the real CopilotRunner (real LangGraph graph, workers, DuckDB, SQLite checkpointer, audit log);
its model calls go to a scripted FAKE backend (tests/server_fakes.py). The real embedded model runs in
tests/test_server_model.py; the restart test runs `fincopilot serve` as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
from server_fakes import (  # noqa: E402
    DEMO,
    FAKE_CONFIG,
    RISKY,
    LiveServer,
    fake_runner,
    free_port,
    prepare_home,
    wait_for_http,
)

MODEL = "fincopilot-advisor"


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    return prepare_home(tmp_path_factory.mktemp("server-home"))


@pytest.fixture(scope="module")
def live(module_home):
    """(server, keys): one server for the module, with an advisor, two compliance officers."""
    old = os.environ.get("FINCOPILOT_HOME")
    os.environ["FINCOPILOT_HOME"] = str(module_home)
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    store = KeyStore(module_home / "server.sqlite")
    keys = {
        name: store.create(role, name)[1]
        for name, role in [
            ("Olivia Brandt", "advisor"),
            ("Olga Officer", "compliance_officer"),
            ("Carl Checker", "compliance_officer"),
        ]
    }
    revoked, keys["revoked"] = store.create("advisor", "Rex Revoked")
    store.revoke(revoked.key_id)
    app = create_app({MODEL: fake_runner(module_home / "checkpoints.sqlite")}, keys=store)
    with LiveServer(app) as server:
        yield server, keys
    if old is None:
        os.environ.pop("FINCOPILOT_HOME", None)
    else:
        os.environ["FINCOPILOT_HOME"] = old


@pytest.fixture
def home(module_home, isolated_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(module_home))
    return module_home


def client(live, who="Olivia Brandt") -> openai.OpenAI:
    server, keys = live
    return openai.OpenAI(base_url=server.url + "/v1", api_key=keys[who], max_retries=0, timeout=60)


def http(live, who="Olivia Brandt") -> httpx.Client:
    server, keys = live
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys[who]}"}, timeout=60)


# ------------------------------------------------------------------------------------------- OpenAI API
def test_models_lists_each_graph(home, live):
    models = client(live).models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert client(live).models.retrieve(MODEL).id == MODEL


def test_openai_client_non_streaming_gets_a_cited_answer(home, live):
    resp = client(live).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": DEMO}])
    content = resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    assert "C-1042" in content and "585" in content  # the real scorecard's score, from the credit step
    assert "[1]" in content and "[2]" in content
    assert "Sources:" in content and "clients:C-1042" in content
    extra = resp.model_extra["fincopilot"]
    assert extra["status"] == "answered" and extra["compliance"]["passed"] is True
    assert [s["skill"] for s in extra["plan"]][:2] == ["credit_lookup", "report_summary"]


def test_openai_client_streaming_clean_content_and_progress(home, live):
    stream = client(live).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the credit grade of client C-1042?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, reasoning, events, finish, usage = "", "", [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            content += choice.delta.content or ""
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            finish = choice.finish_reason or finish
        ev = (chunk.model_extra or {}).get("fincopilot", {}).get("event")
        if ev:
            events.append(ev["type"])
    assert finish == "stop" and usage is not None and usage.completion_tokens > 0
    assert "grade B" in content and "[1]" in content
    assert "Plan" not in content and "step 1" not in content  # progress never leaks into the answer
    assert "Plan (" in reasoning and "✓ step 1 credit_lookup" in reasoning
    assert (
        events.index("plan")
        < events.index("step_start")
        < events.index("step_finish")
        < events.index("compliance")
    )


def test_resent_history_continues_the_same_thread(home, live):
    c = client(live)
    first = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Credit of C-1042?"}]
    )
    history = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Credit of C-1042?"},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "And of C-1007?"},
    ]
    second = c.chat.completions.create(model=MODEL, messages=history)
    thread = first.model_extra["fincopilot"]["thread_id"]
    assert second.model_extra["fincopilot"]["thread_id"] == thread
    view = http(live).get(f"/api/threads/{thread}").json()
    assert [t["role"] for t in view["turns"]] == ["user", "assistant", "user", "assistant"]
    # an explicit thread header wins; another key cannot write into this thread
    other = client(live, "Olga Officer")
    with pytest.raises(openai.PermissionDeniedError):
        other.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-FinCopilot-Thread": thread},
        )


def test_missing_wrong_and_revoked_keys_get_401(home, live):
    server, keys = live
    r = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": []})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert r.headers["www-authenticate"] == "Bearer"
    for bad in ("fck_00000000_" + "x" * 32, keys["revoked"], "Basic abc"):
        bad_client = openai.OpenAI(base_url=server.url + "/v1", api_key=bad, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad_client.models.list()
    assert httpx.get(server.url + "/api/threads").status_code == 401


def test_unknown_model_bad_json_and_empty_messages(home, live):
    with pytest.raises(openai.NotFoundError) as err:
        client(live).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "fincopilot-advisor" in str(err.value)
    h = http(live)
    for body, needle in [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"model": "fincopilot-advisor", "messages": []}', "at least one user message"),
        (b'{"model": "fincopilot-advisor"}', "messages"),
        (b'{"model": "fincopilot-advisor", "messages": [{"role": "user", "content": "   "}]}', "empty"),
        (b'{"model": "fincopilot-advisor", "messages": [{"role": "wizard", "content": "x"}]}', "role"),
    ]:
        r = h.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, body
        assert needle in r.json()["error"]["message"], (body, r.json())
    r = h.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "x" * 9000}]}
    )
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]
    r = h.get("/api/threads/'; DROP TABLE thread_owners; --")
    assert r.status_code == 400 and "thread id" in r.json()["error"]["message"]
    assert h.get("/api/threads/t-doesnotexist").status_code == 404


# ------------------------------------------------------------------------------------------- review
def _chat_events(h: httpx.Client, message: str) -> list[dict]:
    import json

    events, name = [], None
    with h.stream("POST", "/api/chat", json={"message": message}) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append({"event": name, **json.loads(line[5:])})
    return events


def test_held_answer_review_roles_and_identity(home, live):
    from fincopilot.safety import audit

    advisor, olga, carl = http(live), http(live, "Olga Officer"), http(live, "Carl Checker")
    events = _chat_events(advisor, RISKY)
    kinds = [e["event"] for e in events]
    thread = events[0]["thread_id"]
    assert kinds[-1] == "done" and events[-1]["data"]["status"] == "held"
    assert "held" in kinds and "compliance" in kinds
    assert "answer" not in kinds  # the non-compliant draft is not released to the advisor
    view = advisor.get(f"/api/threads/{thread}").json()
    assert view["status"] == "held" and "answer" not in view["held"] and view["can_review"] is False

    r = advisor.post(f"/api/threads/{thread}/review", json={"decision": "approve"})
    assert r.status_code == 403 and "compliance officer" in r.json()["error"]["message"]

    # an officer who asked cannot approve their own held answer
    own = _chat_events(olga, RISKY)
    r = olga.post(f"/api/threads/{own[0]['thread_id']}/review", json={"decision": "approve"})
    assert r.status_code == 403 and "person who asked" in r.json()["error"]["message"]

    officer_view = carl.get(f"/api/threads/{thread}").json()
    assert "guaranteed" in officer_view["held"]["answer"] and officer_view["can_review"] is True
    r = carl.post(f"/api/threads/{thread}/review", json={"decision": "edit"})
    assert r.status_code == 400 and "edited answer" in r.json()["error"]["message"]
    edited = "Zhang Min has grade B [1]. HY-7 may lose value; returns are not guaranteed [2]."
    r = carl.post(f"/api/threads/{thread}/review", json={"decision": "edit", "text": edited})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    view = advisor.get(f"/api/threads/{thread}").json()
    assert view["status"] == "answered" and view["turns"][-1]["content"] == edited
    r = carl.post(f"/api/threads/{thread}/review", json={"decision": "approve"})
    assert r.status_code == 409
    audit.flush()
    reviews = [
        r.payload
        for r in audit.rows(event="review")
        if r.payload.get("thread_id") == thread or r.payload.get("reviewer", "").startswith("Carl")
    ]
    outcomes = {(p.get("outcome"), p.get("reviewer_role")) for p in reviews}
    assert ("denied", "advisor") in outcomes and ("accepted", "compliance_officer") in outcomes
    accepted = next(p for p in reviews if p.get("outcome") == "accepted")
    assert accepted["asked_by"].startswith("Olivia Brandt") and accepted["reviewer"].startswith(
        "Carl Checker"
    )


def test_threads_are_private_to_advisors(home, live):
    advisor = http(live)
    events = _chat_events(advisor, "Credit of C-1042?")
    thread = events[0]["thread_id"]
    assert thread in [t["thread_id"] for t in advisor.get("/api/threads").json()["threads"]]
    server, keys = live
    from fincopilot.server.keys import KeyStore

    _, other = KeyStore(Path(os.environ["FINCOPILOT_HOME"]) / "server.sqlite").create("advisor", "Bob")
    bob = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other}"})
    assert bob.get(f"/api/threads/{thread}").status_code == 404
    assert thread not in [t["thread_id"] for t in bob.get("/api/threads").json()["threads"]]
    officer = http(live, "Olga Officer").get("/api/threads").json()["threads"]
    assert thread in [t["thread_id"] for t in officer]


# ------------------------------------------------------------------------------------------- restart
def test_conversation_survives_a_server_restart(home, tmp_path):
    """`fincopilot serve` as a subprocess (real CopilotRunner, --no-model, scripted FAKE config), stopped and
    started again on the same home: the thread's history is still there and the thread continues."""
    config = tmp_path / "fake.toml"
    config.write_text(FAKE_CONFIG)
    env = {**os.environ, "FINCOPILOT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    exe = str(Path(sys.executable).with_name("fincopilot"))
    key = subprocess.run(
        [exe, "keys", "create", "--role", "advisor", "--name", "Olivia Brandt"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    def start():
        port = free_port()
        proc = subprocess.Popen(
            [exe, "--config", str(config), "serve", "--no-model", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        return proc, openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=120
        )

    proc, c = start()
    try:
        first = c.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Credit of C-1042?"}]
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    thread = first.model_extra["fincopilot"]["thread_id"]
    proc, c = start()
    try:
        h = httpx.get(
            f"{c.base_url}".replace("/v1/", "") + f"/api/threads/{thread}",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert h.status_code == 200
        assert h.json()["turns"][0]["content"] == "Credit of C-1042?"
        assert h.json()["turns"][1]["content"] == first.choices[0].message.content.split("\n\nSources:")[0]
        second = c.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "user", "content": "Credit of C-1042?"},
                {"role": "assistant", "content": first.choices[0].message.content},
                {"role": "user", "content": "Now C-1007."},
            ],
        )
        assert second.model_extra["fincopilot"]["thread_id"] == thread
    finally:
        proc.terminate()
        proc.wait(timeout=30)
