"""FinCopilot: multi-agent financial copilots.

A planner model turns an advisor's request into a validated plan (a DAG of skill steps);
small worker agents run the steps with traditional risk models as tools; an arena scores
backends per skill and the router sends each skill to the best one.

The public API is importable from here (`from fincopilot import skill, SkillContext`). Each name is
loaded on first use (PEP 562), so `import fincopilot` and `fincopilot --help` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name → the module that defines it
_EXPORTS: dict[str, str] = {
    # skills (agents)
    "skill": "fincopilot.agents.skills",
    "Skill": "fincopilot.agents.skills",
    "SkillContext": "fincopilot.agents.skills",
    "Rendered": "fincopilot.agents.skills",
    "Evaluation": "fincopilot.agents.skills",
    "get_skill": "fincopilot.agents.skills",
    "list_skills": "fincopilot.agents.skills",
    # tools
    "tool": "fincopilot.tools.registry",
    "Tool": "fincopilot.tools.registry",
    "get_tool": "fincopilot.tools.registry",
    "list_tools": "fincopilot.tools.registry",
    # graphs
    "skill_node": "fincopilot.graphs.nodes",
    "build_advisor_graph": "fincopilot.graphs.advisor",
    "CopilotRunner": "fincopilot.graphs.runner",
    # models: the backend protocol, its base class, kinds, the gateway
    "Backend": "fincopilot.models.base",
    "BaseBackend": "fincopilot.models.base",
    "Completion": "fincopilot.models.messages",
    "Message": "fincopilot.models.messages",
    "Usage": "fincopilot.models.messages",
    "messages": "fincopilot.models.messages",
    "register_kind": "fincopilot.models.registry",
    "get_backend": "fincopilot.models.registry",
    "Gateway": "fincopilot.models.gateway",
    # configuration
    "BackendSpec": "fincopilot.config",
    "Settings": "fincopilot.config",
    "settings": "fincopilot.config",
    "use_config": "fincopilot.config",
    # errors
    "FinCopilotError": "fincopilot.errors",
    "ConfigError": "fincopilot.errors",
    "InputError": "fincopilot.errors",
    "NotFoundError": "fincopilot.errors",
    "UnknownBackendError": "fincopilot.errors",
    "BackendError": "fincopilot.errors",
    "BackendTimeout": "fincopilot.errors",
    "BackendUnavailable": "fincopilot.errors",
    "StructuredOutputError": "fincopilot.errors",
    "PlanValidationError": "fincopilot.errors",
}

__all__ = [
    "__version__",
    "skill",
    "Skill",
    "SkillContext",
    "Rendered",
    "Evaluation",
    "get_skill",
    "list_skills",
    "tool",
    "Tool",
    "get_tool",
    "list_tools",
    "skill_node",
    "build_advisor_graph",
    "CopilotRunner",
    "Backend",
    "BaseBackend",
    "Completion",
    "Message",
    "Usage",
    "messages",
    "register_kind",
    "get_backend",
    "Gateway",
    "BackendSpec",
    "Settings",
    "settings",
    "use_config",
    "FinCopilotError",
    "ConfigError",
    "InputError",
    "NotFoundError",
    "UnknownBackendError",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "StructuredOutputError",
    "PlanValidationError",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fincopilot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names load lazily
    from fincopilot.agents.skills import (
        Evaluation,
        Rendered,
        Skill,
        SkillContext,
        get_skill,
        list_skills,
        skill,
    )
    from fincopilot.config import BackendSpec, Settings, settings, use_config
    from fincopilot.errors import (
        BackendError,
        BackendTimeout,
        BackendUnavailable,
        ConfigError,
        FinCopilotError,
        InputError,
        NotFoundError,
        PlanValidationError,
        StructuredOutputError,
        UnknownBackendError,
    )
    from fincopilot.graphs.advisor import build_advisor_graph
    from fincopilot.graphs.nodes import skill_node
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.models.base import Backend, BaseBackend
    from fincopilot.models.gateway import Gateway
    from fincopilot.models.messages import Completion, Message, Usage, messages
    from fincopilot.models.registry import get_backend, register_kind
    from fincopilot.tools.registry import Tool, get_tool, list_tools, tool
