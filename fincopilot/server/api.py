"""The FastAPI app: OpenAI-compatible `/v1` endpoints, JSON/SSE endpoints for the web page, the page itself.

    app = create_app()                       # the `fincopilot-advisor` graph on the real CopilotRunner
    app = create_app(runners={"fincopilot-advisor": runner})   # tests, custom graphs

Design notes (details in docs/interfaces.md):
- Each graph is an OpenAI "model". The OpenAI `messages` array is stateless; a request continues a thread
  when it names one (`X-FinCopilot-Thread` header or `metadata.thread_id`), else when the earlier messages
  hash to a conversation this server answered before (hash of asker key, model and user/assistant texts),
  else it starts a new thread. Only the last user message is sent to the runner: the thread has the rest.
- Compliance first: an answer is released only after the compliance verdict. Answer tokens are therefore
  not streamed; the plan and step progress are (as `reasoning_content` deltas plus a `fincopilot` field on
  OpenAI chunks, and as typed events on `/api/chat`). A held answer is not shown to advisors: they get a
  notice; compliance officers see the draft and review it.
- The runner is synchronous and may run a model for minutes: each run iterates in one worker thread
  (contextvars set inside the run stay in that thread) and hands events to the event loop through a queue.
  A run continues to completion when its client disconnects, so the thread stays consistent.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from itertools import accumulate
from typing import Any, Literal, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.requests import ClientDisconnect

from fincopilot import __version__
from fincopilot.errors import BackendError, FinCopilotError, InputError, NotFoundError
from fincopilot.graphs.events import Event
from fincopilot.log import get_logger, new_request_id
from fincopilot.principal import PermissionDenied, Principal, principal_of_key
from fincopilot.server.keys import ApiKey, KeyStore
from fincopilot.server.runs import RunService, tracked
from fincopilot.server.store import ThreadIndex, conversation_hash
from fincopilot.state.runs import RunLedger, RunRecord, ThreadBusy

log = get_logger(__name__)

DEFAULT_MODEL = "fincopilot-advisor"
MAX_MESSAGE_CHARS = 8000
MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
THREAD_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
KEEPALIVE_S = 15.0
PROGRESS_TYPES = ("plan", "step_start", "step_finish")
GRAPH_DESCRIPTIONS = {
    DEFAULT_MODEL: "Advisor copilot: plan → credit / report / compliance workers → cited answer → compliance gate",
}


class RunnerLike(Protocol):
    """What the server needs from a graph runner (`fincopilot.graphs.runner.CopilotRunner`)."""

    def run(
        self,
        text: str,
        *,
        thread_id: str | None = None,
        request_id: str | None = None,
        principal: Principal | None = None,
    ) -> Iterator[Event]: ...
    def resume(self, thread_id: str, review: Any) -> Iterator[Event]: ...
    def thread(self, thread_id: str) -> Any: ...
    def threads(self) -> list[str]: ...


# --- errors in OpenAI's format ------------------------------------------------------------------
class ApiError(Exception):
    """An HTTP error answered as `{"error": {"message", "type", "param", "code"}}` (OpenAI's shape)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _from_fincopilot_error(err: FinCopilotError) -> ApiError:
    if isinstance(err, PermissionDenied):
        return ApiError(403, str(err), type="permission_error", code="client_not_in_book")
    if isinstance(err, NotFoundError):
        return ApiError(404, str(err), code="not_found")
    if isinstance(err, InputError):
        return ApiError(400, str(err), code="invalid_input")
    if isinstance(err, BackendError):
        return ApiError(503, str(err), type="server_error", code="backend_unavailable")
    return ApiError(500, str(err), type="server_error", code="fincopilot_error")


# --- request bodies -------------------------------------------------------------------------------
class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    # OpenAI allows a list of content parts; the text parts are joined.
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text")
        )


class ChatCompletionRequest(BaseModel):
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None
    # Checked as OpenAI checks them, then ignored: the graph decides its own decoding. A value OpenAI would
    # refuse is a 400 here too, never silently accepted.
    n: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    # Other OpenAI fields (tools, response_format, ...) are accepted and ignored.
    model_config = {"extra": "allow"}

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n not in (None, 1):
            raise ValueError(
                f"n={n} is not supported: each request runs the copilot once and returns one choice"
            )
        return n


