"""Hostile HTTP input (red-team issue #14, item 8) against a real uvicorn server on 127.0.0.1: deeply nested
JSON, unsupported or out-of-range OpenAI parameters, the schema pages, client disconnects mid-body, and a
hypothesis search for any body that gets a 500. The runner is a scripted FAKE (EchoRunner, named as one):
these tests are about the HTTP layer, the real graph is in test_server.py."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_fakes import LiveServer

from fincopilot.errors import NotFoundError
from fincopilot.graphs.events import Event

MODEL = "fincopilot-advisor"


class EchoRunner:
    """FAKE runner: answers every request with its own text at once (no graph, no model)."""

    def __init__(self):
        self.seen: set[str] = set()

    def run(self, text, *, thread_id=None, request_id=None, principal=None):
        rid = request_id or "r"
        self.seen.add(thread_id)
        yield Event(type="answer", request_id=rid, thread_id=thread_id, data={"text": f"echo: {text}"})
        yield Event(type="compliance", request_id=rid, thread_id=thread_id, data={"passed": True})
        yield Event(type="done", request_id=rid, thread_id=thread_id, data={"status": "answered"})

    def resume(self, thread_id, review):
        return iter(())

    def thread(self, thread_id):
        # like the real runner: a thread it never ran has no checkpoints (the server refuses to adopt a thread
        # that has checkpoints but no recorded owner)
        if thread_id not in self.seen:
            raise NotFoundError(f"no thread {thread_id!r}")
        return {"thread_id": thread_id, "status": "answered"}

    def threads(self):
        return []


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    store = KeyStore(tmp_path_factory.mktemp("input-home") / "server.sqlite")
    _, token = store.create("advisor", "Ann Advisor")
    with (
        LiveServer(create_app({MODEL: EchoRunner()}, keys=store)) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
    ):
        yield server, http


def _chat(**extra) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], **extra}


def test_a_plain_request_still_works(live):
    resp = live[1].post("/v1/chat/completions", json=_chat(n=1, max_tokens=5, temperature=0.2))
    assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == "echo: hello"


def test_deeply_nested_json_under_the_size_limit_is_a_400(live):
    depth = 200_000
    nested = "[" * depth + "]" * depth
    body = f'{{"model": "{MODEL}", "messages": [{{"role": "user", "content": "hi"}}], "metadata": {{"x": {nested}}}}}'
    body = body.encode()
    assert len(body) < 1_000_000
    resp = live[1].post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "request body nests JSON deeper than 32 levels"
    brackets_in_text = _chat(messages=[{"role": "user", "content": "[[[[" * 100 + '\\"{{{' * 100}])
    assert live[1].post("/v1/chat/completions", json=brackets_in_text).status_code == 200


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("n", 3, "n=3 is not supported"),
        ("max_tokens", -5, "max_tokens"),
        ("temperature", "hot", "temperature"),
        ("temperature", 2.5, "temperature"),
        ("top_p", -1, "top_p"),
        ("max_completion_tokens", 0, "max_completion_tokens"),
    ],
)
def test_openai_parameters_out_of_range_are_a_400_in_openais_shape(live, field, value, message):
    resp = live[1].post("/v1/chat/completions", json=_chat(**{field: value}))
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (
        message in error["message"] and error["param"] == field and error["type"] == "invalid_request_error"
    )


def test_schema_pages_need_a_key(live):
    server, http = live
    assert httpx.get(server.url + "/openapi.json").status_code == 401
    assert httpx.get(server.url + "/docs").status_code == 404
    assert http.get("/openapi.json").json()["info"]["title"] == "FinCopilot"


def test_a_client_hanging_up_mid_body_leaves_no_traceback(live, caplog):
    server, _ = live
    host, port = server.url.removeprefix("http://").split(":")
    caplog.set_level(logging.INFO)
    uvicorn_log = logging.getLogger("uvicorn.error")  # does not propagate to the root logger
    uvicorn_log.addHandler(caplog.handler)
    for _ in range(3):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
                b'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"model": '
            )
        with socket.create_connection((host, int(port))) as sock:  # a valid key's request, cut short
            token = live[1].headers["Authorization"]
            sock.sendall(
                f"POST /api/chat HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
                'Content-Length: 5000\r\n\r\n{"message": '.encode()
            )
    time.sleep(0.5)
    uvicorn_log.removeHandler(caplog.handler)
    traces = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert traces == []
    assert live[1].get("/api/me").status_code == 200  # the server is fine


# --- hypothesis: no body is a 500 ----------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_fields = st.sampled_from(
    [
        "model",
        "messages",
        "stream",
        "n",
        "max_tokens",
        "temperature",
        "top_p",
        "metadata",
        "stop",
        "seed",
        "user",
        "stream_options",
        "message",
        "thread_id",
        "role",
        "content",
    ]
)
_bodies = st.one_of(
    st.dictionaries(_fields, _json, max_size=6),
    st.builds(
        lambda extra, content: {**extra, "model": MODEL, "messages": [{"role": "user", "content": content}]},
        st.dictionaries(_fields, _json, max_size=3),
        _json,
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies, path=st.sampled_from(["/v1/chat/completions", "/api/chat"]))
def test_property_random_json_bodies_never_get_a_500(live, body, path):
    resp = live[1].post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert resp.status_code < 500, (body, resp.text)
    if resp.status_code >= 400:
        assert resp.json()["error"]["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_property_random_bytes_never_get_a_500(live, raw):
    resp = live[1].post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code < 500, (raw, resp.text)


@pytest.mark.parametrize(
    "raw", [b'"\\' * 300_000, b'{"a": "' + b'\\"[' * 200_000 + b'"}', b"[" * 900_000, b'{"a": "[[[[\\']
)
def test_hostile_bodies_near_the_size_limit_are_400s(live, raw):
    resp = live[1].post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] in ("invalid_json", "invalid_request")
