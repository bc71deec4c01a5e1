"""The events a copilot run emits, in order, for interfaces to show progress.

plan → step_start / step_finish (per step, possibly interleaved) → answer → compliance
→ (held → review) ; `error` may end a run at any point.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.config import get_stream_writer
from pydantic import BaseModel, Field

EventType = Literal[
    "request",  # data: {text}
    "planning",  # data: {stage: "generating" | "rejected", attempt, backend?, problems?} (live progress)
    "plan",  # data: {steps: [...], source: "model" | "repaired" | "rules", reason}
    "step_start",  # data: {id, skill, args}
    "step_finish",  # data: {id, skill, ok, output | error, backend, latency_s}
    "answer",  # data: {text, citations: [{n, step_id}], numbers_checked, unsupported_numbers}
    "compliance",  # data: {passed, violations: [...], client, products}
    "held",  # data: {thread_id, reason}  (waiting for human review)
    "review",  # data: {decision: approve|edit|reject, reviewer, text?}
    "error",  # data: {message}
    "done",  # data: {status: answered|held|rejected|failed}
]


class Event(BaseModel):
    type: EventType
    request_id: str
    thread_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def emit(type_: EventType, **data: Any) -> None:
    """Send one event to the graph run's custom stream (nothing when a node runs outside a graph run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit use of a node)
        return
    writer({"type": type_, "data": data})
