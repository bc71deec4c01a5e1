"""The skill registry. A skill is a worker: typed args in, typed output out, run with a `SkillContext`.

    @skill(name="fx_quote", args=FxArgs, output=FxQuote, tools=("fx_rate",))
    def fx_quote(args: FxArgs, ctx: SkillContext) -> FxQuote: ...

The planner's JSON schema is built from this registry, so plans can only name registered skills.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from fincopilot.errors import InputError, NotFoundError
from fincopilot.models.base import Completion, Message

A = TypeVar("A", bound=BaseModel)
O = TypeVar("O", bound=BaseModel)


@dataclass(frozen=True)
class Skill:
    name: str
    args: type[BaseModel]
    output: type[BaseModel]
    fn: Callable[[Any, SkillContext], BaseModel]
    description: str
    tools: tuple[str, ...] = ()

    def run(self, args: BaseModel | dict[str, Any], ctx: SkillContext) -> BaseModel:
        parsed = args if isinstance(args, self.args) else self.args.model_validate(args)
        return self.fn(parsed, ctx)


@dataclass
class SkillContext:
    """What a skill may use: the routed model gateway (for its own skill) and its allowed tools."""

    skill: str
    request_id: str = "req-local"
    allowed_tools: tuple[str, ...] = ()
    gateway: Any = None  # fincopilot.models.gateway.Gateway; None → the process default
    trace: list[dict[str, Any]] = field(default_factory=list)
    # The model part of a step (an explanation, a rewrite) gets this shorter budget: when it runs out the call
    # raises BackendTimeout, the worker keeps its deterministic result with template text, and the step succeeds.
    model_budget_s: float | None = None

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
    ) -> Completion:
        """Ask the backend the router assigns to this skill (with failover)."""
        from fincopilot.models.gateway import default_gateway

        from fincopilot.safety.resilience import call_with_timeout

        gw = self.gateway or default_gateway()

        def call() -> Completion:
            return gw.complete(self.skill, messages, schema=schema, max_tokens=max_tokens, temperature=temperature,
                               request_id=self.request_id)

        result = (call_with_timeout(call, self.model_budget_s, name=f"{self.skill} model part")
                  if self.model_budget_s else call())
        self.trace.append({"backend": result.backend_id, "latency_s": result.latency_s,
                           "tokens": result.usage.total_tokens})
        return result

    def call_tool(self, name: str, args: BaseModel | dict[str, Any]) -> BaseModel:
        """Call a registered tool; only tools on this skill's allowlist are reachable."""
        from fincopilot.tools.registry import get_tool

        from fincopilot.safety import audit

        if name not in self.allowed_tools:
            # audited: an out-of-allowlist request is what a prompt injection looks like from here
            audit.record("tool_denied", request_id=self.request_id, skill=self.skill, tool=str(name)[:200],
                         allowed=list(self.allowed_tools))
            raise InputError(f"skill {self.skill!r} may not call tool {name!r} (allowed: {list(self.allowed_tools)})")

        result = get_tool(name)(args)
        audit.record("tool_call", request_id=self.request_id, skill=self.skill, tool=name,
                     args=args if isinstance(args, dict) else args.model_dump(mode="json"))
        return result


FALLBACK_PRODUCERS = ("rules", "template", "extractive")


def produced_by(output: dict[str, Any], trace: Sequence[dict[str, Any]]) -> str:
    """What produced a skill's output: the backend id whose model output it kept, or rules/template/extractive.

    A skill says which path its text took (`method` / `explanation_method`: "llm", "template",
    "extractive"); a model call whose output was discarded never counts. A skill with no such field
    counts as the model's when a model call succeeded (its output fed the result), else as "rules".
    """
    method = output.get("method", output.get("explanation_method"))
    if method in FALLBACK_PRODUCERS:
        return str(method)
    backend = trace[-1]["backend"] if trace else None
    if method == "llm" and backend:
        return str(backend)
    return str(backend) if backend and method is None else "rules"


_SKILLS: dict[str, Skill] = {}


def skill(
    *, name: str, args: type[A], output: type[O], description: str | None = None, tools: Sequence[str] = ()
):
    """Register a worker skill; the decorated function takes `(args, ctx)` and returns `output`."""

    def decorate(fn: Callable[[A, SkillContext], O]) -> Skill:
        s = Skill(name=name, args=args, output=output, fn=fn,
                  description=(description or fn.__doc__ or "").strip().splitlines()[0] if (description or fn.__doc__) else name,
                  tools=tuple(tools))
        _SKILLS[name] = s
        return s

    return decorate


def get_skill(name: str) -> Skill:
    _ensure_builtin_skills()
    if name not in _SKILLS:
        raise NotFoundError(f"unknown skill {name!r}; registered skills: {', '.join(sorted(_SKILLS))}")
    return _SKILLS[name]


def list_skills() -> list[Skill]:
    _ensure_builtin_skills()
    return [_SKILLS[k] for k in sorted(_SKILLS)]


def unregister(name: str) -> None:
    """Remove a skill (tests that register temporary skills)."""
    _SKILLS.pop(name, None)


def _ensure_builtin_skills() -> None:
    import fincopilot.agents.workers  # noqa: F401  (registers the built-in worker skills)
