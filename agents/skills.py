"""The skill contract. A skill is ONE declaration: a typed worker plus what the framework needs from it.

    @skill(name="fx_quote", args=FxArgs, output=FxQuote, tools=("fx_rate",),
           examples=[("What is the USD/CNY rate?", {"pair": "USD/CNY"})],
           intent=r"\\bfx\\b|exchange rate|汇率", plan_args=lambda e: [{"pair": p} for p in e.pairs],
           render=lambda out: Rendered(text=f"USD/CNY is {out['rate']}."),
           evaluation=Evaluation(eval_set=Path("fx.jsonl"), metric=fx_metric))
    def fx_quote(args: FxArgs, ctx: SkillContext) -> FxQuote: ...

- `description`, `examples`, `plan_rule` (one line of planning advice) → the planner prompt and corpus;
- `intent`, `plan_args`, `needs`, `bare_entity` → the rules fallback planner (what it recognises, which steps);
- `render` → how the synthesizer and the page show the output to people, with citations;
- `recommends` → which argument names the client or the product of a recommendation (the gate checks that
  client's suitability for each product the plan's successful steps name);
- `evaluation` → the arena: eval set, metric, baselines, what to pass a backend run, per-category F1;
- `finetune` → `fincopilot finetune`: a factory of the skill's `SkillTask` (its model prompt, target, metrics).

Skills are discovered through the Python entry-point group `fincopilot.skills` (the built-ins are registered
the same way in pyproject.toml), so a separately installed package adds a skill with no edit to FinCopilot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from fincopilot.errors import InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.models.gateway import default_gateway
from fincopilot.models.messages import Completion, Message
from fincopilot.models.trainset import SkillTask
from fincopilot.plugins import PluginGroup
from fincopilot.principal import Principal, acting_as
from fincopilot.safety import audit
from fincopilot.safety.resilience import call_with_timeout
from fincopilot.tools.registry import get_tool

log = get_logger(__name__)

A = TypeVar("A", bound=BaseModel)
O = TypeVar("O", bound=BaseModel)  # noqa: E741 - the output type
Role = Literal["client", "product"]  # what an argument identifies in a recommendation
ROLES: tuple[Role, ...] = ("client", "product")

ENTRY_POINT_GROUP = "fincopilot.skills"
QUOTE_REF = "$quote"  # the draft the advisor quoted in the request (resolved before the plan runs)
CLIENT_ID = re.compile(r"(?<![A-Za-z0-9-])C-\d{3,6}(?!\d)", re.IGNORECASE)
PRODUCT_CODE = re.compile(r"(?<![A-Za-z0-9-])([A-Z]{2,3}-\d{1,2})(?![0-9])")


class Entities(BaseModel):
    """What the rules planner found in a request, handed to each skill's `intent` and `plan_args`."""

    request: str
    clients: list[str] = Field(default_factory=list, description="client ids like C-1042")
    products: list[str] = Field(default_factory=list, description="product codes like HY-7")
    quote: str | None = Field(None, description="the longest passage the request quotes (a draft to check)")


class SourceRef(BaseModel):
    """One cited source of a rendered output: a label people read and, where there is one, a link."""

    label: str
    url: str | None = None
    passage: str | None = Field(
        None, description="a knowledge-base passage id (the page links it to the passage)"
    )
    internal: bool = Field(False, description="an internal-only document (must not reach a client unmarked)")


class Rendered(BaseModel):
    """A step output as people read it: sentences whose numbers are copied from the output, and its sources."""

    text: str
    sources: list[SourceRef] = Field(default_factory=list)
    text_zh: str | None = Field(
        None, description="the same in Chinese, for a request asked in Chinese (else `text`)"
    )


Metric = Callable[[Mapping[str, Any], Mapping[str, Any], "str | None"], dict[str, float]]


