"""The advisor graph: plan → run ready steps in parallel → join → … → synthesize → compliance gate → answer.

    START → plan ─┬─ Send(run_step) × ready steps ─→ join ─┬─ (more ready steps: fan out again)
                  └──────────────── synthesize ←───────────┘
    synthesize → compliance ─┬─ passed ─────────────────→ finalize → END
                             └─ failed → review (interrupt: approve | edit | reject) → finalize
                                         edit → compliance again (the edited text is what gets released)

`compliance` is ONE node with its own typed input (`graphs.gate`): the synthesized answer plus the
recommendation (the client and every product the plan looked up). It adds the risk disclosure, checks the text
it will release, and holds it for review when a check fails, a number is unsupported, or the answer relies on
text flagged as a prompt-injection attempt. No plan step checks the final answer.

Nodes are plain functions over a small typed state (`graphs.state.AdvisorState`). Steps whose dependencies
are done are dispatched together with LangGraph's `Send`, so they run concurrently in LangGraph's executor;
each step has its own timeout and retry (the gateway inside handles backend failover). A failed step is
recorded as failed (and its dependents as skipped), never dropped. Progress goes out through LangGraph's
custom stream (`graphs.events.emit`) as `graphs.events.Event`-shaped dicts; every decision is audited.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from fincopilot.agents import synthesizer
from fincopilot.agents.planner import REF_PATTERN, plan_request
from fincopilot.agents.skills import SkillContext, get_skill, produced_by
from fincopilot.errors import BackendError, FinCopilotError
from fincopilot.graphs.events import emit
from fincopilot.graphs.gate import compliance_gate
from fincopilot.graphs.state import AdvisorState, GateInput, Recommendation, Review, StepTask
from fincopilot.log import get_logger
from fincopilot.principal import Principal
from fincopilot.safety import audit
from fincopilot.safety.injection import strip_markers
from fincopilot.safety.resilience import call_with_timeout

log = get_logger(__name__)

STEP_TIMEOUT_S = 300.0
STEP_RETRIES = 1
MODEL_BUDGET_SHARE = 0.5  # a step's optional model part may use this share of the step's time limit


def _principal(data: dict[str, Any] | None) -> Principal | None:
    """The request's principal from the (checkpointed, plain-data) state."""
    return Principal.model_validate(data) if data else None


def _rendered(skill: str, output: dict[str, Any]) -> dict[str, Any]:
    """The skill's own rendering of its output for people (the page shows it instead of raw JSON)."""
    try:
        return synthesizer.rendered(skill, output).model_dump(mode="json")
    except Exception as err:  # noqa: BLE001 - a renderer bug must not fail the step; the page falls back to JSON
        log.warning("render_failed", skill=skill, error=str(err)[:200])
        return {"text": "", "sources": []}


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    """An argument with `"$n.field"` references replaced by that step's output field."""
    if isinstance(value, str):
        m = REF_PATTERN.match(value)
        if m:
            r = results.get(m.group(1)) or {}
            return (r.get("output") or {}).get(m.group(2))
        return value
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    return value


def recommendation(plan: dict[str, Any], results: dict[str, Any]) -> Recommendation | None:
    """The client and every product the plan's successful steps name (each skill declares which of its
    arguments does, `recommends`): one client and at least one product make a recommendation the gate checks
    for suitability; anything else is None."""
    named: dict[str, list[str]] = {"client": [], "product": []}
    for s in plan.get("steps", []):
        done = results.get(str(s["id"])) or {}
        if not done.get("ok"):
            continue
        for role, value in get_skill(s["skill"]).recommended(done.get("args") or {}).items():
            if value not in named[role]:
                named[role].append(value)
    clients, products = named["client"], named["product"]
    if len(clients) != 1 or not products:
        return None
    return Recommendation(client=clients[0], products=products)


