"""Every error the server answers, in ONE table: error type → HTTP status and an OpenAI-style body.

Routes raise `fincopilot.errors` types (or the server's subclasses below, each naming one precise case);
the exception handlers installed by `install` look the error's class up in `ERRORS` (the most specific class
in its MRO wins) and answer `{"error": {"message", "type", "param", "code"}}`, OpenAI's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from fincopilot.errors import BackendError, FinCopilotError, InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.principal import PermissionDenied
from fincopilot.state.runs import ThreadBusy
from fincopilot.state.threads import InvalidThreadId

log = get_logger(__name__)


# --- the server's precise cases, each a subclass of the fincopilot.errors type it is ---------------------
class Unauthorized(FinCopilotError):
    """No API key, a malformed Authorization header, or a wrong or revoked key."""


class BodyTooLarge(InputError):
    """The request body is over the size limit."""


class InvalidJson(InputError):
    """The request body is not a JSON object (empty, malformed, too deeply nested)."""


class InvalidField(InputError):
    """A field of the request body is missing or invalid; `param` names it."""

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


class EmptyText(InputError):
    """A message (or an edited answer) is empty."""


class TextTooLong(InputError):
    """A message (or an edited answer) is over its limit."""


class EmptyMessages(InputError):
    """An OpenAI `messages` array without a user message."""


class InvalidMessages(InputError):
    """An OpenAI `messages` array whose last message is not the user's."""


class InvalidIdempotencyKey(InputError):
    """An Idempotency-Key header that is not 1-200 printable ASCII characters."""


class IdempotencyKeyReused(InputError):
    """An Idempotency-Key already used for a different request."""


class NotHeld(InputError):
    """A review of a thread that has no answer waiting for review."""


class ModelNotFound(NotFoundError):
    """No graph is served under that model name."""


class ThreadNotFound(NotFoundError):
    """No thread of that id that the caller may see."""


class ThreadForbidden(PermissionDenied):
    """A thread someone else owns (or one with no recorded owner)."""


class NotAReviewer(PermissionDenied):
    """Only a compliance officer reviews a held answer."""


class SelfReview(PermissionDenied):
    """A reviewer may not review an answer they asked for."""


class ShuttingDown(BackendError):
    """The server is stopping and starts no new run."""


class RunFailed(FinCopilotError):
    """The copilot run ended in an error."""


@dataclass(frozen=True)
class HttpError:
    """How one error type is answered."""

    status: int
    code: str | None
    type: str = "invalid_request_error"
    param: str | None = None


# --- THE table ---------------------------------------------------------------------------------------------
ERRORS: dict[type[BaseException], HttpError] = {
    Unauthorized: HttpError(401, "invalid_api_key"),
    BodyTooLarge: HttpError(413, "body_too_large"),
    InvalidJson: HttpError(400, "invalid_json"),
    InvalidField: HttpError(400, "invalid_request"),
    EmptyText: HttpError(400, "empty_message"),
    TextTooLong: HttpError(400, "message_too_long"),
    EmptyMessages: HttpError(400, "empty_messages", param="messages"),
    InvalidMessages: HttpError(400, "invalid_messages", param="messages"),
    InvalidThreadId: HttpError(400, "invalid_thread_id", param="thread_id"),
    InvalidIdempotencyKey: HttpError(400, "invalid_idempotency_key", param="Idempotency-Key"),
    IdempotencyKeyReused: HttpError(422, "idempotency_key_reused", param="Idempotency-Key"),
    NotHeld: HttpError(409, "not_held"),
    ThreadBusy: HttpError(409, "thread_busy"),
    InputError: HttpError(400, "invalid_input"),
    ModelNotFound: HttpError(404, "model_not_found", param="model"),
    ThreadNotFound: HttpError(404, "thread_not_found"),
    NotFoundError: HttpError(404, "not_found"),
    ThreadForbidden: HttpError(403, "forbidden"),
    NotAReviewer: HttpError(403, "forbidden_role", type="permission_error"),
    SelfReview: HttpError(403, "forbidden_self_review", type="permission_error"),
    PermissionDenied: HttpError(403, "client_not_in_book", type="permission_error"),
    ShuttingDown: HttpError(503, "shutting_down", type="server_error"),
    BackendError: HttpError(503, "backend_unavailable", type="server_error"),
    RunFailed: HttpError(500, "run_failed", type="server_error"),
    FinCopilotError: HttpError(500, "fincopilot_error", type="server_error"),
}


def http_error(err: FinCopilotError) -> HttpError:
    """The table's row for `err`: its most specific class that the table names."""
    return next(ERRORS[cls] for cls in type(err).__mro__ if cls in ERRORS)


def error_body(err: FinCopilotError) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}` for `err`."""
    row = http_error(err)
    param = getattr(err, "param", None) or row.param
    return {"error": {"message": str(err), "type": row.type, "param": param, "code": row.code}}


def error_response(err: FinCopilotError) -> JSONResponse:
    """The HTTP answer to `err` (401s name the Bearer scheme)."""
    status = http_error(err).status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(err), status_code=status, headers=headers)


async def _fincopilot_error(_: Request, err: FinCopilotError) -> Response:
    return error_response(err)


async def _invalid_request(_: Request, err: RequestValidationError) -> Response:
    first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(InvalidField(f"invalid {where}: {first['msg']}"))


async def _client_gone(request: Request, _: Exception) -> Response:
    # the client hung up while sending its body: nothing to answer, nothing to trace
    log.info("client_disconnected", path=request.url.path)
    return Response(status_code=499)


def install(app: FastAPI) -> None:
    """Answer every FinCopilotError through the table; a request FastAPI cannot validate as an invalid field;
    a client that hung up mid-body with nothing."""
    app.add_exception_handler(FinCopilotError, _fincopilot_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, _client_gone)