@dataclass(frozen=True)
class PerCategory:
    """Per-category F1 in the arena (`f1:<category>`): the categories, and the categories a reference holds
    (`gold(reference)`) and an output flags (`predicted(output)`)."""

    names: tuple[str, ...]
    gold: Callable[[Mapping[str, Any]], Iterable[str]]
    predicted: Callable[[Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True)
class Evaluation:
    """What the arena needs: the eval set, a metric, the classical baselines and a backend run's extra args.

    `metric(reference, output, source)` returns `{"score": 0..1, other metrics...}`; `source` is what
    `source(item_input)` returns (the text the output must be faithful to) or None. With `per_category` the
    arena also reports F1 per category.
    """

    eval_set: Path | None = None
    metric: Metric | None = None
    baselines: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = field(default_factory=dict)
    backend_args: Mapping[str, Any] = field(default_factory=dict)
    source: Callable[[dict[str, Any]], str | None] | None = None
    aggregate: Callable[[Sequence[Mapping[str, float]]], dict[str, float]] | None = None
    headline: tuple[str, ...] = ()
    per_category: PerCategory | None = None


def _json_render(output: Mapping[str, Any]) -> Rendered:
    return Rendered(text=json.dumps(dict(output), ensure_ascii=False, default=str)[:1500])


@dataclass(frozen=True)
class Skill:
    name: str
    args: type[BaseModel]
    output: type[BaseModel]
    fn: Callable[[Any, SkillContext], BaseModel]
    description: str
    tools: tuple[str, ...] = ()
    examples: tuple[tuple[str, Any], ...] = ()
    intent: re.Pattern[str] | Callable[[Entities], bool] | None = None
    plan_args: Callable[[Entities], list[dict[str, Any]]] | None = None
    needs: str = ""
    bare_entity: Role | None = None
    plan_rule: str = ""
    render: Callable[[Mapping[str, Any]], Rendered] = _json_render
    evaluation: Evaluation = field(default_factory=Evaluation)
    recommends: Mapping[Role, str] = field(default_factory=dict)
    finetune: Callable[[], SkillTask] | None = None

    def recommended(self, args: Mapping[str, Any]) -> dict[Role, str]:
        """What a step with these `args` names in a recommendation: role → value (string arguments only)."""
        return {role: v for role, arg in self.recommends.items() if isinstance(v := args.get(arg), str)}

    def run(self, args: BaseModel | dict[str, Any], ctx: SkillContext) -> BaseModel:
        """Validate `args` (bad arguments raise `InputError`, never pydantic's error) and run the worker.

        The call runs `acting_as(ctx.principal)`: the data layer checks every client read against it.
        """
        if isinstance(args, self.args):
            parsed = args
        else:
            try:
                parsed = self.args.model_validate(args)
            except ValidationError as err:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
                raise InputError(f"bad arguments for skill {self.name!r}: {problems}") from None
        with acting_as(ctx.principal):
            return self.fn(parsed, ctx)

    def wants(self, entities: Entities) -> bool:
        """True when the request asks for this skill (its declared intent)."""
        if self.intent is None:
            return False
        if isinstance(self.intent, re.Pattern):
            return bool(self.intent.search(entities.request))
        return bool(self.intent(entities))

    def steps_for(self, entities: Entities) -> list[dict[str, Any]]:
        """The argument sets the rules planner runs this skill with ([] = something it needs is missing)."""
        return list(self.plan_args(entities)) if self.plan_args is not None else []

    def example_plans(self) -> list[tuple[str, dict[str, Any]]]:
        """The declared examples as (request, plan): an example's second part is the args or a whole plan."""
        out = []
        for request, target in self.examples:
            if isinstance(target, Mapping) and "steps" in target:
                out.append((request, dict(target)))
            else:
                out.append(
                    (
                        request,
                        {"steps": [{"id": 1, "skill": self.name, "args": dict(target), "depends_on": []}]},
                    )
                )
        return out


@dataclass
class SkillContext:
    """What a skill may use: the routed model gateway (for its own skill) and its allowed tools."""

    skill: str
    request_id: str = "req-local"
    allowed_tools: tuple[str, ...] = ()
    gateway: Any = None  # fincopilot.models.gateway.Gateway; None → the process default
    trace: list[dict[str, Any]] = field(default_factory=list)
    principal: Principal | None = (
        None  # who the request runs for (server: the key's; CLI: the local operator)
    )
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
        seed: int | None = None,
    ) -> Completion:
        """Ask the backend the router assigns to this skill (with failover); `seed` for a reproducible sample."""
        gw = self.gateway or default_gateway()

        def call() -> Completion:
            return gw.complete(
                self.skill,
                messages,
                schema=schema,
                max_tokens=max_tokens,
                temperature=temperature,
                request_id=self.request_id,
                **({"seed": seed} if seed is not None else {}),  # a gateway stand-in may take none
            )

        result = (
            call_with_timeout(call, self.model_budget_s, name=f"{self.skill} model part")
            if self.model_budget_s
            else call()
        )
        self.trace.append(
            {"backend": result.backend_id, "latency_s": result.latency_s, "tokens": result.usage.total_tokens}
        )
        return result

    def call_tool(self, name: str, args: BaseModel | dict[str, Any]) -> BaseModel:
        """Call a registered tool; only tools on this skill's allowlist are reachable."""
        if name not in self.allowed_tools:
            # audited: an out-of-allowlist request is what a prompt injection looks like from here
            audit.record(
                "tool_denied",
                request_id=self.request_id,
                skill=self.skill,
                tool=str(name)[:200],
                allowed=list(self.allowed_tools),
            )
            raise InputError(
                f"skill {self.skill!r} may not call tool {name!r} (allowed: {list(self.allowed_tools)})"
            )

        result = get_tool(name)(args)
        audit.record(
            "tool_call",
            request_id=self.request_id,
            skill=self.skill,
            tool=name,
            args=args if isinstance(args, dict) else args.model_dump(mode="json"),
        )
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
_PLUGINS = PluginGroup(ENTRY_POINT_GROUP)


