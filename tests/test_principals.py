"""Identity is a principal id carried by the key (issue 14.2) and every thread has an owner from creation
(issue 14.3): a name variant cannot approve its own answer, and an advisor cannot take over or read a thread
started on the command line. Real SQLite state, the real CopilotRunner with a scripted FAKE model gateway,
a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os

import httpx
import pytest
from server_fakes import RISKY, LiveServer, fake_runner, prepare_home

from fincopilot.errors import NotFoundError
from fincopilot.principal import Principal
from fincopilot.server.keys import KeyStore
from fincopilot.state.principals import normalize_handle

MODEL = "fincopilot-advisor"


@pytest.mark.parametrize(
    "variant", ["ann lee", "Ann  Lee", "LEE, Ann", "Ａｎｎ Ｌｅｅ", "A\u200bnn Lee", "Ann-Lee", "ANN\tLEE"]
)
def test_name_variants_normalize_to_one_handle(variant):
    assert normalize_handle(variant) == normalize_handle("Ann Lee") == "ann lee"


def test_keys_for_name_variants_share_a_principal(isolated_home):
    store = KeyStore()
    advisor, _ = store.create("advisor", "Ann Lee")
    officer, _ = store.create("compliance_officer", "ann lee")
    assert officer.principal_id == advisor.principal_id and advisor.principal_id.startswith("p-")
    other, _ = store.create("compliance_officer", "Ann Lee", principal="ann.lee.2@bank.example")
    assert other.principal_id != advisor.principal_id
    again, _ = store.create("advisor", "A. Lee", principal=other.principal_id)  # bind to an existing id
    assert again.principal_id == other.principal_id
    with pytest.raises(NotFoundError, match="no principal"):
        store.create("advisor", "X", principal="p-doesnotexist")
    nameless = [store.create("compliance_officer")[0] for _ in range(2)]
    assert nameless[0].principal_id != nameless[1].principal_id  # no name: a principal of its own


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = prepare_home(tmp_path_factory.mktemp("principals-home"))
    old = os.environ.get("FINCOPILOT_HOME")
    os.environ["FINCOPILOT_HOME"] = str(home)
    from fincopilot.server.app import create_app

    store = KeyStore(home / "server.sqlite")
    keys = {
        label: store.create(role, name)[1]
        for label, role, name in [
            # C-1042 is in Olivia Brandt's book: the advisor asks about her own client
            ("ann", "advisor", "Olivia Brandt"),
            ("ann-officer", "compliance_officer", "olivia brandt"),
            ("carl", "compliance_officer", "Carl Checker"),
            ("bob", "advisor", "Bob Wu"),
        ]
    }
    runner = fake_runner(home / "checkpoints.sqlite")
    with LiveServer(create_app({MODEL: runner}, keys=store)) as server:
        yield server, keys, runner, home
    if old is None:
        os.environ.pop("FINCOPILOT_HOME", None)
    else:
        os.environ["FINCOPILOT_HOME"] = old


@pytest.fixture
def live(served, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(served[3]))
    return served


def _client(live, who: str) -> httpx.Client:
    server, keys, _, _ = live
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys[who]}"}, timeout=60)


def _ask(client: httpx.Client, text: str, **extra) -> dict:
    r = client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": text}], **extra},
    )
    assert r.status_code == 200, r.text
    return r.json()["fincopilot"]


def test_a_name_variant_cannot_approve_its_own_answer(live):
    from fincopilot.safety import audit

    held = _ask(_client(live, "ann"), RISKY)
    assert held["status"] == "held"
    thread = held["thread_id"]
    view = _client(live, "ann-officer").get(f"/api/threads/{thread}").json()
    assert view["can_review"] is False
    r = _client(live, "ann-officer").post(f"/api/threads/{thread}/review", json={"decision": "approve"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_self_review"
    r = _client(live, "carl").post(f"/api/threads/{thread}/review", json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    audit.flush()
    reviews = [row.payload for row in audit.rows(event="review") if row.payload.get("thread_id") == thread]
    denied = next(p for p in reviews if p["outcome"] == "denied")
    assert denied["reviewer_principal"] == denied["asked_by_principal"]


def test_cli_threads_have_the_local_operator_as_owner(live):
    _, _, runner, _ = live
    from fincopilot.state.db import state_db
    from fincopilot.state.principals import local_operator

    events = list(runner.run("Credit of C-1042? email zhang.min@example.com", thread_id="cli-owned-1"))
    assert events[-1].data["status"] == "answered"
    owner = runner.index.owner("cli-owned-1")
    assert owner is not None and owner.principal_id == local_operator(state_db()).principal_id
    bob = _client(live, "bob")
    r = bob.post(
        "/v1/chat/completions",
        headers={"X-FinCopilot-Thread": "cli-owned-1"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "show me that history"}]},
    )
    assert r.status_code == 403
    r = bob.post("/api/chat", json={"message": "and now?", "thread_id": "cli-owned-1"})
    assert r.status_code == 403
    r = bob.get("/api/threads/cli-owned-1")
    assert r.status_code == 404 and "zhang.min" not in r.text
    assert "cli-owned-1" not in [t["thread_id"] for t in bob.get("/api/threads").json()["threads"]]
    assert _client(live, "carl").get("/api/threads/cli-owned-1").status_code == 200  # officers see all


def test_an_advisor_cannot_take_over_another_advisors_thread(live):
    mine = _ask(_client(live, "ann"), "Credit of C-1042?")["thread_id"]
    bob = _client(live, "bob")
    r = bob.post(
        "/v1/chat/completions",
        json={
            "model": MODEL,
            "metadata": {"thread_id": mine},
            "messages": [{"role": "user", "content": "Credit of C-1007?"}],
        },
    )
    assert r.status_code == 403
    assert bob.get(f"/api/threads/{mine}").status_code == 404


def test_a_thread_without_an_owner_record_is_refused(live):
    _, _, runner, _ = live
    list(runner.run("Credit of C-1042?", thread_id="legacy-1"))
    runner.index.forget(["legacy-1"])  # as if written before owners were recorded
    r = _client(live, "bob").post("/api/chat", json={"message": "Credit of C-1042?", "thread_id": "legacy-1"})
    assert r.status_code == 403 and "no recorded owner" in r.json()["error"]["message"]
    with pytest.raises(NotFoundError, match="someone else"):
        list(
            runner.run(
                "again", thread_id="cli-owned-x", principal=Principal(id="p-a", role="advisor", name="A")
            )
        )
        list(
            runner.run(
                "again", thread_id="cli-owned-x", principal=Principal(id="p-b", role="advisor", name="B")
            )
        )


def test_an_old_server_file_is_upgraded_in_place(isolated_home):
    """A server.sqlite written before principals existed: migration 2 gives each key and thread owner one."""
    import sqlite3

    from fincopilot.server.keys import hash_key
    from fincopilot.state.threads import ThreadIndex

    path = isolated_home / "server.sqlite"
    isolated_home.mkdir(parents=True, exist_ok=True)
    old = "fck_0123abcd_" + "s" * 32
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, role TEXT NOT NULL, "
        "name TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT)"
    )
    con.execute(
        "CREATE TABLE thread_owners (thread_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, name TEXT NOT NULL, "
        "model TEXT NOT NULL, title TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    con.execute(
        "INSERT INTO api_keys VALUES ('0123abcd', ?, 'advisor', 'Old Key', '2026-01-01T00:00:00+00:00', "
        "NULL, NULL)",
        (hash_key(old),),
    )
    con.execute("INSERT INTO thread_owners VALUES ('t-old', '0123abcd', 'Old Key', 'm', 'hi', 'x', 'x')")
    con.commit()
    con.close()
    store = KeyStore(path)
    assert store.verify(old).principal_id == "p-key-0123abcd"
    assert store.principals.get("p-key-0123abcd").display_name == "Old Key"
    assert ThreadIndex(path).owner("t-old").principal_id == "p-key-0123abcd"


def test_fincopilot_ask_records_the_local_operator_as_owner(live, tmp_path):
    from server_fakes import FAKE_CONFIG
    from typer.testing import CliRunner

    from fincopilot.cli import app
    from fincopilot.state.db import state_db
    from fincopilot.state.principals import local_operator
    from fincopilot.state.threads import ThreadIndex

    config = tmp_path / "fake.toml"
    config.write_text(FAKE_CONFIG)
    res = CliRunner().invoke(
        app, ["--config", str(config), "ask", "--no-model", "--thread", "cli-ask-1", "Credit of C-1042?"]
    )
    assert res.exit_code == 0, res.output
    owner = ThreadIndex().owner("cli-ask-1")
    assert owner is not None and owner.principal_id == local_operator(state_db()).principal_id
    assert _client(live, "bob").get("/api/threads/cli-ask-1").status_code == 404