def _released_text(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with fence markers and chat-template tokens removed: they never reach an advisor."""
    return {**answer, "text": strip_markers(answer.get("text", ""))}


def _failure(err: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": f"{type(err).__name__}: {err}"[:1000]}


class _Nodes:
    """The advisor graph's nodes, sharing one configuration (gateway, time limits, model use)."""

    def __init__(
        self, gateway, *, use_model: bool, step_timeout_s: float, step_retries: int, planner_repairs: int
    ):
        self.gateway = gateway
        self.use_model = use_model
        self.step_timeout_s = step_timeout_s
        self.step_retries = step_retries
        self.planner_repairs = planner_repairs

    # --- plan -----------------------------------------------------------------------------------
    def plan(self, state: AdvisorState) -> dict[str, Any]:
        rid = state["request_id"]
        context = [t["content"] for t in state.get("turns", []) if t.get("role") == "user"][-3:]
        outcome = plan_request(
            state["request"],
            gateway=self.gateway,
            max_repairs=self.planner_repairs,
            context=context,
            request_id=rid,
            use_model=self.use_model,
            on_progress=lambda info: emit("planning", **info),
        )
        p = outcome.plan
        data = {
            "steps": [s.model_dump() for s in p.steps],
            "direct_answer": p.direct_answer,
            "source": outcome.source,
            "reason": outcome.reason,
            "problems": outcome.problems[:8],
            "backend": outcome.backend,
        }
        audit.record("plan", request_id=rid, **data)
        emit("plan", **data)
        return {"plan": data}

    # --- dispatch (fan-out) and join -------------------------------------------------------------
    @staticmethod
    def dispatch(state: AdvisorState):
        steps = (state.get("plan") or {}).get("steps", [])
        results = state.get("results") or {}
        ids = {s["id"] for s in steps}
        pending = [s for s in steps if str(s["id"]) not in results]
        ready = [s for s in pending if all(str(d) in results for d in s["depends_on"] if d in ids)]
        if not ready:
            return "synthesize"
        return [
            Send(
                "run_step",
                StepTask(
                    step=s,
                    args={k: _resolve(v, results) for k, v in s["args"].items()},
                    request_id=state["request_id"],
                    blocked_by=[d for d in s["depends_on"] if d in ids and not results[str(d)].get("ok")],
                    principal=state.get("principal"),
                ),
            )
            for s in ready
        ]

    @staticmethod
    def join(state: AdvisorState) -> dict[str, Any]:
        return {}

    # --- one step --------------------------------------------------------------------------------
    def _attempts(self, task: StepTask, result: dict[str, Any]) -> None:
        """Run the step's skill with its time limit, retrying a backend failure; fill in `result`."""
        name, sid = task["step"]["skill"], task["step"]["id"]
        skill = get_skill(name)
        last: BaseException | None = None
        for attempt in range(self.step_retries + 1):
            result["attempts"] = attempt + 1
            ctx = SkillContext(
                skill=name,
                request_id=task["request_id"],
                allowed_tools=skill.tools,
                gateway=self.gateway,
                principal=_principal(task.get("principal")),
                model_budget_s=self.step_timeout_s * MODEL_BUDGET_SHARE,
            )
            try:
                out = call_with_timeout(
                    lambda ctx=ctx: skill.run(task["args"], ctx),
                    self.step_timeout_s,
                    name=f"step {sid} ({name})",
                )
                result.update(ok=True, output=out.model_dump(mode="json"))
                result["produced_by"] = produced_by(result["output"], ctx.trace)
                return
            except FinCopilotError as err:
                last = err
                if not isinstance(err, BackendError):
                    break  # bad input, unknown client...: retrying cannot help
            except Exception as err:  # noqa: BLE001 - a worker bug must fail its step, not the run
                last = err
            finally:
                if ctx.trace:
                    result["backend"] = ctx.trace[-1]["backend"]
            log.warning("step_failed", step=sid, skill=name, attempt=attempt, error=str(last)[:300])
        if last is not None:
            result.update(_failure(last))

    def run_step(self, task: StepTask) -> dict[str, Any]:
        step, rid = task["step"], task["request_id"]
        sid, name = step["id"], step["skill"]
        started = time.time()
        emit("step_start", id=sid, skill=name, args=task["args"])
        audit.record("step_start", request_id=rid, step=sid, skill=name, args=task["args"])
        result: dict[str, Any] = {
            "id": sid,
            "skill": name,
            "args": task["args"],
            "started_at": started,
            "attempts": 0,
            "backend": None,
        }
        if task["blocked_by"]:
            result.update(ok=False, error=f"skipped: depends on failed step(s) {task['blocked_by']}")
        else:
            self._attempts(task, result)
        result["finished_at"] = time.time()
        result["latency_s"] = round(result["finished_at"] - started, 3)
        result["backend"] = result["backend"] or ("tools" if result.get("ok") else None)
        result.setdefault("produced_by", None)
        _finished(result, rid)
        return {"results": {str(sid): result}}

    # --- synthesize ------------------------------------------------------------------------------
    def synthesize(self, state: AdvisorState) -> dict[str, Any]:
        p, rid = state["plan"] or {}, state["request_id"]
        results = state.get("results") or {}
        if not p.get("steps"):
            ans = synthesizer.direct_answer(
                state["request"],
                p.get("direct_answer"),
                gateway=self.gateway,
                request_id=rid,
                use_model=self.use_model,
            )
        else:
            ans = synthesizer.synthesize(
                state["request"],
                p["steps"],
                results,
                gateway=self.gateway,
                request_id=rid,
                use_model=self.use_model,
            )
        return {"answer": _released_text(ans.model_dump()), "recommendation": recommendation(p, results)}


def _finished(result: dict[str, Any], rid: str) -> None:
    """Emit and audit a finished step (its output and rendering, or its error)."""
    keys = (
        "id",
        "skill",
        "ok",
        "backend",
        "produced_by",
        "latency_s",
        "attempts",
        "started_at",
        "finished_at",
    )
    payload = {k: result[k] for k in keys}
    payload.update(
        {"output": result["output"], "rendered": _rendered(result["skill"], result["output"])}
        if result["ok"]
        else {"error": result["error"]}
    )
    emit("step_finish", **payload)
    audit.record(
        "step_finish",
        request_id=rid,
        step=result["id"],
        skill=result["skill"],
        ok=result["ok"],
        backend=result["backend"],
        produced_by=result["produced_by"],
        latency_s=result["latency_s"],
        attempts=result["attempts"],
        error=result.get("error"),
    )


# --- review and release ----------------------------------------------------------------------------
def after_compliance(state: AdvisorState) -> str:
    return "finalize" if (state.get("compliance") or {}).get("passed") else "review"


def review(state: AdvisorState) -> dict[str, Any]:
    """Wait for a human decision on a held answer (interrupt); an edit goes back through the gate."""
    ans = state.get("answer") or {}
    decision = interrupt(
        {
            "request_id": state["request_id"],
            "request": state["request"],
            "answer": ans.get("text"),
            "violations": (state.get("compliance") or {}).get("violations", []),
            "choices": ["approve", "edit", "reject"],
        }
    )
    rv = Review.model_validate(decision)
    audit.record("review", request_id=state["request_id"], **rv.model_dump())
    emit("review", **rv.model_dump())
    if rv.decision == "approve":
        return {"review": rv.model_dump(), "status": "answered"}
    if rv.decision == "edit":  # back through the compliance gate before anything is released
        edited = _released_text({**ans, "text": rv.text, "method": "edited", "edited_by": rv.reviewer})
        return {"review": rv.model_dump(), "status": "edited", "answer": edited}
    return {"review": rv.model_dump(), "status": "rejected"}


def after_review(state: AdvisorState) -> str:
    return "compliance" if state.get("status") == "edited" else "finalize"


def finalize(state: AdvisorState) -> dict[str, Any]:
    rid, status = state["request_id"], state.get("status") or "answered"
    ans = state.get("answer") or {}
    text = ans.get("text", "") if status == "answered" else ""
    audit.record(
        "answer",
        request_id=rid,
        status=status,
        text=text,
        citations=ans.get("citations", []),
        method=ans.get("method"),
        unsupported_numbers=ans.get("unsupported_numbers", []),
    )
    if status == "answered" and ans.get("method") == "edited":
        emit("answer", **ans)
    turn_a = {
        "role": "assistant",
        "content": text
        if status == "answered"
        else f"(answer {status} by {(state.get('review') or {}).get('reviewer', 'review')})",
        "request_id": rid,
        "status": status,
        "citations": ans.get("citations", []),
        "plan": (state.get("plan") or {}).get("steps", []),
    }
    return {
        "status": status,
        "turns": [{"role": "user", "content": state["request"], "request_id": rid}, turn_a],
    }


def build_advisor_graph(
    gateway=None,
    *,
    checkpointer=None,
    use_model: bool = True,
    step_timeout_s: float = STEP_TIMEOUT_S,
    step_retries: int = STEP_RETRIES,
    planner_repairs: int = 1,
):
    """Compile the advisor graph. `gateway`: the model gateway (None → the process default)."""
    nodes = _Nodes(
        gateway,
        use_model=use_model,
        step_timeout_s=step_timeout_s,
        step_retries=step_retries,
        planner_repairs=planner_repairs,
    )
    g = StateGraph(AdvisorState)
    g.add_node("plan", nodes.plan)
    g.add_node("run_step", nodes.run_step)
    g.add_node("join", nodes.join)
    g.add_node("synthesize", nodes.synthesize)
    g.add_node("compliance", compliance_gate, input_schema=GateInput)
    g.add_node("review", review)
    g.add_node("finalize", finalize)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", nodes.dispatch, ["run_step", "synthesize"])
    g.add_edge("run_step", "join")
    g.add_conditional_edges("join", nodes.dispatch, ["run_step", "synthesize"])
    g.add_edge("synthesize", "compliance")
    g.add_conditional_edges("compliance", after_compliance, ["finalize", "review"])
    g.add_conditional_edges("review", after_review, ["compliance", "finalize"])
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer)


def make_graph():
    """Factory for `langgraph dev` (langgraph.json): the advisor graph; LangGraph's server adds persistence."""
    return build_advisor_graph()
