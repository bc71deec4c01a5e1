"""The web page: `/` and its static files, and the JSON/SSE endpoints it (and other tools) call:
`/api/me`, `/api/chat` (a run as typed server-sent events), `/api/kb/passages/{id}` (a cited passage)."""

from __future__ import annotations

import asyncio
import re
import uuid
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from fincopilot.errors import NotFoundError
from fincopilot.server.auth import Caller
from fincopilot.server.bodies import ChatRequest, check_text, parse_body
from fincopilot.server.context import Context
from fincopilot.server.streams import event_stream
from fincopilot.tools.kb import get_passage

STATIC_DIR = resources.files("fincopilot").joinpath("server/static")
_STATIC_NAME = re.compile(r"[a-z0-9_-]+\.(js|css|html|svg)")

router = APIRouter()


@router.get("/", include_in_schema=False)
async def index_page() -> Response:
    return FileResponse(str(STATIC_DIR.joinpath("index.html")), media_type="text/html")


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    if not _STATIC_NAME.fullmatch(name) or not STATIC_DIR.joinpath(name).is_file():
        raise NotFoundError(f"no static file {name!r}")
    return FileResponse(str(STATIC_DIR.joinpath(name)))


@router.get("/api/me")
async def me(ctx: Context, key: Caller) -> dict[str, Any]:
    return {"key_id": key.key_id, "name": key.name, "role": key.role, "models": ctx.models.names()}


@router.get("/api/kb/passages/{chunk_id}")
async def kb_passage(chunk_id: str, _: Caller) -> dict[str, Any]:
    """The knowledge-base passage a citation points at (document, section, page, audience, text)."""
    return (await asyncio.to_thread(get_passage, chunk_id)).model_dump(mode="json")


@router.post("/api/chat")
async def api_chat(request: Request, ctx: Context, key: Caller) -> Response:
    """Run one message on a thread (the named one, or a new one); its visible events as SSE."""
    body = parse_body(await request.body(), ChatRequest)
    ctx.models.get(body.model)
    text = check_text(body.message)
    events, thread_id, request_id = await ctx.start_or_replay(
        key, request, body.model, text, lambda: body.thread_id or f"t-{uuid.uuid4().hex[:16]}"
    )
    return event_stream(events, key.role, {"thread_id": thread_id, "request_id": request_id})
