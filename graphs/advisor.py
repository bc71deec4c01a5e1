"""The advisor graph: plan → run ready steps in parallel → join → … → synthesize → compliance gate → answer.

    START → plan ─┬─ Send(run_step) × ready steps ─→ join ─┬─ (more ready steps: fan out again)
                  └──────────────── synthesize ←───────────┘
    synthesize → compliance ─┬─ passed ─────────────────→ finalize → END
                             └─ failed → review (interrupt: approve | edit | reject) → finalize
                                         edit → compliance again (the edited text is what gets released)

The gate holds an answer when the compliance check fails, when a number is unsupported, or when any text
it was built on was flagged as a prompt-injection attempt (`injection_suspected` in the audit log).

Nodes are plain functions over a small typed state (`graphs.state.AdvisorState`). Steps whose dependencies
are done are dispatched together with LangGraph's `Send`, so they run concurrently in LangGraph's executor;
each step has its own timeout and retry (the gateway inside handles backend failover). A failed step is
recorded as failed (and its dependents as skipped), never dropped. Progress goes out through LangGraph's
custom stream (`get_stream_writer`) as `graphs.events.Event`-shaped dicts; every decision is audited.
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from fincopilot.errors import BackendError, FinCopilotError
from fincopilot.graphs.state import AdvisorState, StepTask
from fincopilot.log import get_logger
from fincopilot.principal import Principal
from fincopilot.safety import audit

log = get_logger(__name__)

STEP_TIMEOUT_S = 300.0
STEP_RETRIES = 1
MODEL_BUDGET_SHARE = 0.5  # a step's optional model part may use this share of the step's time limit


def _emit(type_: str, **data: Any) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit use of a node)
        return
    writer({"type": type_, "data": data})


def _principal(data: dict[str, Any] | None) -> Principal | None:
    """The request's principal from the (checkpointed, plain-data) state."""
    return Principal.model_validate(data) if data else None


def _rendered(skill: str, output: dict[str, Any]) -> dict[str, Any]:
    """The skill's own rendering of its output for people (the page shows it instead of raw JSON)."""
    from fincopilot.agents.synthesizer import rendered

    try:
        return rendered(skill, output).model_dump(mode="json")
    except Exception as err:  # noqa: BLE001 - a renderer bug must not fail the step; the page falls back to JSON
        log.warning("render_failed", skill=skill, error=str(err)[:200])
        return {"text": "", "sources": []}


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    from fincopilot.agents.planner import _REF

    if isinstance(value, str):
        m = _REF.match(value)
        if m:
            r = results.get(m.group(1)) or {}
            return (r.get("output") or {}).get(m.group(2))
        return value
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    return value


def _recommendation(plan: dict[str, Any], results: dict[str, Any]) -> tuple[str, str] | None:
    """(client, product) when the plan checks a recommendation to a client about a product."""
    steps = plan.get("steps", [])
    clients = [st["args"].get("client") for st in steps if st["skill"] == "credit_lookup"]
    products = [st["args"].get("product") for st in steps if st["skill"] == "report_summary"]
    if len(clients) == 1 and products and isinstance(clients[0], str) and isinstance(products[0], str):
        return _resolve(clients[0], results), _resolve(products[0], results)
    return None


def _injection_violations(request_id: str) -> list[dict[str, Any]]:
    """A gate violation when any document or text behind this answer was flagged as an injection attempt."""
    hits = audit.rows(request_id, event="injection_suspected")
    if not hits:
        return []
    sources = sorted({str(h.payload.get("source", "?")) for h in hits})
    patterns = sorted({p for h in hits for p in h.payload.get("patterns", [])})
    return [
        {
            "category": "injection_suspected",
            "rule": "GATE-002",
            "span": ", ".join(sources)[:200],
            "reason": f"the answer is built on text flagged as a prompt-injection attempt ({', '.join(patterns)}); "
            "a reviewer must check it",
        }
    ]