class ChatRequest(BaseModel):
    message: str
    thread_id: str | None = None
    model: str = DEFAULT_MODEL


class ReviewRequest(BaseModel):
    decision: Literal["approve", "edit", "reject"]
    text: str | None = Field(None, description="the corrected answer (required for `edit`)")


def _parse_body(raw: bytes, model: type[BaseModel]) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413, f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}", code="body_too_large"
        )
    if not raw.strip():
        raise ApiError(400, "request body is empty; send a JSON object", code="invalid_json")
    if _nesting_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError(
            400, f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels", code="invalid_json"
        )
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"request body is not valid JSON: {err}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object", code="invalid_json")
    try:
        return model.model_validate(data)
    except RecursionError:
        raise ApiError(400, "request body nests too deeply", code="invalid_json") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise ApiError(
            400, f"invalid field {where}: {first['msg']}", param=where, code="invalid_request"
        ) from None


# A string runs to its closing quote, or to the end of an (invalid) body that never closes it: every match attempt
# succeeds and nothing backtracks (possessive quantifiers), so the scan stays linear on hostile input.
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _nesting_depth(raw: bytes) -> int:
    """The deepest `[`/`{` nesting in a JSON text (brackets inside strings do not count), computed at C speed
    before parsing, so a deeply nested body is a clear 400, never a RecursionError."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _check_text(text: str, what: str = "message") -> str:
    text = text.strip()
    if not text:
        raise ApiError(400, f"the {what} is empty", code="empty_message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ApiError(
            400,
            f"the {what} is {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}",
            code="message_too_long",
        )
    return text


def _check_thread_id(thread_id: str) -> str:
    if not THREAD_ID_RE.match(thread_id):
        raise ApiError(
            400,
            "thread id must be 1-100 letters, digits or . _ : -",
            param="thread_id",
            code="invalid_thread_id",
        )
    return thread_id


# --- running a sync event iterator off the event loop ---------------------------------------------
class _RunPool:
    """Runs runner iterators in worker threads, one thread per run, and marks threads busy meanwhile."""

    def __init__(self, max_workers: int = 32):
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fincopilot-run")
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, thread_id: str) -> None:
        with self._lock:
            if thread_id in self._busy:
                raise ApiError(
                    409,
                    f"thread {thread_id} is already answering a request; wait for it to finish",
                    code="thread_busy",
                )
            self._busy.add(thread_id)

    def release(self, thread_id: str) -> None:
        with self._lock:
            self._busy.discard(thread_id)

    def start(self, factory: Callable[[], Iterable[Event]], thread_id: str) -> AsyncIterator[Event | None]:
        """Start the run now (in a worker thread) and return its events; `None` every KEEPALIVE_S seconds
        of silence. The worker releases `thread_id` when the run ends, whether or not anyone still listens."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone (server shutting down): nobody is listening
                pass

        def work() -> None:
            try:
                for event in factory():
                    put(("event", event))
            except BaseException as err:  # noqa: BLE001 - handed to the async side, which decides
                put(("error", err))
            finally:
                self.release(thread_id)
                put(("end", None))

        try:
            loop.run_in_executor(self.executor, work)
        except RuntimeError:
            self.release(thread_id)
            raise ApiError(
                503, "the server is shutting down", type="server_error", code="shutting_down"
            ) from None

        async def events() -> AsyncIterator[Event | None]:
            while True:
                try:
                    kind, item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield None
                    continue
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                yield item

        return events()

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


# --- compliance-first release of events -----------------------------------------------------------
class ReleaseGate:
    """Filters a run's events for one viewer: the answer waits for the compliance verdict.

    Token events are dropped (the answer event carries the whole text). A failed verdict withholds the
    answer from advisors; compliance officers get it marked `draft`.
    """

    def __init__(self, role: str):
        self.role = role
        self._answer: Event | None = None

    def feed(self, event: Event) -> list[Event]:
        if event.type == "token":
            return []
        if event.type == "answer":
            self._answer = event
            return []
        if event.type == "compliance":
            held_answer, self._answer = self._answer, None
            if held_answer is None:
                return [event]
            if event.data.get("passed", False):
                return [held_answer, event]
            if self.role == "compliance_officer":
                return [held_answer.model_copy(update={"data": {**held_answer.data, "draft": True}}), event]
            return [event]
        if event.type == "done":
            held_answer, self._answer = self._answer, None
            if held_answer is not None and event.data.get("status") == "answered":
                return [held_answer, event]
            return [event]
        return [event]


