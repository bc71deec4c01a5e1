"""Building blocks for custom graphs: turn a registered skill into a LangGraph node in one line.

graph.add_node("quote", skill_node("fx_quote", args=lambda s: {"pair": s["pair"]}, into="quote"))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fincopilot.agents.skills import SkillContext, get_skill
from fincopilot.log import current_request_id, new_request_id
from fincopilot.principal import Principal


def skill_node(
    name: str, *, args: Callable[[Mapping[str, Any]], Mapping[str, Any]], into: str, gateway=None
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A node that runs skill `name` with `args(state)` and stores its output (a JSON dict) under `into`.

    The skill runs exactly as in the advisor graph: typed arguments, its tool allowlist, model calls routed
    through the gateway, tool calls audited.
    """

    skill = get_skill(name)  # fail at build time for an unknown skill, naming the registered ones

    def node(state: Mapping[str, Any]) -> dict[str, Any]:
        # a graph that carries a `principal` (fincopilot.principal.Principal as a dict) gets its book enforced
        who = state.get("principal")
        ctx = SkillContext(
            skill=name,
            request_id=current_request_id() or new_request_id(),
            allowed_tools=skill.tools,
            gateway=gateway,
            principal=Principal.model_validate(who) if who else None,
        )
        return {into: skill.run(dict(args(state)), ctx).model_dump(mode="json")}

    node.__name__ = f"skill_{name}"
    return node
