"""Scripted FAKE backends for the planner/executor unit tests (named as such; the real model has its own tests).

`fake_gateway(reply, delay_s)` builds a gateway whose every skill routes to one scripted backend; `planner_reply`
answers the planner schema with the rules planner's plan (a "perfect planner") and everything else with text
that fails schema parsing, so the workers take their deterministic paths.
"""

from __future__ import annotations

import json
import re
import time

from fincopilot.config import BackendSpec, Settings
from fincopilot.models.backends.scripted import ScriptedBackend
from fincopilot.models.gateway import Gateway
from fincopilot.models.registry import register_instance
from fincopilot.models.router import Router
from fincopilot.safety.resilience import HealthRegistry


def planner_reply(messages, schema):
    """Fake model: plans like the rules planner; answers the synthesizer with a cited sentence."""
    from fincopilot.agents.planner import fallback_plan

    name = getattr(schema, "__name__", "")
    if name == "PlannerOutput":
        users = [
            m.content for m in messages if m.role == "user" and not m.content.startswith("That plan has")
        ]
        earlier, _, request = users[-1].rpartition("\nNow: ")
        # a perfect planner reads the conversation too (the prompt's "Earlier in this conversation: a | b")
        context = earlier.removeprefix("Earlier in this conversation: ").split(" | ") if earlier else []
        plan, _ = fallback_plan(request, context)
        return json.dumps(plan.plan_json())
    if name == "_Draft":
        facts = messages[-1].content
        first = re.search(r"\[1\] ([^\n]*)", facts)
        return json.dumps({"answer": (first.group(1)[:200] + " [1]") if first else "Nothing to report [1]."})
    return "not json (scripted fake)"


def fake_gateway(
    reply=planner_reply,
    *,
    delay_s: float = 0.0,
    backend_id: str = "fake-scripted",
    max_concurrency: int = 8,
    timeout_s: float = 30.0,
):
    """(gateway, backend): a gateway whose every skill routes to one scripted FAKE backend."""

    def delayed(messages, schema):
        if delay_s:
            time.sleep(delay_s)
        return reply(messages, schema)

    backend = ScriptedBackend.from_function(
        backend_id, delayed, max_concurrency=max_concurrency, timeout_s=timeout_s, max_retries=0
    )
    register_instance(backend)
    cfg = Settings(default_backend=backend_id, backends=[backend.spec])
    return Gateway(Router(cfg), health=HealthRegistry()), backend


def spec_for(backend: ScriptedBackend) -> BackendSpec:
    return backend.spec