# --- turning events into OpenAI content -----------------------------------------------------------
class RunSummary(BaseModel):
    """What a finished run amounts to, for the OpenAI endpoints."""

    thread_id: str | None = None
    request_id: str | None = None
    status: str = "failed"
    answer: str | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    steps: dict[int, dict[str, Any]] = Field(default_factory=dict)
    plan: list[dict[str, Any]] = Field(default_factory=list)
    compliance: dict[str, Any] | None = None
    held_reason: str | None = None
    error: str | None = None
    answer_produced_by: str | None = None

    def add(self, event: Event) -> None:
        self.request_id = event.request_id or self.request_id
        self.thread_id = event.thread_id or self.thread_id
        d = event.data
        if event.type == "plan":
            self.plan = list(d.get("steps", []))
        elif event.type == "step_finish":
            self.steps[int(d.get("id", len(self.steps) + 1))] = d
        elif event.type == "answer":
            self.answer = str(d.get("text", ""))
            self.citations = list(d.get("citations", []))
            self.answer_produced_by = d.get("produced_by")
        elif event.type == "compliance":
            self.compliance = d
        elif event.type == "held":
            self.held_reason = str(d.get("reason", "")) or "the compliance check failed"
            self.thread_id = d.get("thread_id") or self.thread_id
        elif event.type == "error":
            self.error = str(d.get("message", "unknown error"))
        elif event.type == "done":
            self.status = str(d.get("status", "failed"))

    def content(self) -> str:
        """The assistant message a plain chat client shows."""
        if self.status == "held":
            violations = (self.compliance or {}).get("violations", [])
            cats = sorted({str(v.get("category", "")) for v in violations if isinstance(v, dict)} - {""})
            why = f" ({', '.join(cats)})" if cats else ""
            return (
                f"This answer is held for compliance review{why}: {self.held_reason}. "
                f"A compliance officer must approve it before it is released. Thread: {self.thread_id}."
            )
        if self.status == "rejected":
            return "A compliance officer rejected this answer; it will not be released."
        text = (self.answer or "").strip()
        footer = source_lines(self.citations, self.steps)
        return text + ("\n\nSources:\n" + "\n".join(footer) if footer else "")

    def extra(self) -> dict[str, Any]:
        """The `fincopilot` field added to OpenAI responses (clients that do not know it ignore it)."""
        return {
            "thread_id": self.thread_id,
            "request_id": self.request_id,
            "status": self.status,
            "plan": self.plan,
            "citations": self.citations,
            "compliance": self.compliance,
            "held_reason": self.held_reason,
            "answer_produced_by": self.answer_produced_by,
            "steps_produced_by": {str(k): v.get("produced_by") for k, v in sorted(self.steps.items())},
        }


async def visible_events(events: AsyncIterator[Event | None], role: str) -> AsyncIterator[Event | None]:
    """The run's events that `role` may see, in order; None passes through as a keep-alive tick."""
    gate = ReleaseGate(role)
    async for event in events:
        if event is None:
            yield None
            continue
        for ev in gate.feed(event):
            yield ev


def _cited_step(citation: dict[str, Any]) -> int | None:
    step = citation.get("step_id", citation.get("n"))
    try:
        return int(step)
    except (TypeError, ValueError):
        return None


def source_lines(citations: list[dict[str, Any]], steps: Mapping[int, dict[str, Any]]) -> list[str]:
    """`[n] skill: source, source` for each citation, from the cited step's output."""
    lines = []
    for c in citations:
        step_id = _cited_step(c)
        step = steps.get(step_id, {}) if step_id is not None else {}
        output = step.get("output") if isinstance(step.get("output"), dict) else {}
        sources = [str(s) for s in (output or {}).get("sources", [])][:3]
        label = step.get("skill", f"step {step_id}")
        lines.append(f"[{c.get('n', step_id)}] {label}" + (f": {', '.join(sources)}" if sources else ""))
    return lines


