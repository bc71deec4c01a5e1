"""The advisor graph's state: small, typed, and plain data (it is checkpointed to SQLite between steps)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field, model_validator

from fincopilot.agents._common import MAX_TEXT

# An edit goes back through the compliance check, so it may be as long as the check accepts: one limit.
MAX_EDITED_ANSWER_CHARS = MAX_TEXT


class Review(BaseModel):
    """A human decision on a held answer."""

    decision: Literal["approve", "edit", "reject"]
    reviewer: str = Field(min_length=1, max_length=120)
    text: str | None = Field(
        None, max_length=MAX_EDITED_ANSWER_CHARS, description="the edited answer (decision 'edit')"
    )

    @model_validator(mode="after")
    def _edit_has_text(self) -> Review:
        if self.decision == "edit" and not (self.text or "").strip():
            raise ValueError("an 'edit' review needs the edited answer text")
        return self


def merge_results(
    old: dict[str, dict[str, Any]] | None, new: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Step results from parallel branches merge by step id; `None` clears them (a new request on the thread)."""
    if new is None:
        return {}
    return {**(old or {}), **new}


class StepResult(TypedDict, total=False):
    id: int
    skill: str
    args: dict[str, Any]
    ok: bool
    output: dict[str, Any]
    error: str
    backend: str | None
    produced_by: str | None  # the backend id whose output was kept, or rules / template / extractive
    latency_s: float
    attempts: int
    started_at: float  # time.time(), so interfaces (and the overlap test) can draw a timeline
    finished_at: float


class Recommendation(TypedDict):
    """A recommendation to check: the client and every product the plan looked up (suitability per product)."""

    client: str
    products: list[str]


class AdvisorState(TypedDict, total=False):
    """One conversation thread. Per-request fields are reset by each new request; `turns` accumulates."""

    request: str
    request_id: str
    plan: dict[str, Any] | None  # {"steps": [...], "direct_answer", "source", "reason", "problems"}
    results: Annotated[dict[str, StepResult], merge_results]  # by str(step id)
    answer: dict[str, Any] | None  # agents.synthesizer.Answer as a dict; after the gate, the released text
    recommendation: Recommendation | None  # the client and products the plan looked up (the gate's input)
    compliance: dict[str, Any] | None  # {"passed", "violations", "client", "products"}
    review: dict[str, Any] | None  # the human decision, when there was one
    status: str  # running | answered | held | edited | rejected | failed
    turns: Annotated[list[dict[str, Any]], operator.add]  # the conversation so far
    principal: dict[str, Any] | None  # fincopilot.principal.Principal of the current request


class StepTask(TypedDict):
    """What the dispatcher sends to one parallel `run_step` branch."""

    step: dict[str, Any]
    args: dict[str, Any]
    request_id: str
    blocked_by: list[int]
    principal: dict[str, Any] | None


class GateInput(TypedDict, total=False):
    """What the compliance gate reads: the synthesized (or reviewer-edited) answer, the recommendation when
    there is one, and the request (its language, its audit id, who it runs for)."""

    request: str
    request_id: str
    answer: dict[str, Any] | None
    recommendation: Recommendation | None
    principal: dict[str, Any] | None
