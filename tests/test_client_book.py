"""Client-level authorization (red-team issue #14, item 4): an advisor sees only the clients of their book (the
`advisor` column of the real DuckDB `clients` table), a compliance officer sees every client; the principal
travels in SkillContext and the data layer enforces it; denials are audited and answered plainly (403 on the
server). The server test runs the real CopilotRunner with a scripted FAKE gateway (tests/server_fakes.py)."""

from __future__ import annotations

import httpx
import openai
import pytest
from server_fakes import DEMO, LiveServer, fake_runner, prepare_home

from fincopilot.agents.skills import SkillContext, get_skill
from fincopilot.principal import PermissionDenied, Principal, acting_as
from fincopilot.safety import audit
from fincopilot.tools import data

MODEL = "fincopilot-advisor"


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    return prepare_home(tmp_path_factory.mktemp("book-home"))


@pytest.fixture
def home(module_home, isolated_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(module_home))
    return module_home


@pytest.fixture
def book(home):
    """(owner of C-1042, another advisor, one client of the other advisor)."""
    with data.connect() as con:
        owner = con.execute("SELECT advisor FROM clients WHERE client_id = 'C-1042'").fetchone()[0]
        other, theirs = con.execute(
            "SELECT advisor, client_id FROM clients WHERE advisor <> ? ORDER BY client_id LIMIT 1", [owner]
        ).fetchone()
    return owner, other, theirs


def advisor(name: str) -> Principal:
    return Principal(id=f"key:{name.lower().replace(' ', '-')}", role="advisor", name=name)


def test_names_in_a_request_are_linked_only_within_the_book(book):
    owner, other, theirs = book
    mine, not_mine = data.get_client("C-1042"), data.get_client(theirs)
    text = f"compare {mine.name_en} with {not_mine.name_zh}"
    assert sorted(c.client_id for c in data.named_in([text])[0][0]) == sorted([mine.client_id, theirs])
    with acting_as(advisor(owner)):
        assert [c.client_id for c in data.named_in([text])[0][0]] == [mine.client_id]


def test_advisor_reads_only_their_book_and_denials_are_audited(book):
    owner, other, theirs = book
    with acting_as(advisor(owner)):
        assert data.get_client("C-1042").advisor == owner
        assert data.get_holdings("C-1042") and data.get_credit_record("C-1042")
        assert {c.advisor for c in data.search_clients("C-", limit=200)} == {owner}
        with pytest.raises(PermissionDenied, match=rf"client {theirs} is not in your book \({owner}\)"):
            data.get_client(theirs)
    with acting_as(advisor(other)):
        for read in (
            data.get_client,
            data.get_holdings,
            data.get_transactions,
            data.get_advisor_notes,
            data.get_credit_record,
        ):
            with pytest.raises(PermissionDenied, match="an advisor sees only the clients assigned to them"):
                read("C-1042")
        with pytest.raises(PermissionDenied):
            data.get_client("Zhang Min")  # by name too
    denied = [r.payload for r in audit.rows(event="access_denied")]
    assert (
        len(denied) == 7 and denied[1]["principal"] == advisor(other).id and denied[1]["client"] == "C-1042"
    )


def test_a_name_variant_of_the_owner_is_not_the_owner(book):
    owner, _, _ = book
    with acting_as(advisor(owner.lower())), pytest.raises(PermissionDenied):
        data.get_client("C-1042")


def test_compliance_officer_and_operator_see_every_client(book):
    _, other, theirs = book
    for who in (
        Principal(id="key:olga", role="compliance_officer", name="Olga Officer"),
        Principal(id="local:ops", role="operator", name="ops"),
    ):
        with acting_as(who):
            assert (
                data.get_client("C-1042").client_id == "C-1042" and data.get_client(theirs).advisor == other
            )
            assert len({c.advisor for c in data.search_clients("C-", limit=200)}) > 1


def test_skills_enforce_the_principal_in_their_context(book):
    owner, other, _ = book
    s = get_skill("credit_lookup")
    ok = s.run(
        {"client": "C-1042", "explain": False},
        SkillContext(skill=s.name, allowed_tools=s.tools, principal=advisor(owner)),
    )
    assert ok.model_dump()["client_id"] == "C-1042"
    with pytest.raises(PermissionDenied):
        s.run(
            {"client": "C-1042", "explain": False},
            SkillContext(skill=s.name, allowed_tools=s.tools, principal=advisor(other)),
        )


@pytest.fixture
def live(home, book):
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    owner, other, _ = book
    store = KeyStore(home / "book-server.sqlite")
    keys = {
        name: store.create(role, name)[1]
        for name, role in [(owner, "advisor"), (other, "advisor"), ("Olga Officer", "compliance_officer")]
    }
    with LiveServer(create_app({MODEL: fake_runner(home / "book-checkpoints.sqlite")}, keys=store)) as server:
        yield server, keys


def test_server_answers_403_for_another_advisors_client(live, book):
    server, keys = live
    owner, other, _ = book

    def ask(who: str):
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=keys[who], max_retries=0, timeout=120)
        return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": DEMO}])

    with pytest.raises(openai.PermissionDeniedError, match="client C-1042 is not in your book"):
        ask(other)
    denied = audit.rows(event="access_denied")
    assert (
        denied and denied[-1].payload["principal_name"] == other and denied[-1].payload["client"] == "C-1042"
    )
    assert "C-1042" in ask(owner).choices[0].message.content
    assert "C-1042" in ask("Olga Officer").choices[0].message.content
    resp = httpx.post(
        server.url + "/api/chat",
        json={"message": DEMO},
        timeout=120,
        headers={"Authorization": f"Bearer {keys[other]}"},
    )
    assert "not in your book" in resp.text and '"status": "answered"' not in resp.text


def test_principal_of_a_key_prefers_its_stable_principal_id():
    from types import SimpleNamespace

    from fincopilot.principal import principal_of_key

    plain = SimpleNamespace(key_id="k1", role="advisor", name="Bob Wu")
    assert principal_of_key(plain) == Principal(id="key:k1", role="advisor", name="Bob Wu")
    stable = SimpleNamespace(key_id="k2", role="compliance_officer", name="Olga", principal_id="p-olga")
    assert principal_of_key(stable).id == "p-olga" and principal_of_key(stable).sees_every_client
