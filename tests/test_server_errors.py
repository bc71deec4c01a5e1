"""The server's one error table (fincopilot/server/errors.py): every mapped error type answers its status and
an OpenAI-style body, through the installed exception handlers of a minimal app (no runner involved)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fincopilot.errors import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    FinCopilotError,
    InputError,
    NotFoundError,
    PlanValidationError,
    UnknownBackendError,
)
from fincopilot.principal import PermissionDenied
from fincopilot.server import errors
from fincopilot.server.errors import (
    ERRORS,
    BodyTooLarge,
    EmptyMessages,
    EmptyText,
    IdempotencyKeyReused,
    InvalidField,
    InvalidIdempotencyKey,
    InvalidJson,
    InvalidMessages,
    ModelNotFound,
    NotAReviewer,
    NotHeld,
    RunFailed,
    SelfReview,
    ShuttingDown,
    TextTooLong,
    ThreadForbidden,
    ThreadNotFound,
    Unauthorized,
    error_body,
)
from fincopilot.state.runs import ThreadBusy
from fincopilot.state.threads import InvalidThreadId, check_thread_id

IRE, PERM, SRV = "invalid_request_error", "permission_error", "server_error"

# (error raised, status, type, code, param): the HTTP contract the existing clients and tests rely on
CASES = [
    (Unauthorized("Incorrect or revoked API key"), 401, IRE, "invalid_api_key", None),
    (BodyTooLarge("too big"), 413, IRE, "body_too_large", None),
    (InvalidJson("not JSON"), 400, IRE, "invalid_json", None),
    (InvalidField("invalid field n", param="n"), 400, IRE, "invalid_request", "n"),
    (EmptyText("the message is empty"), 400, IRE, "empty_message", None),
    (TextTooLong("the message is long"), 400, IRE, "message_too_long", None),
    (EmptyMessages("no user message"), 400, IRE, "empty_messages", "messages"),
    (InvalidMessages("last is not the user's"), 400, IRE, "invalid_messages", "messages"),
    (InvalidThreadId("bad thread id"), 400, IRE, "invalid_thread_id", "thread_id"),
    (InvalidIdempotencyKey("bad key"), 400, IRE, "invalid_idempotency_key", "Idempotency-Key"),
    (IdempotencyKeyReused("reused"), 422, IRE, "idempotency_key_reused", "Idempotency-Key"),
    (NotHeld("not held"), 409, IRE, "not_held", None),
    (ThreadBusy("busy"), 409, IRE, "thread_busy", None),
    (InputError("bad input"), 400, IRE, "invalid_input", None),
    (ConfigError("bad config"), 500, SRV, "fincopilot_error", None),
    (PlanValidationError(["cycle"]), 500, SRV, "fincopilot_error", None),
    (ModelNotFound("no model"), 404, IRE, "model_not_found", "model"),
    (ThreadNotFound("no thread"), 404, IRE, "thread_not_found", None),
    (NotFoundError("no client"), 404, IRE, "not_found", None),
    (UnknownBackendError("no backend"), 404, IRE, "not_found", None),
    (ThreadForbidden("someone else's"), 403, IRE, "forbidden", None),
    (NotAReviewer("only officers"), 403, PERM, "forbidden_role", None),
    (SelfReview("not your own"), 403, PERM, "forbidden_self_review", None),
    (PermissionDenied("not in your book"), 403, PERM, "client_not_in_book", None),
    (ShuttingDown("shutting down"), 503, SRV, "shutting_down", None),
    (BackendError("backend failed"), 503, SRV, "backend_unavailable", None),
    (BackendUnavailable("circuit open"), 503, SRV, "backend_unavailable", None),
    (RunFailed("could not answer"), 500, SRV, "run_failed", None),
    (FinCopilotError("something"), 500, SRV, "fincopilot_error", None),
]


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    errors.install(app)
    raised: dict[str, Exception] = {}

    @app.get("/raise/{n}")
    async def _raise(n: int) -> None:
        raise raised[str(n)]

    app.state.raised = raised
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("err, status, type_, code, param", CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_mapped_error_answers_its_status_and_body(client, err, status, type_, code, param):
    client.app.state.raised["1"] = err
    resp = client.get("/raise/1")
    assert resp.status_code == status
    assert resp.json() == {"error": {"message": str(err), "type": type_, "param": param, "code": code}}
    assert resp.json() == error_body(err)
    assert (resp.headers.get("www-authenticate") == "Bearer") == (status == 401)


def test_every_row_of_the_table_is_covered():
    covered = {type(c[0]) for c in CASES}
    assert set(ERRORS) <= covered, set(ERRORS) - covered


def test_a_request_fastapi_cannot_validate_is_an_invalid_field(client):
    resp = client.get("/raise/not-a-number")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith("invalid path.n:")


def test_the_one_thread_id_rule():
    assert check_thread_id("t-1a.b:c_D") == "t-1a.b:c_D"
    for bad in ("", "x" * 101, "a b", "t1\n", "'; DROP TABLE x; --", None):
        with pytest.raises(InvalidThreadId, match="thread id must be 1-100"):
            check_thread_id(bad)
