"""The OpenAI-compatible endpoints: `/v1/models` and `/v1/chat/completions` (plain and streamed).

The OpenAI `messages` array is stateless; a request continues a thread when it names one
(`X-FinCopilot-Thread` header or `metadata.thread_id`), else when the earlier messages hash to a conversation
this server answered before (hash of asker key, model and user/assistant texts), else it starts a new thread.
Only the last user message is sent to the runner: the thread has the rest.

Compliance first: answer tokens are not streamed; the plan and step progress are (as `reasoning_content`
deltas plus a `fincopilot` field on the chunks). A held answer reaches the asker as a notice, never the draft.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from fincopilot.errors import FinCopilotError
from fincopilot.graphs.events import Event
from fincopilot.graphs.release import RunView
from fincopilot.server.auth import Caller
from fincopilot.server.bodies import DEFAULT_MODEL, ChatCompletionRequest, check_text, parse_body
from fincopilot.server.context import Context, Events, ServerContext
from fincopilot.server.errors import EmptyMessages, InvalidMessages, RunFailed, error_body
from fincopilot.server.keys import ApiKey
from fincopilot.server.streams import SSE_HEADERS, visible_events
from fincopilot.state.threads import conversation_hash

PROGRESS_TYPES = ("plan", "step_start", "step_finish")
GRAPH_DESCRIPTIONS = {
    DEFAULT_MODEL: "Advisor copilot: plan → credit / report / compliance workers → cited answer → compliance gate",
}

router = APIRouter()


def model_card(name: str) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": 1767225600,
        "owned_by": "fincopilot",
        "description": GRAPH_DESCRIPTIONS.get(name, "FinCopilot graph"),
    }


@router.get("/v1/models")
async def list_models(ctx: Context, _: Caller) -> dict[str, Any]:
    return {"object": "list", "data": [model_card(n) for n in ctx.models.names()]}


@router.get("/v1/models/{model}")
async def get_model(model: str, ctx: Context, _: Caller) -> dict[str, Any]:
    ctx.models.get(model)
    return model_card(model)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, ctx: Context, key: Caller) -> Response:
    body = parse_body(await request.body(), ChatCompletionRequest)
    ctx.models.get(body.model)
    convo = [(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")]
    if not convo:
        raise EmptyMessages("messages must contain at least one user message")
    if convo[-1][0] != "user":
        raise InvalidMessages("the last message must come from the user")
    text = check_text(convo[-1][1], "last user message")
    events, thread_id, request_id = await ctx.start_or_replay(
        key, request, body.model, text, lambda: conversation_thread(ctx, key, request, body, convo)
    )
    completion = Completion(ctx, key, body, convo, thread_id, request_id)
    return completion.stream(events) if body.stream else await completion.respond(events)


def conversation_thread(
    ctx: ServerContext,
    key: ApiKey,
    request: Request,
    body: ChatCompletionRequest,
    convo: list[tuple[str, str]],
) -> str:
    """The thread named by header or metadata, else the one these earlier messages continue, else new."""
    explicit = request.headers.get("x-fincopilot-thread") or (body.metadata or {}).get("thread_id")
    if explicit:
        return str(explicit)
    earlier = convo[:-1]
    found = ctx.index.lookup(conversation_hash(key.key_id, body.model, earlier)) if earlier else None
    return found or f"t-{uuid.uuid4().hex[:16]}"


class Completion:
    """One chat completion's answer: the whole message, or its chunks as they come."""

    def __init__(
        self,
        ctx: ServerContext,
        key: ApiKey,
        body: ChatCompletionRequest,
        convo: list[tuple[str, str]],
        thread_id: str,
        request_id: str,
    ):
        self.ctx, self.key, self.body, self.convo = ctx, key, body, convo
        self.thread_id, self.request_id = thread_id, request_id
        self.id, self.created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
        self.headers = {"X-FinCopilot-Thread": thread_id, "X-Request-Id": request_id}

    def _view(self) -> RunView:
        return RunView(thread_id=self.thread_id, request_id=self.request_id)

    def _remember(self, content: str) -> None:
        """Map the conversation including this answer to the thread, for the client's next request."""
        convo = [*self.convo, ("assistant", content)]
        self.ctx.index.remember(conversation_hash(self.key.key_id, self.body.model, convo), self.thread_id)

    def _usage(self, content: str) -> dict[str, int]:
        # Word counts: the graph makes several model calls; their token counts are in the audit log.
        p, c = sum(len(t.split()) for _, t in self.convo), len(content.split())
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    async def respond(self, events: Events) -> Response:
        view = self._view()
        async for ev in visible_events(events, self.key.role):
            if ev is not None:
                view.add(ev)
        if not view.finished or view.status == "failed":
            raise run_failed(view)
        content = message_content(view)
        self._remember(content)
        message = {"role": "assistant", "content": content}
        return JSONResponse(
            {
                "id": self.id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.body.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                "usage": self._usage(content),
                "fincopilot": fincopilot_extra(view),
            },
            headers=self.headers,
        )

    def stream(self, events: Events) -> StreamingResponse:
        return StreamingResponse(
            self._chunks(events), media_type="text/event-stream", headers={**self.headers, **SSE_HEADERS}
        )

    def _chunk(self, delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = (
            [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        )
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.body.model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def _chunks(self, events: Events) -> AsyncIterator[str]:
        view = self._view()
        yield self._chunk({"role": "assistant", "content": ""}, fincopilot={"thread_id": self.thread_id})
        try:
            async for ev in visible_events(events, self.key.role):
                if ev is None:
                    yield ": keep-alive\n\n"
                    continue
                view.add(ev)
                if ev.type in (*PROGRESS_TYPES, "compliance", "held"):
                    yield self._progress_chunk(ev)
        except FinCopilotError as err:
            view.status = "failed"
            view.errors.append(str(err))
        if not view.finished or view.status == "failed":
            yield f"data: {json.dumps(error_body(run_failed(view)))}\n\n"
            return
        content = message_content(view)
        self._remember(content)
        yield self._chunk({"content": content})
        yield self._chunk({}, "stop", fincopilot=fincopilot_extra(view))
        if (self.body.stream_options or {}).get("include_usage"):
            yield self._chunk(None, usage=self._usage(content))
        yield "data: [DONE]\n\n"

    def _progress_chunk(self, ev: Event) -> str:
        delta = {"reasoning_content": progress_line(ev)} if ev.type in PROGRESS_TYPES else {}
        return self._chunk(delta, fincopilot={"event": ev.model_dump(mode="json")})


def run_failed(view: RunView) -> RunFailed:
    return RunFailed(f"the copilot could not answer: {view.error or 'unknown error'}")


# --- turning a run into OpenAI content ---------------------------------------------------------------------
def message_content(view: RunView) -> str:
    """The assistant message a plain chat client shows."""
    if view.status == "held":
        violations = (view.compliance or {}).get("violations", [])
        cats = sorted({str(v.get("category", "")) for v in violations if isinstance(v, dict)} - {""})
        why = f" ({', '.join(cats)})" if cats else ""
        return (
            f"This answer is held for compliance review{why}: {view.held_reason}. "
            f"A compliance officer must approve it before it is released. Thread: {view.thread_id}."
        )
    if view.status == "rejected":
        return "A compliance officer rejected this answer; it will not be released."
    answer = view.answer or {}
    text = str(answer.get("text", "")).strip()
    footer = source_lines(list(answer.get("citations", [])), view.finished_steps())
    return text + ("\n\nSources:\n" + "\n".join(footer) if footer else "")


def fincopilot_extra(view: RunView) -> dict[str, Any]:
    """The `fincopilot` field added to OpenAI responses (clients that do not know it ignore it)."""
    return {
        "thread_id": view.thread_id,
        "request_id": view.request_id,
        "status": view.status,
        "plan": view.plan,
        "citations": list((view.answer or {}).get("citations", [])),
        "compliance": view.compliance,
        "held_reason": view.held_reason,
        "answer_produced_by": view.produced_by,
        "steps_produced_by": {str(k): v.get("produced_by") for k, v in view.finished_steps().items()},
    }


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
        parts = [f"{s.get('id')}. {s.get('skill')}" for s in d.get("steps", [])]
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
