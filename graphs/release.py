"""The release policy: what each viewer of a run may see, and one way to fold a run's events into a view.

Every interface (the HTTP API, the page, the terminal chat, the CLI) shows runs through this module:

- an answer waits for the compliance verdict; answer tokens are never shown (the `answer` event carries the
  whole text);
- while an answer is held for human review, the *asker* sees that it is held, why (the reason and the
  violations), and never the draft;
- a *reviewer* sees the draft, marked `draft`, so they can approve, edit or reject it;
- `RunView` folds the released events into what an interface shows: status, plan, steps, answer, held
  notice, verdict, and what produced the answer.

Who is a reviewer is the interface's call (`sees_drafts`: a compliance officer; on the command line,
`fincopilot review`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, Field

from fincopilot.graphs.events import Event

REVIEWER_ROLES = frozenset({"compliance_officer"})
ASKER_HELD_FIELDS = ("reason", "thread_id", "violations", "compliance")
FINISHED = ("answered", "held", "rejected", "failed")


def sees_drafts(role: str) -> bool:
    """Whether a principal with `role` reviews held answers (and so may see their drafts)."""
    return role in REVIEWER_ROLES


class ReleaseGate:
    """Filters one run's events for one viewer: the answer is released only after a passing verdict;
    a held answer goes to a reviewer as a draft and to nobody else."""

    def __init__(self, *, reviewer: bool):
        self.reviewer = reviewer
        self._answer: Event | None = None

    def feed(self, event: Event) -> list[Event]:
        """The events the viewer sees now, given the run's next event."""
        if event.type == "answer":
            self._answer = event
            return []
        if event.type not in ("compliance", "done"):
            return [event]
        answer, self._answer = self._answer, None
        if answer is None:
            return [event]
        if event.type == "done":
            return [answer, event] if event.data.get("status") == "answered" else [event]
        if event.data.get("passed", False):
            return [answer, event]
        if self.reviewer:
            return [answer.model_copy(update={"data": {**answer.data, "draft": True}}), event]
        return [event]


def released(events: Iterable[Event], *, reviewer: bool) -> Iterator[Event]:
    """`events` as the viewer sees them (see `ReleaseGate`)."""
    gate = ReleaseGate(reviewer=reviewer)
    for event in events:
        yield from gate.feed(event)


def held_for(held: dict[str, Any] | None, *, reviewer: bool) -> dict[str, Any] | None:
    """What a viewer sees of a held answer's payload: all of it for a reviewer; for the asker, why it is
    held but not the draft."""
    if held is None or reviewer:
        return held
    return {k: v for k, v in held.items() if k in ASKER_HELD_FIELDS}


class RunView(BaseModel):
    """One run as an interface shows it, folded from its (released) events with `add`."""

    thread_id: str | None = None
    request_id: str | None = None
    status: str = Field("running", description="running, then answered | held | rejected | failed")
    plan: list[dict[str, Any]] = Field(default_factory=list)
    plan_source: str = ""
    plan_reason: str = ""
    steps: dict[int, dict[str, Any]] = Field(
        default_factory=dict, description="step id → skill, args, state (pending|running|ok|failed), ..."
    )
    answer: dict[str, Any] | None = None
    compliance: dict[str, Any] | None = None
    held: dict[str, Any] | None = None
    review: dict[str, Any] | None = None
    errors: list[str] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def held_reason(self) -> str | None:
        if self.held is None:
            return None
        return str(self.held.get("reason", "")) or "the compliance check failed"

    @property
    def produced_by(self) -> str | None:
        """What wrote the answer: a backend id, or `rules` / `template` / `extractive`."""
        return (self.answer or {}).get("produced_by")

    @property
    def error(self) -> str | None:
        return self.errors[-1] if self.errors else None

    def add(self, event: Event) -> None:
        """Fold the next event in."""
        self.request_id = event.request_id or self.request_id
        self.thread_id = event.thread_id or self.thread_id
        d = event.data
        if event.type == "plan":
            self._add_plan(d)
        elif event.type in ("step_start", "step_finish"):
            self._add_step(event.type, d)
        elif event.type == "answer":
            self.answer = dict(d)
        elif event.type == "compliance":
            self.compliance = dict(d)
        elif event.type == "held":
            self.held = dict(d)
            self.thread_id = d.get("thread_id") or self.thread_id
        elif event.type == "review":
            self.review = dict(d)
        elif event.type == "error":
            self.errors.append(str(d.get("message", "unknown error")))
        elif event.type == "done":
            self.status = str(d.get("status", "failed"))

    def _add_plan(self, d: dict[str, Any]) -> None:
        self.plan = list(d.get("steps", []))
        self.plan_source, self.plan_reason = str(d.get("source", "")), str(d.get("reason", ""))
        for s in self.plan:
            self.steps[int(s["id"])] = {
                "skill": s.get("skill"),
                "args": s.get("args", {}),
                "state": "pending",
            }

    def _add_step(self, kind: str, d: dict[str, Any]) -> None:
        step = self.steps.setdefault(int(d["id"]), {"skill": d.get("skill"), "args": d.get("args", {})})
        if kind == "step_start":
            step["state"] = "running"
        else:
            step.update(d)
            step["state"] = "ok" if d.get("ok", True) else "failed"

    def finished_steps(self) -> dict[int, dict[str, Any]]:
        """The steps that ran to an end (ok or failed), by id."""
        return {k: v for k, v in sorted(self.steps.items()) if v.get("state") in ("ok", "failed")}


def fold(events: Iterable[Event]) -> RunView:
    """The view of a whole run."""
    view = RunView()
    for event in events:
        view.add(event)
    return view