def progress_line(event: Event) -> str:
    """One human line for a progress event (shown as reasoning by clients such as Open WebUI)."""
    d = event.data
    if event.type == "plan":
        steps = d.get("steps", [])
        parts = [f"{s.get('id')}. {s.get('skill')}" for s in steps]
        return (
            f"Plan ({d.get('source', 'planner')}): " + ("; ".join(parts) if parts else "direct answer") + "\n"
        )
    if event.type == "step_start":
        return f"… step {d.get('id')} {d.get('skill')} started\n"
    if event.type == "step_finish":
        mark = "✓" if d.get("ok", True) else "✗"
        where = f" on {d['backend']}" if d.get("backend") else ""
        secs = f" in {float(d['latency_s']):.1f}s" if d.get("latency_s") is not None else ""
        return f"{mark} step {d.get('id')} {d.get('skill')}{where}{secs}\n"
    return ""


# --- the app -----------------------------------------------------------------------------------------
class _LazyRunners:
    """Model name → runner; the default runner (which imports the graph stack) is built on first use."""

    def __init__(self, runners: Mapping[str, RunnerLike] | None):
        self._runners: dict[str, RunnerLike] | None = dict(runners) if runners is not None else None
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._runners) if self._runners is not None else [DEFAULT_MODEL]

    def get(self, model: str) -> RunnerLike:
        if model not in self.names():
            raise ApiError(
                404,
                f"The model `{model}` does not exist; available models: {', '.join(self.names())}",
                param="model",
                code="model_not_found",
            )
        with self._lock:
            if self._runners is None:
                from fincopilot.graphs.runner import CopilotRunner

                self._runners = {DEFAULT_MODEL: CopilotRunner()}
        return self._runners[model]


def _review_object(decision: str, reviewer: str, text: str | None) -> Any:
    from fincopilot.graphs.runner import Review

    return Review(decision=decision, reviewer=reviewer, text=text)  # type: ignore[arg-type]


async def _has_checkpoints(runner: RunnerLike, thread_id: str) -> bool:
    try:
        await asyncio.to_thread(runner.thread, thread_id)
    except NotFoundError:
        return False
    return True


def _view_dict(view: Any) -> dict[str, Any]:
    if isinstance(view, BaseModel):
        return view.model_dump(mode="json")
    return dict(view)


def _acting(key: ApiKey) -> dict[str, str]:
    """The role and name a run acts with, recorded so a replica that takes it over acts the same."""
    return {"role": key.role, "name": key.name}


