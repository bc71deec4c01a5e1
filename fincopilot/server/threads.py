"""Threads and human review: `/api/threads` (the caller's threads with their status), `/api/threads/{id}`
(a conversation; a held answer's draft only for a reviewer), and the review of a held answer.

Advisors see the threads of their own principal; compliance officers see all, and review any held answer
but one they asked for. Every review decision, accepted or denied, is audited.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fincopilot.errors import FinCopilotError
from fincopilot.graphs.release import held_for, sees_drafts
from fincopilot.graphs.state import Review
from fincopilot.safety import audit
from fincopilot.server.auth import Caller
from fincopilot.server.bodies import DEFAULT_MODEL, ReviewRequest, check_edited_answer, parse_body
from fincopilot.server.context import Context, Events, ServerContext, idempotency_key
from fincopilot.server.errors import NotAReviewer, NotHeld, SelfReview
from fincopilot.server.keys import ApiKey
from fincopilot.server.streams import collected, event_stream

MAX_LISTED = 100

router = APIRouter()


@router.get("/api/threads")
async def list_threads(ctx: Context, key: Caller) -> dict[str, Any]:
    """The caller's threads, newest first, each with its status (officers: every thread)."""
    officer = sees_drafts(key.role)
    owners = ctx.index.threads(None if officer else key.principal_id)[:MAX_LISTED]
    items = [
        {**owner.model_dump(), "status": await ctx.thread_status(owner.thread_id, owner.model)}
        for owner in owners
    ]
    if officer:  # threads checkpointed before owners were recorded can be held too
        items += await _ownerless_threads(ctx)
    return {"threads": items}


async def _ownerless_threads(ctx: ServerContext) -> list[dict[str, Any]]:
    known = {o.thread_id for o in ctx.index.threads(None)}
    try:
        others = [t for t in await asyncio.to_thread(ctx.models.get(DEFAULT_MODEL).threads) if t not in known]
    except FinCopilotError:
        return []
    return [
        {
            "thread_id": t,
            "key_id": None,
            "name": "(command line)",
            "model": DEFAULT_MODEL,
            "title": t,
            "created_at": None,
            "updated_at": None,
            "status": await ctx.thread_status(t, DEFAULT_MODEL),
        }
        for t in others[:MAX_LISTED]
    ]


@router.get("/api/threads/{thread_id}")
async def get_thread(thread_id: str, ctx: Context, key: Caller) -> dict[str, Any]:
    """The conversation, its status and what waits for review (the draft only for a reviewer)."""
    owner = ctx.visible(key, thread_id)
    view = await ctx.thread_view(thread_id)
    reviewer = sees_drafts(key.role)
    view["held"] = held_for(view.get("held"), reviewer=reviewer)
    can_review = view.get("status") == "held" and reviewer and owner.get("principal_id") != key.principal_id
    return {
        **view,
        "owner": {k: owner.get(k) for k in ("key_id", "principal_id", "name")},
        "title": owner.get("title"),
        "can_review": can_review,
    }


@router.post("/api/threads/{thread_id}/review")
@router.post("/threads/{thread_id}/review", include_in_schema=False)  # kept for clients of the first release
async def review(thread_id: str, request: Request, ctx: Context, key: Caller) -> Response:
    """A compliance officer's decision (approve, edit, reject) on a held answer; the run it resumes."""
    body = parse_body(await request.body(), ReviewRequest)
    owner = ctx.visible(key, thread_id)
    who = _review_record(key, owner, thread_id, body.decision)
    if not sees_drafts(key.role):
        raise _denied(NotAReviewer("only a compliance officer can review a held answer"), who)
    if owner.get("principal_id") == key.principal_id:
        raise _denied(SelfReview("the reviewer must not be the person who asked"), who)
    if body.decision == "edit":
        body.text = check_edited_answer(body.text)
    model = owner.get("model") or DEFAULT_MODEL
    runner, idem = ctx.runner_for_thread(thread_id), idempotency_key(request)
    decision = Review(decision=body.decision, reviewer=key.identity, text=body.text)
    payload = {"review": decision.model_dump(mode="json")}
    found = await ctx.replay(key, idem, model, payload)
    if found is not None:
        return await _review_response(request, key, thread_id, found[0])
    status = (await ctx.thread_view(thread_id)).get("status")
    if status != "held":
        raise _denied(NotHeld(f"thread {thread_id} is not waiting for review (status: {status})"), who)
    audit.record("review", request_id=None, outcome="accepted", **who)
    events, _ = await ctx.launch(
        key, idem, thread_id, model, "resume", payload, lambda _rid: runner.resume(thread_id, decision)
    )
    return await _review_response(request, key, thread_id, events)


def _review_record(key: ApiKey, owner: dict[str, Any], thread_id: str, decision: str) -> dict[str, Any]:
    """Who reviews whose answer, as the audit log records it."""
    asked_by = f"{owner['name']} ({owner['key_id']})" if owner.get("key_id") else owner["name"]
    return {
        "thread_id": thread_id,
        "decision": decision,
        "reviewer": key.identity,
        "reviewer_principal": key.principal_id,
        "reviewer_role": key.role,
        "asked_by": asked_by,
        "asked_by_principal": owner.get("principal_id"),
    }


def _denied(err: FinCopilotError, who: dict[str, Any]) -> FinCopilotError:
    """`err`, once the denied review is audited."""
    audit.record("review", request_id=None, outcome="denied", reason=str(err), **who)
    return err


async def _review_response(request: Request, key: ApiKey, thread_id: str, events: Events) -> Response:
    """The resumed run: as SSE when the client accepts it, else `{thread_id, status, events}` at its end."""
    if "text/event-stream" in request.headers.get("accept", ""):
        return event_stream(events, key.role, {"thread_id": thread_id})
    out = [ev.model_dump(mode="json") for ev in await collected(events, key.role)]
    status = next((e["data"].get("status") for e in reversed(out) if e["type"] == "done"), "unknown")
    return JSONResponse({"thread_id": thread_id, "status": status, "events": out})