def skill(
    *,
    name: str,
    args: type[A],
    output: type[O],
    description: str | None = None,
    tools: Sequence[str] = (),
    examples: Sequence[tuple[str, Any]] = (),
    intent: str | re.Pattern[str] | Callable[[Entities], bool] | None = None,
    plan_args: Callable[[Entities], list[dict[str, Any]]] | None = None,
    needs: str = "",
    bare_entity: Role | None = None,
    plan_rule: str = "",
    render: Callable[[Mapping[str, Any]], Rendered] | None = None,
    evaluation: Evaluation | None = None,
    recommends: Mapping[Role, str] | None = None,
    finetune: Callable[[], SkillTask] | None = None,
):
    """Register a worker skill; the decorated function takes `(args, ctx)` and returns `output`.

    Everything after `tools` is optional; see the module doc for what each part feeds.
    """
    unknown = sorted(set(recommends or {}) - set(ROLES))
    if unknown:
        raise InputError(f"skill {name!r}: recommends roles {unknown}; the roles are {list(ROLES)}")

    def decorate(fn: Callable[[A, SkillContext], O]) -> Skill:
        text = (description or fn.__doc__ or "").strip()
        s = Skill(
            name=name,
            args=args,
            output=output,
            fn=fn,
            description=text.splitlines()[0] if text else name,
            tools=tuple(tools),
            examples=tuple(examples),
            intent=re.compile(intent, re.IGNORECASE) if isinstance(intent, str) else intent,
            plan_args=plan_args,
            needs=needs,
            bare_entity=bare_entity,
            plan_rule=plan_rule,
            render=render or _json_render,
            evaluation=evaluation or Evaluation(),
            recommends=dict(recommends or {}),
            finetune=finetune,
        )
        _SKILLS[name] = s
        return s

    return decorate


def get_skill(name: str) -> Skill:
    load_installed_skills()
    if name not in _SKILLS:
        raise NotFoundError(f"unknown skill {name!r}; registered skills: {', '.join(sorted(_SKILLS))}")
    return _SKILLS[name]


def list_skills() -> list[Skill]:
    load_installed_skills()
    return [_SKILLS[k] for k in sorted(_SKILLS)]


def unregister(name: str) -> None:
    """Remove a skill (tests that register temporary skills)."""
    _SKILLS.pop(name, None)


def load_installed_skills(*, reload: bool = False) -> list[str]:
    """Import every module registered under the `fincopilot.skills` entry-point group (once per process;
    the built-ins are registered there too). Returns the entry-point names loaded now."""
    return _PLUGINS.load(reload=reload)