def create_app(
    runners: Mapping[str, RunnerLike] | None = None,
    *,
    keys: KeyStore | None = None,
    index: ThreadIndex | None = None,
    max_workers: int = 32,
) -> FastAPI:
    """Build the server. Without `runners`, `fincopilot-advisor` is the real CopilotRunner (built lazily)."""
    from fincopilot.safety import audit

    models = _LazyRunners(runners)
    key_store = keys or KeyStore()
    threads_index = index or ThreadIndex(key_store.path)
    pool = _RunPool(max_workers)
    ledger = RunLedger(threads_index.db)
    service = RunService(ledger, pool.executor, models.get)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start_reaper()  # continue runs whose replica died
        yield
        service.stop()
        pool.shutdown()

    # No public /docs or /openapi.json: the schema maps the attack surface, so it is served only with a key.
    app = FastAPI(
        title="FinCopilot",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.keys, app.state.index, app.state.pool, app.state.models = key_store, threads_index, pool, models
    static_dir = resources.files("fincopilot").joinpath("server/static")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    @app.exception_handler(FinCopilotError)
    async def _fc_error(request: Request, err: FinCopilotError) -> JSONResponse:
        return await _api_error(request, _from_fincopilot_error(err))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> Response:
        # the client hung up while sending its body: nothing to answer, nothing to trace
        log.info("client_disconnected", path=request.url.path)
        return Response(status_code=499)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return await _api_error(request, ApiError(400, f"invalid {where}: {first['msg']}"))

    # --- auth --------------------------------------------------------------------------------------
    def caller(request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(
                401,
                "Missing API key: send `Authorization: Bearer <key>` "
                "(create one with `fincopilot keys create --role advisor`)",
                code="invalid_api_key",
            )
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401, "Malformed Authorization header: expected `Bearer <key>`", code="invalid_api_key"
            )
        key = key_store.verify(token)
        if key is None:
            raise ApiError(401, "Incorrect or revoked API key", code="invalid_api_key")
        return key

    def visible(key: ApiKey, thread_id: str) -> dict[str, Any]:
        """The owner record of a thread the caller may see (advisors: their own principal's; officers: all)."""
        _check_thread_id(thread_id)
        owner = threads_index.owner(thread_id)
        if key.role != "compliance_officer" and (owner is None or owner.principal_id != key.principal_id):
            raise ApiError(404, f"no thread {thread_id} for this key", code="thread_not_found")
        return (
            owner.model_dump()
            if owner
            else {
                "thread_id": thread_id,
                "key_id": None,
                "principal_id": None,
                "name": "(no owner)",
                "model": DEFAULT_MODEL,
                "title": thread_id,
            }
        )

    async def own_thread(key: ApiKey, thread_id: str, model: str, title: str) -> str:
        """Claim `thread_id` for the caller's principal, or refuse (403) a thread someone else owns, and a
        thread that has checkpoints but no owner record (started before owners were recorded)."""
        _check_thread_id(thread_id)
        if threads_index.owner(thread_id) is None and await _has_checkpoints(models.get(model), thread_id):
            raise ApiError(
                403, f"thread {thread_id} has no recorded owner; start a new thread", code="forbidden"
            )
        owner = threads_index.claim(thread_id, key.principal_id, key.key_id, key.name, model, title)
        if owner.principal_id != key.principal_id:
            raise ApiError(403, f"thread {thread_id} belongs to someone else", code="forbidden")
        return thread_id

    # --- runs: leases, idempotent retries (fincopilot/server/runs.py) ---------------------------------
    def idempotency_key(request: Request) -> str | None:
        value = (request.headers.get("idempotency-key") or request.headers.get("x-request-id") or "").strip()
        if value and not IDEMPOTENCY_KEY_RE.match(value):
            raise ApiError(
                400,
                "Idempotency-Key must be 1-200 printable ASCII characters",
                param="Idempotency-Key",
                code="invalid_idempotency_key",
            )
        return value or None

    async def replay(
        key: ApiKey, idem: str | None, model: str, payload: dict[str, Any]
    ) -> tuple[AsyncIterator[Event | None], RunRecord] | None:
        """The run a retry refers to (its events from the first), or None for a new request. The key is the
        client's Idempotency-Key, or the request id the server returned (`X-Request-Id`) sent back."""
        if not idem:
            return None
        rec = await asyncio.to_thread(ledger.by_key, key.principal_id, idem)
        if rec is None:
            by_id = await asyncio.to_thread(ledger.get, idem)
            rec = by_id if by_id is not None and by_id.principal_id == key.principal_id else None
        if rec is None:
            return None
        if rec.input != {**payload, "as": _acting(key)} or rec.model != model:
            raise ApiError(
                422,
                "this Idempotency-Key was already used for a different request",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        return service.follow(rec), rec

    async def launch(
        key: ApiKey,
        idem: str | None,
        thread_id: str,
        model: str,
        kind: str,
        payload: dict[str, Any],
        factory: Callable[[str], Iterable[Event]],
    ) -> tuple[AsyncIterator[Event | None], str]:
        """Start a run under a lease in the ledger (or follow the one a concurrent retry started)."""
        request_id = new_request_id()
        pool.claim(thread_id)
        try:
            rec, new = await asyncio.to_thread(
                ledger.begin,
                request_id=request_id,
                principal_id=key.principal_id,
                idempotency_key=idem,
                thread_id=thread_id,
                model=model,
                kind=kind,
                input={**payload, "as": _acting(key)},
            )
        except ThreadBusy as err:
            pool.release(thread_id)
            raise ApiError(409, str(err), code="thread_busy") from None
        except BaseException:
            pool.release(thread_id)
            raise
        if not new:
            pool.release(thread_id)
            return service.follow(rec), rec.request_id
        return pool.start(
            lambda: tracked(service.keeper, request_id, factory(request_id)), thread_id
        ), request_id

    async def start_or_replay(
        key: ApiKey,
        request: Request,
        model: str,
        text: str,
        thread_ref: Callable[[], str],
        runner: RunnerLike,
    ) -> tuple[AsyncIterator[Event | None], str, str]:
        """(events, thread id, request id) of the run this request starts, or of the one a retry with the same
        Idempotency-Key already started. `thread_ref` names the thread, asked only for a new run."""
        idem = idempotency_key(request)
        found = await replay(key, idem, model, {"text": text})
        if found is not None:
            return found[0], found[1].thread_id, found[1].request_id
        thread_id = await own_thread(key, thread_ref(), model, text)
        events, request_id = await launch(
            key,
            idem,
            thread_id,
            model,
            "run",
            {"text": text},
            lambda rid: runner.run(
                text, thread_id=thread_id, request_id=rid, principal=principal_of_key(key)
            ),
        )
        return events, thread_id, request_id

    def runner_for_thread(thread_id: str) -> RunnerLike:
        owner = threads_index.owner(thread_id)
        return models.get(owner.model if owner else DEFAULT_MODEL)

    # --- pages ---------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index_page() -> Response:
        return FileResponse(str(static_dir.joinpath("index.html")), media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        if (
            not re.fullmatch(r"[a-z0-9_-]+\.(js|css|html|svg)", name)
            or not static_dir.joinpath(name).is_file()
        ):
            raise ApiError(404, f"no static file {name!r}", code="not_found")
        return FileResponse(str(static_dir.joinpath(name)))

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_schema(request: Request) -> dict[str, Any]:
        caller(request)  # 401 without a valid key
        return app.openapi()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # --- OpenAI-compatible ---------------------------------------------------------------------------
    def model_card(name: str) -> dict[str, Any]:
        return {
            "id": name,
            "object": "model",
            "created": 1767225600,
            "owned_by": "fincopilot",
            "description": GRAPH_DESCRIPTIONS.get(name, "FinCopilot graph"),
        }

    @app.get("/v1/models")
    async def list_models(_: ApiKey = Depends(caller)) -> dict[str, Any]:
        return {"object": "list", "data": [model_card(n) for n in models.names()]}

    @app.get("/v1/models/{model}")
    async def get_model(model: str, _: ApiKey = Depends(caller)) -> dict[str, Any]:
        models.get(model)
        return model_card(model)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, key: ApiKey = Depends(caller)) -> Response:
        body: ChatCompletionRequest = _parse_body(await request.body(), ChatCompletionRequest)
        runner = models.get(body.model)
        convo = [(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")]
        if not convo:
            raise ApiError(
                400,
                "messages must contain at least one user message",
                param="messages",
                code="empty_messages",
            )
        if convo[-1][0] != "user":
            raise ApiError(
                400, "the last message must come from the user", param="messages", code="invalid_messages"
            )
        text = _check_text(convo[-1][1], "last user message")
        events, thread_id, request_id = await start_or_replay(
            key, request, body.model, text, lambda: conversation_thread(key, request, body, convo), runner
        )
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        headers = {"X-FinCopilot-Thread": thread_id, "X-Request-Id": request_id}

        def remember(summary: RunSummary, content: str) -> None:
            threads_index.remember(
                conversation_hash(key.key_id, body.model, [*convo, ("assistant", content)]), thread_id
            )

        def usage(content: str) -> dict[str, int]:
            # Word counts: the graph makes several model calls; their token counts are in the audit log.
            p, c = sum(len(t.split()) for _, t in convo), len(content.split())
            return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

        if not body.stream:
            summary = RunSummary(thread_id=thread_id, request_id=request_id)
            try:
                async for ev in visible_events(events, key.role):
                    if ev is not None:
                        summary.add(ev)
            except FinCopilotError as err:
                raise _from_fincopilot_error(err) from None
            if summary.status == "failed":
                raise ApiError(
                    500,
                    f"the copilot could not answer: {summary.error or 'unknown error'}",
                    type="server_error",
                    code="run_failed",
                )
            content = summary.content()
            remember(summary, content)
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": body.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": usage(content),
                    "fincopilot": summary.extra(),
                },
                headers=headers,
            )

        include_usage = bool((body.stream_options or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra,
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        async def sse() -> AsyncIterator[str]:
            summary = RunSummary(thread_id=thread_id, request_id=request_id)
            yield chunk({"role": "assistant", "content": ""}, fincopilot={"thread_id": thread_id})
            try:
                async for ev in visible_events(events, key.role):
                    if ev is None:
                        yield ": keep-alive\n\n"
                        continue
                    summary.add(ev)
                    if ev.type in PROGRESS_TYPES:
                        yield chunk(
                            {"reasoning_content": progress_line(ev)},
                            fincopilot={"event": ev.model_dump(mode="json")},
                        )
                    elif ev.type in ("compliance", "held"):
                        yield chunk({}, fincopilot={"event": ev.model_dump(mode="json")})
            except FinCopilotError as err:
                summary.status, summary.error = "failed", str(err)
            if summary.status == "failed":
                err = ApiError(
                    500,
                    f"the copilot could not answer: {summary.error or 'unknown error'}",
                    type="server_error",
                    code="run_failed",
                )
                yield f"data: {json.dumps(err.body())}\n\n"
                return
            content = summary.content()
            remember(summary, content)
            yield chunk({"content": content})
            yield chunk({}, "stop", fincopilot=summary.extra())
            if include_usage:
                yield f"data: {json.dumps({'id': completion_id, 'object': 'chat.completion.chunk', 'created': created, 'model': body.model, 'choices': [], 'usage': usage(content)})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            sse(),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def conversation_thread(
        key: ApiKey, request: Request, body: ChatCompletionRequest, convo: list[tuple[str, str]]
    ) -> str:
        """The thread named by header or metadata, else the one these earlier messages continue, else new."""
        explicit = request.headers.get("x-fincopilot-thread") or (body.metadata or {}).get("thread_id")
        if explicit:
            return str(explicit)
        earlier = convo[:-1]
        return (
            threads_index.lookup(conversation_hash(key.key_id, body.model, earlier)) if earlier else None
        ) or f"t-{uuid.uuid4().hex[:16]}"

    # --- JSON / SSE API for the web page and other tools -----------------------------------------------
    def event_stream(
        events: AsyncIterator[Event | None], role: str, first: dict[str, Any]
    ) -> StreamingResponse:
        async def sse() -> AsyncIterator[str]:
            yield f"event: start\ndata: {json.dumps(first)}\n\n"
            try:
                async for ev in visible_events(events, role):
                    if ev is None:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: {ev.type}\ndata: {ev.model_dump_json()}\n\n"
            except FinCopilotError as err:
                body = {
                    "type": "error",
                    "request_id": first.get("request_id", ""),
                    "data": {"message": str(err)},
                }
                yield f"event: error\ndata: {json.dumps(body)}\n\n"
                done = {**body, "type": "done", "data": {"status": "failed"}}
                yield f"event: done\ndata: {json.dumps(done)}\n\n"

        return StreamingResponse(
            sse(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/me")
    async def me(key: ApiKey = Depends(caller)) -> dict[str, Any]:
        return {"key_id": key.key_id, "name": key.name, "role": key.role, "models": models.names()}

    @app.get("/api/kb/passages/{chunk_id}")
    async def kb_passage(chunk_id: str, _: ApiKey = Depends(caller)) -> dict[str, Any]:
        """The knowledge-base passage a citation points at (document, section, page, audience, text)."""
        from fincopilot.tools.kb import get_passage

        return (await asyncio.to_thread(get_passage, chunk_id)).model_dump(mode="json")

    @app.post("/api/chat")
    async def api_chat(request: Request, key: ApiKey = Depends(caller)) -> Response:
        body: ChatRequest = _parse_body(await request.body(), ChatRequest)
        runner = models.get(body.model)
        text = _check_text(body.message)
        events, thread_id, request_id = await start_or_replay(
            key, request, body.model, text, lambda: body.thread_id or f"t-{uuid.uuid4().hex[:16]}", runner
        )
        return event_stream(events, key.role, {"thread_id": thread_id, "request_id": request_id})

    @app.get("/api/threads")
    async def list_threads(key: ApiKey = Depends(caller)) -> dict[str, Any]:
        owners = threads_index.threads(None if key.role == "compliance_officer" else key.principal_id)[:100]
        items = []
        for owner in owners:
            items.append({**owner.model_dump(), "status": await _status(owner.thread_id, owner.model)})
        if key.role == "compliance_officer":
            # threads checkpointed before owners were recorded can be held too
            known = {o.thread_id for o in threads_index.threads(None)}
            try:
                others = [
                    t for t in await asyncio.to_thread(models.get(DEFAULT_MODEL).threads) if t not in known
                ]
            except FinCopilotError:
                others = []
            for t in others[:100]:
                items.append(
                    {
                        "thread_id": t,
                        "key_id": None,
                        "name": "(command line)",
                        "model": DEFAULT_MODEL,
                        "title": t,
                        "created_at": None,
                        "updated_at": None,
                        "status": await _status(t, DEFAULT_MODEL),
                    }
                )
        return {"threads": items}

    async def _status(thread_id: str, model: str) -> str:
        try:
            view = await asyncio.to_thread(models.get(model).thread, thread_id)
            return str(_view_dict(view).get("status", "unknown"))
        except (FinCopilotError, ApiError):
            return "unknown"

    @app.get("/api/threads/{thread_id}")
    async def get_thread(thread_id: str, key: ApiKey = Depends(caller)) -> dict[str, Any]:
        owner = visible(key, thread_id)
        view = _view_dict(await asyncio.to_thread(runner_for_thread(thread_id).thread, thread_id))
        if view.get("status") == "held" and key.role != "compliance_officer":
            view["held"] = {
                k: v
                for k, v in (view.get("held") or {}).items()
                if k in ("reason", "thread_id", "violations", "compliance")
            }
        can_review = (
            view.get("status") == "held"
            and key.role == "compliance_officer"
            and owner.get("principal_id") != key.principal_id
        )
        return {
            **view,
            "owner": {
                "key_id": owner.get("key_id"),
                "principal_id": owner.get("principal_id"),
                "name": owner.get("name"),
            },
            "title": owner.get("title"),
            "can_review": can_review,
        }

    @app.post("/api/threads/{thread_id}/review")
    @app.post(
        "/threads/{thread_id}/review", include_in_schema=False
    )  # the path the runner's held event names
    async def review(thread_id: str, request: Request, key: ApiKey = Depends(caller)) -> Response:
        body: ReviewRequest = _parse_body(await request.body(), ReviewRequest)
        owner = visible(key, thread_id)
        asked_by = f"{owner['name']} ({owner['key_id']})" if owner.get("key_id") else owner["name"]
        who = {
            "reviewer": key.identity,
            "reviewer_principal": key.principal_id,
            "reviewer_role": key.role,
            "asked_by": asked_by,
            "asked_by_principal": owner.get("principal_id"),
        }

        def deny(status: int, message: str, code: str) -> ApiError:
            audit.record(
                "review",
                request_id=None,
                thread_id=thread_id,
                decision=body.decision,
                outcome="denied",
                reason=message,
                **who,
            )
            return ApiError(
                status,
                message,
                type="permission_error" if status == 403 else "invalid_request_error",
                code=code,
            )

        if key.role != "compliance_officer":
            raise deny(403, "only a compliance officer can review a held answer", "forbidden_role")
        if owner.get("principal_id") == key.principal_id:
            raise deny(403, "the reviewer must not be the person who asked", "forbidden_self_review")
        if body.decision == "edit":
            body.text = _check_text(body.text or "", "edited answer")
        runner = runner_for_thread(thread_id)
        idem = idempotency_key(request)
        review_obj = _review_object(body.decision, key.identity, body.text)
        payload = {"review": review_obj.model_dump(mode="json")}
        found = await replay(key, idem, owner.get("model") or DEFAULT_MODEL, payload)
        if found is not None:
            return await review_response(request, key, thread_id, found[0])
        view = _view_dict(await asyncio.to_thread(runner.thread, thread_id))
        if view.get("status") != "held":
            raise deny(
                409,
                f"thread {thread_id} is not waiting for review (status: {view.get('status')})",
                "not_held",
            )
        audit.record(
            "review", request_id=None, thread_id=thread_id, decision=body.decision, outcome="accepted", **who
        )
        events, _ = await launch(
            key,
            idem,
            thread_id,
            owner.get("model") or DEFAULT_MODEL,
            "resume",
            payload,
            lambda _rid: runner.resume(thread_id, review_obj),
        )
        return await review_response(request, key, thread_id, events)

    async def review_response(
        request: Request, key: ApiKey, thread_id: str, events: AsyncIterator[Event | None]
    ) -> Response:
        if "text/event-stream" in request.headers.get("accept", ""):
            return event_stream(events, key.role, {"thread_id": thread_id})
        out: list[dict[str, Any]] = []
        gate = ReleaseGate(key.role)
        async for event in events:
            for ev in gate.feed(event) if event is not None else ():
                out.append(ev.model_dump(mode="json"))
        status = next((e["data"].get("status") for e in reversed(out) if e["type"] == "done"), "unknown")
        return JSONResponse({"thread_id": thread_id, "status": status, "events": out})

    return app
