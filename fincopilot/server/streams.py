"""A run's events on their way to a client: through the release policy (`fincopilot.graphs.release`) for
the viewer's role, then, for the page and tools, as typed server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from fincopilot.errors import FinCopilotError
from fincopilot.graphs.events import Event
from fincopilot.graphs.release import ReleaseGate, sees_drafts
from fincopilot.server.context import Events

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def visible_events(events: Events, role: str) -> AsyncIterator[Event | None]:
    """The run's events that `role` may see, in order; None passes through as a keep-alive tick."""
    gate = ReleaseGate(reviewer=sees_drafts(role))
    async for event in events:
        if event is None:
            yield None
            continue
        for ev in gate.feed(event):
            yield ev


async def _typed_events(events: Events, role: str, first: dict[str, Any]) -> AsyncIterator[str]:
    yield f"event: start\ndata: {json.dumps(first)}\n\n"
    try:
        async for ev in visible_events(events, role):
            if ev is None:
                yield ": keep-alive\n\n"
                continue
            yield f"event: {ev.type}\ndata: {ev.model_dump_json()}\n\n"
    except FinCopilotError as err:
        body = {"type": "error", "request_id": first.get("request_id", ""), "data": {"message": str(err)}}
        yield f"event: error\ndata: {json.dumps(body)}\n\n"
        done = {**body, "type": "done", "data": {"status": "failed"}}
        yield f"event: done\ndata: {json.dumps(done)}\n\n"


def event_stream(events: Events, role: str, first: dict[str, Any]) -> StreamingResponse:
    """`start` (with `first`: thread and request ids), then each visible event by its type, as SSE."""
    return StreamingResponse(
        _typed_events(events, role, first), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def collected(events: Events, role: str) -> list[Event]:
    """Every visible event of a run, once it has ended."""
    return [ev async for ev in visible_events(events, role) if ev is not None]
