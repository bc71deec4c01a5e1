"""Desensitization: pseudonyms, restore, and the structural guarantee that an external backend
(here a real OpenAI-compatible HTTP server on 127.0.0.1, reached with the real `openai` backend) never
receives raw personal data, while the advisor sees the real values."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from fincopilot.config import BackendSpec
from fincopilot.models.backends.openai import OpenAIBackend
from fincopilot.models.backends.scripted import ScriptedBackend
from fincopilot.models.base import BaseBackend, ProtocolBackend
from fincopilot.models.messages import Completion, Usage, messages
from fincopilot.models.registry import build_backend, clear_instances, get_backend, register_kind
from fincopilot.safety import audit
from fincopilot.safety.desensitize import Pseudonymizer, StreamRestorer
from tests.capture_server import CaptureServer
from tests.pii_corpus import CARD_A, CORPUS, ID_A, ID_B
from tests.safety_helpers import backend, gateway_for, leaked, make_clients_db, settings_of


class Echo(BaseModel):
    echo: str


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_instances()
    yield
    clear_instances()


@pytest.fixture
def clients_db(isolated_home):
    """The domain DuckDB (home()/fincopilot.duckdb) with known clients, so names come from the real reader."""
    return make_clients_db(isolated_home / "fincopilot.duckdb")


@pytest.fixture
def server():
    with CaptureServer() as srv:
        yield srv


# --- pseudonyms ------------------------------------------------------------------------------------------
def test_same_value_same_token_and_typed_labels():
    p = Pseudonymizer(known_names=["Zhang Wei", "张伟"])
    masked = p.mask(
        f"Zhang Wei 13800138000, ID {ID_A}; again 138 0013 8000 and zhang  wei; card {CARD_A}; a@b.cn"
    )
    assert masked == (
        "<PERSON_1> <PHONE_1>, ID <ID_CARD_1>; again <PHONE_1> and <PERSON_1>; card <BANK_CARD_1>; <EMAIL_1>"
    )
    assert p.mask("客户张伟，C-1042") == "客户<PERSON_2>，<ACCOUNT_1>"
    assert p.counts() == {"name": 3, "phone": 2, "id_card": 1, "bank_card": 1, "email": 1, "account_id": 1}


def test_restore_is_tolerant_and_leaves_unknown_tokens():
    p = Pseudonymizer(known_names=["Alice Morgan"])
    p.mask("Alice Morgan, C-1042")
    assert p.restore("<PERSON_1> (<ACCOUNT_1>)") == "Alice Morgan (C-1042)"
    assert p.restore("< person_1 > and PERSON_1, ACCOUNT 1?") == "Alice Morgan and Alice Morgan, ACCOUNT 1?"
    assert p.restore("<PERSON_9> stays") == "<PERSON_9> stays"
    assert p.restore_obj({"a": ["<PERSON_1>", ("<ACCOUNT_1>",)], "n": 3}) == {
        "a": ["Alice Morgan", ("C-1042",)],
        "n": 3,
    }


def test_stream_restorer_handles_tokens_split_across_chunks():
    p = Pseudonymizer(known_names=["Alice Morgan"])
    p.mask("Alice Morgan")
    r = StreamRestorer(p)
    text = "Dear <PERSON_1>, and PERSON_1 again."
    out = "".join(r.feed(text[i : i + 2]) for i in range(0, len(text), 2)) + r.flush()
    assert out == "Dear Alice Morgan, and Alice Morgan again."


# --- the real HTTP path ----------------------------------------------------------------------------------
def test_corpus_zero_raw_pii_reaches_external_and_advisor_sees_real_values(server, clients_db):
    assert len(CORPUS) >= 20
    cfg = settings_of(backend("cloud", base_url=server.base_url))
    gw = gateway_for(cfg)
    all_secrets: list[str] = []
    for i, (text, secrets) in enumerate(CORPUS):
        out = gw.complete(
            "report_summary", messages(text, system="You help bank advisors."), request_id=f"req-corpus-{i}"
        )
        assert out.text == "ECHO: " + text, (i, out.text)  # restored exactly
        all_secrets += secrets
    assert len(server.bodies) == len(CORPUS)
    assert leaked(all_secrets, server.bodies) == []
    sent = json.dumps(server.bodies, ensure_ascii=False)
    assert "<PERSON_1>" in sent and "<ID_CARD_1>" in sent and "<PHONE_1>" in sent and "<EMAIL_1>" in sent
    events = audit.rows(event="desensitize")
    assert len(events) == len(CORPUS) and all(e.payload["backend"] == "cloud" for e in events)
    assert audit.rows("req-corpus-1", event="desensitize")[0].payload["replaced"] == {
        "name": 1,
        "id_card": 1,
        "phone": 1,
    }


def test_schema_path_is_desensitized_and_parsed_object_restored(server, clients_db):
    cfg = settings_of(backend("cloud", base_url=server.base_url, options={"structured_mode": "json_schema"}))
    text = f"王芳 (C-2077) card {CARD_A}, ID {ID_B}"
    out = gateway_for(cfg).complete("credit_lookup", messages(text), schema=Echo, request_id="req-schema")
    assert isinstance(out.parsed, Echo) and out.parsed.echo == text and text in out.text
    body = server.bodies[-1]
    assert body["response_format"]["type"] == "json_schema"
    assert leaked(["王芳", "C-2077", CARD_A, ID_B], [body]) == []


def test_same_client_same_token_across_calls_of_one_request(server, clients_db):
    gw = gateway_for(settings_of(backend("cloud", base_url=server.base_url)))
    gw.complete("planner", messages("Zhang Wei wants HY-7"), request_id="req-same")
    gw.complete("credit_lookup", messages("check 张伟 and Zhang Wei"), request_id="req-same")
    first, second = (b["messages"][-1]["content"] for b in server.bodies)
    assert first == "<PERSON_1> wants HY-7" and second == "check <PERSON_2> and <PERSON_1>"


def test_every_path_to_an_external_backend_is_guarded(server, clients_db):
    """Not only the gateway: the registry instance, a directly constructed backend, batch and stream."""
    spec = BackendSpec(**backend("cloud", base_url=server.base_url))
    cfg = settings_of(spec.model_dump())
    secret = "Robert Chen, phone 13912345678, robert.chen@example.com"
    via_registry = get_backend("cloud", cfg)
    assert via_registry.complete(messages(secret)).text == "ECHO: " + secret
    direct = OpenAIBackend(spec)  # no registry, no gateway
    assert direct.complete(messages(secret)).text == "ECHO: " + secret
    batch = direct.complete_batch([messages(secret), messages("Li Na C-3310")])
    assert [c.text for c in batch] == ["ECHO: " + secret, "ECHO: Li Na C-3310"]
    streamed = "".join(direct.stream(messages(secret)))
    assert streamed == "ECHO: " + secret
    assert len(server.bodies) == 5
    assert (
        leaked(["Robert Chen", "13912345678", "robert.chen@example.com", "Li Na", "C-3310"], server.bodies)
        == []
    )


def test_local_backend_gets_raw_values_and_remarking_external_takes_effect():
    seen: list[str] = []

    def reply(msgs, schema):
        seen.append(msgs[-1].content)
        return "ok"

    b = ScriptedBackend.from_function("local-fake", reply)  # scripted FAKE model, local residency
    b.complete(messages("Zhang Wei 13800138000"))
    b.spec.residency = "external"
    b.complete(messages("Zhang Wei 13800138000"))
    # no clients database here, so the name is unknown; the phone is always detected
    assert seen == ["Zhang Wei 13800138000", "Zhang Wei <PHONE_1>"]


def test_subclass_overriding_complete_is_refused():
    """A backend cannot bypass the outbound gate (models/outbound.py) by overriding the public method: the class is
    refused when it is defined (it implements `_generate` instead)."""
    with pytest.raises(TypeError, match="overrides complete.*_generate"):

        class Sneaky(BaseBackend):
            def complete(self, messages, *, schema=None, max_tokens=256, temperature=0.0):
                return Completion(text=messages[-1].content, backend_id=self.id)


def test_protocol_only_backend_is_wrapped_by_the_registry():
    sent: list[str] = []

    @register_kind("plainproto")
    class PlainProtocol:  # implements the protocol without subclassing BaseBackend
        def __init__(self, spec):
            self.spec, self.id = spec, spec.id

        def complete(self, messages, *, schema=None, max_tokens=256, temperature=0.0):
            sent.append(messages[-1].content)
            return Completion(text=messages[-1].content, backend_id=self.id, usage=Usage())

        def complete_batch(self, batch, **kw):
            return [self.complete(m, **kw) for m in batch]

        def stream(self, messages, **kw):
            yield self.complete(messages).text

    b = build_backend(BackendSpec(id="proto", kind="plainproto", model="x", residency="external"))
    assert isinstance(b, ProtocolBackend)
    assert b.complete(messages("mail me at a.b@example.com")).text == "mail me at a.b@example.com"
    assert sent == ["mail me at <EMAIL_1>"]
    local = build_backend(BackendSpec(id="proto2", kind="plainproto", model="x"))
    assert local.complete(messages("mail me at c.d@example.com")).text == "mail me at c.d@example.com"
    assert sent[-1] == "mail me at c.d@example.com"  # a local spec gets the raw text
    # its `complete` takes no seed: a seeded call answers unseeded instead of failing (and tripping the breaker)
    assert local.complete(messages("hi"), temperature=1.0, seed=3).text == "hi"


def test_pattern_constrained_schema_survives_tokens():
    """The model echoes a token where the schema wants `C-NNNN`: parsing happens on the restored text."""

    class Client(BaseModel):
        client_id: str = Field(pattern=r"^C-\d{4}$")
        note: str

    def reply(msgs, schema):  # scripted FAKE external model that copies the token it was given
        token = msgs[-1].content.split()[-1]
        return json.dumps({"client_id": token, "note": f"checked {token}"})

    b = ScriptedBackend.from_function("fake-cloud", reply, residency="external")
    out = b.complete(messages("look up C-1042"), schema=Client)
    assert out.parsed == Client(client_id="C-1042", note="checked C-1042")
    assert b.calls[-1][-1].content == "look up <ACCOUNT_1>"


def test_clients_of_the_real_domain_database_never_reach_external(server, isolated_home):
    """Names, ids, emails and phones of clients generated by `fincopilot data init` (tools/data.py)."""
    import duckdb

    from fincopilot.tools.data import init_db

    init_db()
    con = duckdb.connect(str(isolated_home / "fincopilot.duckdb"), read_only=True)
    clients = con.execute(
        "SELECT client_id, name_en, name_zh, email, phone FROM clients ORDER BY client_id LIMIT 6"
    ).fetchall()
    con.close()
    gw = gateway_for(settings_of(backend("cloud", base_url=server.base_url)))
    secrets: list[str] = []
    for i, (cid, en, zh, email, phone) in enumerate(clients):
        text = (
            f"Client {cid} ({en}, {zh}) asked about HY-7; reach {en.split()[-1]} {en.split()[0]} at {email} "
            if i % 2
            else f"客户{zh}（{cid}）想了解HY-7，电话{phone}，邮箱{email}。"
        )
        out = gw.complete("report_summary", messages(text), request_id=f"req-db-{i}")
        assert out.text == "ECHO: " + text
        secrets += [cid, en, zh, email, f"{en.split()[-1]} {en.split()[0]}"] + ([phone] if phone else [])
    assert leaked(secrets, server.bodies) == []