def _released_text(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with fence markers and chat-template tokens removed: they never reach an advisor."""
    from fincopilot.safety.injection import strip_markers

    return {**answer, "text": strip_markers(answer.get("text", ""))}


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
    from fincopilot.agents.planner import plan_request
    from fincopilot.agents.skills import SkillContext, get_skill, produced_by
    from fincopilot.agents.synthesizer import direct_answer, synthesize
    from fincopilot.safety.resilience import call_with_timeout

    # --- plan -----------------------------------------------------------------------------------
    def plan(state: AdvisorState) -> dict[str, Any]:
        rid = state["request_id"]
        context = [t["content"] for t in state.get("turns", []) if t.get("role") == "user"][-3:]
        outcome = plan_request(
            state["request"],
            gateway=gateway,
            max_repairs=planner_repairs,
            context=context,
            request_id=rid,
            use_model=use_model,
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
        _emit("plan", **data)
        return {"plan": data}

    # --- dispatch (fan-out) and join -------------------------------------------------------------
    def dispatch(state: AdvisorState):
        p = state.get("plan") or {}
        steps = p.get("steps", [])
        results = state.get("results") or {}
        ids = {s["id"] for s in steps}
        pending = [s for s in steps if str(s["id"]) not in results]
        ready = [s for s in pending if all(str(d) in results for d in s["depends_on"] if d in ids)]
        if not ready:
            return "synthesize"
        sends = []
        for s in ready:
            failed = [d for d in s["depends_on"] if d in ids and not results[str(d)].get("ok")]
            args = {k: _resolve(v, results) for k, v in s["args"].items()}
            sends.append(
                Send(
                    "run_step",
                    StepTask(
                        step=s,
                        args=args,
                        request_id=state["request_id"],
                        blocked_by=failed,
                        principal=state.get("principal"),
                    ),
                )
            )
        return sends

    def run_step(task: StepTask) -> dict[str, Any]:
        step, rid = task["step"], task["request_id"]
        sid, name = step["id"], step["skill"]
        started = time.time()
        _emit("step_start", id=sid, skill=name, args=task["args"])
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
            skill = get_skill(name)
            last: BaseException | None = None
            for attempt in range(step_retries + 1):
                result["attempts"] = attempt + 1
                ctx = SkillContext(
                    skill=name,
                    request_id=rid,
                    allowed_tools=skill.tools,
                    gateway=gateway,
                    principal=_principal(task.get("principal")),
                    model_budget_s=step_timeout_s * MODEL_BUDGET_SHARE,
                )
                try:
                    out = call_with_timeout(
                        lambda ctx=ctx: skill.run(task["args"], ctx),
                        step_timeout_s,
                        name=f"step {sid} ({name})",
                    )
                    result.update(ok=True, output=out.model_dump(mode="json"))
                    result["produced_by"] = produced_by(result["output"], ctx.trace)
                    last = None
                    break
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
                result.update(ok=False, error=f"{type(last).__name__}: {last}"[:1000])
        result["finished_at"] = time.time()
        result["latency_s"] = round(result["finished_at"] - started, 3)
        result["backend"] = result["backend"] or ("tools" if result.get("ok") else None)
        result.setdefault("produced_by", None)
        payload = {
            "id": sid,
            "skill": name,
            "ok": result["ok"],
            "backend": result["backend"],
            "produced_by": result["produced_by"],
            "latency_s": result["latency_s"],
            "attempts": result["attempts"],
            "started_at": started,
            "finished_at": result["finished_at"],
        }
        payload.update(
            {"output": result["output"], "rendered": _rendered(name, result["output"])}
            if result["ok"]
            else {"error": result["error"]}
        )
        _emit("step_finish", **payload)
        audit.record(
            "step_finish",
            request_id=rid,
            step=sid,
            skill=name,
            ok=result["ok"],
            backend=result["backend"],
            produced_by=result["produced_by"],
            latency_s=result["latency_s"],
            attempts=result["attempts"],
            error=result.get("error"),
        )
        return {"results": {str(sid): result}}

    def join(state: AdvisorState) -> dict[str, Any]:
        return {}

    # --- synthesize ------------------------------------------------------------------------------
    def synthesize_node(state: AdvisorState) -> dict[str, Any]:
        p, rid = state["plan"] or {}, state["request_id"]
        results = state.get("results") or {}
        if not p.get("steps"):
            ans = direct_answer(
                state["request"], p.get("direct_answer"), gateway=gateway, request_id=rid, use_model=use_model
            )
        else:
            ans = synthesize(
                state["request"],
                p["steps"],
                results,
                gateway=gateway,
                request_id=rid,
                use_model=use_model,
                recommendation=_recommendation(p, results),
            )
        data = _released_text(ans.model_dump())
        words = data["text"].split(" ")
        for i, w in enumerate(words):  # tokens go out only after the number check passed
            _emit("token", text=w + (" " if i < len(words) - 1 else ""))
        _emit("answer", **data)
        return {"answer": data}

    # --- compliance gate -------------------------------------------------------------------------
    def compliance(state: AdvisorState) -> dict[str, Any]:
        p, rid = state["plan"] or {}, state["request_id"]
        results = state.get("results") or {}
        ans = state["answer"] or {}
        gate = None
        rec = _recommendation(p, results)
        client, product = rec if rec else (None, None)
        update: dict[str, Any] = {}
        started = time.time()
        if gate is not None:
            _emit("step_start", id=gate["id"], skill=gate["skill"], args={**gate["args"], "text": "$answer"})
            audit.record("step_start", request_id=rid, step=gate["id"], skill=gate["skill"])
        skill = get_skill("compliance_check")
        ctx = SkillContext(
            skill="compliance_check",
            request_id=rid,
            allowed_tools=skill.tools,
            gateway=gateway,
            principal=_principal(state.get("principal")),
        )
        try:
            res = skill.run({"text": ans.get("text", ""), "client": client, "product": product}, ctx)
            verdict = res.model_dump(mode="json")
        except FinCopilotError as err:  # a check that cannot run must not let the answer through
            verdict = {
                "passed": False,
                "violations": [
                    {
                        "category": "check_error",
                        "rule": "GATE-001",
                        "span": "",
                        "reason": f"compliance check failed: {err}",
                    }
                ],
            }
        edited = ans.get("method") == "edited"  # a reviewer's edit: the text itself is checked again
        if not edited:
            injected = _injection_violations(rid)
            if injected:
                verdict["passed"] = False
                verdict["violations"] = [*verdict["violations"], *injected]
        if ans.get("flagged") and not edited:
            verdict["passed"] = False
            verdict["violations"] = [
                *verdict["violations"],
                {
                    "category": "unsupported_number",
                    "rule": "NUM-001",
                    "span": ", ".join(ans["unsupported_numbers"]),
                    "reason": "the answer has numbers no cited step supports",
                },
            ]
        verdict.update(client=client, product=product)
        if gate is not None:
            finished = time.time()
            res_d = {
                "id": gate["id"],
                "skill": "compliance_check",
                "args": gate["args"],
                "ok": True,
                "output": {k: verdict[k] for k in ("passed", "violations")},
                "backend": ctx.trace[-1]["backend"] if ctx.trace else "rules",
                "produced_by": produced_by(verdict, ctx.trace),
                "latency_s": round(finished - started, 3),
                "attempts": 1,
                "started_at": started,
                "finished_at": finished,
            }
            update["results"] = {str(gate["id"]): res_d}
            _emit(
                "step_finish",
                id=gate["id"],
                skill="compliance_check",
                ok=True,
                output=res_d["output"],
                backend=res_d["backend"],
                produced_by=res_d["produced_by"],
                latency_s=res_d["latency_s"],
                attempts=1,
            )
            audit.record(
                "step_finish",
                request_id=rid,
                step=gate["id"],
                skill="compliance_check",
                ok=True,
                backend=res_d["backend"],
                latency_s=res_d["latency_s"],
            )
        audit.record(
            "compliance",
            request_id=rid,
            passed=verdict["passed"],
            violations=verdict["violations"],
            client=client,
            product=product,
            edited=edited,
        )
        _emit("compliance", passed=verdict["passed"], violations=verdict["violations"])
        update["compliance"] = verdict
        if verdict["passed"]:
            update["status"] = "answered"
        else:
            reason = "; ".join(f"{v['category']}: {v['reason']}" for v in verdict["violations"])[:500]
            audit.record("held", request_id=rid, reason=reason)
            _emit("held", reason=reason)
            update["status"] = "held"
        return update

    def after_compliance(state: AdvisorState) -> str:
        return "finalize" if (state.get("compliance") or {}).get("passed") else "review"

    def review(state: AdvisorState) -> dict[str, Any]:
        from fincopilot.graphs.runner import Review

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
        rid = state["request_id"]
        audit.record("review", request_id=rid, **rv.model_dump())
        _emit("review", **rv.model_dump())
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
            _emit("answer", **ans)
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

    g = StateGraph(AdvisorState)
    g.add_node("plan", plan)
    g.add_node("run_step", run_step)
    g.add_node("join", join)
    g.add_node("synthesize", synthesize_node)
    g.add_node("compliance", compliance)
    g.add_node("review", review)
    g.add_node("finalize", finalize)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", dispatch, ["run_step", "synthesize"])
    g.add_edge("run_step", "join")
    g.add_conditional_edges("join", dispatch, ["run_step", "synthesize"])
    g.add_edge("synthesize", "compliance")
    g.add_conditional_edges("compliance", after_compliance, ["finalize", "review"])
    g.add_conditional_edges("review", after_review, ["compliance", "finalize"])
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer)


def make_graph():
    """Factory for `langgraph dev` (langgraph.json): the advisor graph; LangGraph's server adds persistence."""
    return build_advisor_graph()
