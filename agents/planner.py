"""The planner: an advisor's request → a validated plan (a DAG of skill steps), or a direct answer.

1. `planner_schema()` is built from the skill registry: a plan's step is a union over the registered skills,
   each with `skill` as a Literal and its own (bounded) argument model, so constrained decoding (xgrammar)
   can only produce plans that name registered skills with well-typed arguments.
2. `validate_plan()` checks what a schema cannot: unique ids, dependencies that exist and point backwards,
   no self-reference or cycle, arguments valid for the skill, and references to a dependency's output
   (`"$1.grade"`) that name a real field of that skill's output model. `"$quote"` (a draft quoted in the
   request) may only be a `text` argument; it becomes the quoted text before the plan runs. The final answer
   is never a step's argument: the graph's compliance gate checks it after synthesis.
3. `plan_request()` asks the backend the router assigns to `planner` and trusts a valid plan; problems
   (validation, grounding: an argument the request never mentions) are fed back only when that can change
   the output, for at most `max_repairs` rounds; then the rules fallback (each skill's declared intent and
   plan args, English and Chinese, ids/codes and names through the domain database) produces the plan and
   the reason is logged (`use_rules=False`: the model alone). Names resolve to ids and codes, or become a
   question listing the candidates. A request that needs no skill gets a direct answer.

The prompt, its examples and the fallback read the skills' declarations: no skill is named here.
"""

from __future__ import annotations

import graphlib
import json
import re
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, create_model

from fincopilot.agents.skills import CLIENT_ID, PRODUCT_CODE, QUOTE_REF, Entities, get_skill, list_skills
from fincopilot.errors import (
    BackendError,
    FinCopilotError,
    InputError,
    NotFoundError,
    PlanValidationError,
    StructuredOutputError,
)
from fincopilot.log import get_logger
from fincopilot.models.gateway import default_gateway
from fincopilot.models.messages import Message
from fincopilot.tools import data

log = get_logger(__name__)

MAX_STEPS = 6  # what validate_plan accepts
SCHEMA_MAX_STEPS = 6  # what the grammar lets a model write (a comparison for a client takes 5 steps)
MAX_REQUEST_CHARS = 4000
ARG_MAX_CHARS = 60  # ids, codes and names ("Asia Investment Grade Bond Fund", "徐艳")
TEXT_MAX_CHARS = 600  # a `text` argument: "$quote" or a draft copied from the request
PLANNER_MAX_TOKENS = 320
REF_PATTERN = re.compile(r"^\$(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$")


# ---------------------------------------------------------------------------------------------- models
class PlanStep(BaseModel):
    """One step: run `skill` with `args` after the steps in `depends_on` finished."""

    id: int = Field(description="step number, 1-based; [n] citations in the answer refer to it")
    skill: str
    args: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[int] = Field(default_factory=list)


class Plan(BaseModel):
    """A DAG of skill steps, or (no steps) a direct answer."""

    steps: list[PlanStep] = Field(default_factory=list)
    direct_answer: str | None = None

    def step(self, step_id: int) -> PlanStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def plan_json(self) -> dict[str, Any]:
        """The public plan shape: {"steps": [{"id", "skill", "args", "depends_on"}]}."""
        return {"steps": [s.model_dump() for s in self.steps]}


class PlanOutcome(BaseModel):
    """What `plan_request` returns: the plan, where it came from, and what went wrong on the way."""

    plan: Plan
    source: Literal["model", "repaired", "rules"] = Field(
        description="what produced the plan (or the direct answer): the model's first output, a repaired one, "
        "or the rules fallback"
    )
    ok: bool = Field(True, description="False only without rules, when the model gave no valid plan")
    valid_before_repair: bool
    problems: list[str] = Field(default_factory=list, description="problems of the model's rejected attempts")
    reason: str = ""
    backend: str | None = None
    rounds: int = 0
    first_output: str | None = Field(None, description="the model's first raw output (for measuring it)")


# ---------------------------------------------------------------------------------------------- schema
def _is_str_like(annotation: Any) -> tuple[bool, bool]:
    """(is a string field, allows None)."""
    if annotation is str:
        return True, False
    if get_origin(annotation) in (Union, types.UnionType):
        parts = get_args(annotation)
        non_none = [p for p in parts if p is not type(None)]
        if len(non_none) == 1 and non_none[0] is str:
            return True, type(None) in parts
    return False, False


def _planner_args_model(skill) -> type[BaseModel]:
    """The skill's arguments as the planner may write them: string fields (bounded), and required others.

    Optional non-string fields (tuning switches like `use_model`) stay at their defaults: they are the
    worker's business, and leaving them out keeps the grammar small enough for a 135M model.
    """
    fields: dict[str, Any] = {}
    for name, info in skill.args.model_fields.items():
        is_str, optional = _is_str_like(info.annotation)
        desc = None  # descriptions are in the prompt; the grammar only needs the shape
        hidden = (
            (info.json_schema_extra or {}).get("planner") is False
            if isinstance(info.json_schema_extra, dict)
            else False
        )
        if not info.is_required() and (hidden or name == "text"):
            continue  # free text (a report to summarize) is given by an interface, not written by the planner
        if is_str:
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            cap = extra.get("planner_max_chars", TEXT_MAX_CHARS if name == "text" else ARG_MAX_CHARS)
            bounded = Annotated[str, Field(max_length=cap, description=desc)]
            if optional or not info.is_required():
                fields[name] = (bounded | None, None)
            else:
                fields[name] = (bounded, ...)
        elif info.is_required():
            fields[name] = (info.annotation, Field(..., description=desc))
    return create_model(f"{_camel(skill.name)}PlanArgs", **fields)


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", name) if p)


_SCHEMA_CACHE: dict[tuple[str, ...], type[BaseModel]] = {}


def planner_schema() -> type[BaseModel]:
    """The pydantic model the planner's output is constrained to, built from the current skill registry."""
    skills = list_skills()
    key = tuple(f"{s.name}:{id(s.args)}" for s in skills)
    if key in _SCHEMA_CACHE:
        return _SCHEMA_CACHE[key]
    step_id = Annotated[int, Field(ge=1, le=SCHEMA_MAX_STEPS)]
    variants = []
    for s in skills:
        variants.append(
            create_model(
                f"{_camel(s.name)}Step",
                id=(step_id, ...),
                skill=(Literal[s.name], ...),  # type: ignore[valid-type]
                args=(_planner_args_model(s), ...),
                depends_on=(list[step_id], Field(default_factory=list, max_length=SCHEMA_MAX_STEPS - 1)),
            )
        )
    step_union = Union[tuple(variants)] if len(variants) > 1 else variants[0]  # type: ignore[valid-type]  # noqa: UP007 - a runtime union of classes
    model = create_model(
        "PlannerOutput",
        steps=(
            list[step_union],
            Field(
                default_factory=list,  # type: ignore
                max_length=SCHEMA_MAX_STEPS,
            ),
        ),
    )
    _SCHEMA_CACHE[key] = model
    return model


# ---------------------------------------------------------------------------------------------- prompt
_SYSTEM = """You plan the work for a bank advisor's request. Answer with JSON: {{"steps": [...]}}.
Each step: {{"id": n, "skill": name, "args": {{...}}, "depends_on": [ids of earlier steps it needs]}}.
Skills:
{skills}
Rules: write each client and product exactly as the request names it (an id like C-1042, a code like HY-7, or a
name); the note "(named: ...)" after a request lists them and says when it quotes text (a draft to check, or
just a phrase or a name). {rules}\
Greetings and requests no skill can do: {{"steps": []}}."""


def _example_features(plan: dict[str, Any]) -> set[str]:
    """What an example shows: the skills it uses and the quoted draft ($quote) each passes."""
    out = set()
    for st in plan["steps"]:
        out.add(st["skill"])
        out |= {f"{st['skill']}:{v}" for v in st["args"].values() if v == QUOTE_REF}
    return out


def prompt_examples() -> list[tuple[str, dict[str, Any]]]:
    """The skills' declared examples that show something no earlier one shows (a skill, or a reference it
    passes), skipping examples that name a skill not registered."""
    known = {s.name for s in list_skills()}
    shown: set[str] = set()
    out = []
    for s in list_skills():
        for text, plan in s.example_plans():
            features = _example_features(plan)
            if {st["skill"] for st in plan["steps"]} <= known and not features <= shown:
                out.append((text, plan))
                shown |= features
    return out


def _skill_lines() -> str:
    lines = []
    for s in list_skills():
        args = ", ".join(_planner_args_model(s).model_fields)
        lines.append(f"- {s.name}({args}): {s.description}")
    return "\n".join(lines)


def _rule_lines() -> str:
    """Each skill's declared planning rule, in registry order."""
    return "".join(f"{s.plan_rule} " for s in list_skills() if s.plan_rule)


Span = tuple[int, int]


Link = tuple[str, str]  # ("client" or "product", its id or code)


def _outermost(spans: dict[Span, Link]) -> dict[Span, Link]:
    """The spans not inside a longer one ("Bond Fund" inside "Convertible Bond Fund" is one mention)."""
    return {
        sp: link
        for sp, link in spans.items()
        if not any(o != sp and o[0] <= sp[0] and sp[1] <= o[1] for o in spans)
    }


def _named_spans(texts: Sequence[str]) -> list[dict[Span, Link]]:
    """For each text, where the domain database's client and product names occur; none when it cannot be read."""
    try:
        named = data.named_in(texts)
    except FinCopilotError as err:
        log.debug("planner.mentions_by_id_only", reason=str(err))
        return [{} for _ in texts]
    spans: list[dict[Span, Link]] = []
    for text, (clients, products) in zip(texts, named, strict=True):
        entities = [("client", c.client_id, c.name_zh, c.name_en) for c in clients] + [
            ("product", p.code, p.name_zh, p.name_en) for p in products
        ]
        spans.append(
            {
                sp: (kind, key)
                for kind, key, *names in entities
                for sp in filter(None, (data.name_span(n, text) for n in names))
            }
        )
    return spans


def _links(texts: Sequence[str]) -> list[list[tuple[str, str, str]]]:
    """For each text, the clients and products it names, in order, as (kind, as written, id or code): ids and
    codes by pattern, full names through the domain database (ids and codes only when it cannot be read)."""
    out = []
    for text, named in zip(texts, _named_spans(texts), strict=True):
        spans = {m.span(): ("client", m.group(0).upper()) for m in CLIENT_ID.finditer(text)}
        spans |= {m.span(1): ("product", m.group(1)) for m in PRODUCT_CODE.finditer(text)}
        links = sorted(_outermost(spans | named).items())
        out.append([(kind, text[start:end], key) for (start, end), (kind, key) in links])
    return out


def _of_kind(links: list[tuple[str, str, str]], field: int) -> tuple[list[str], list[str]]:
    """(clients, products) of `links`, each as its `field` (1: as written, 2: id or code), once each."""
    return tuple(
        _unique([link[field] for link in links if link[0] == kind]) for kind in ("client", "product")
    )


def mentions(texts: Sequence[str]) -> list[tuple[list[str], list[str]]]:
    """For each text, the clients and products it names, as written and in order (see `_links`)."""
    return [_of_kind(links, 1) for links in _links(texts)]


def _named_entities(text: str) -> tuple[list[str], list[str]]:
    """The clients and products `text` names, as ids and codes, in order (the linker `mentions` uses)."""
    return _of_kind(_links([text])[0], 2)


def _with_mentions(turns: Sequence[str]) -> list[str]:
    """The user turns with the entity linker's reading appended (the clients and products named, and whether
    it quotes text), so the model copies names rather than guessing which words are a client and which a
    product."""
    out = []
    for turn, (clients, products) in zip(turns, mentions(turns), strict=True):
        named = [
            f"{label} {', '.join(items)}"
            for label, items in (("clients", clients), ("products", products))
            if items
        ] or ["no client or product"]
        if quoted_text(turn) is not None:
            named.append("quoted text")
        out.append(turn + "\n(named: " + "; ".join(named) + ")")
    return out


def planner_messages(request: str, context: Sequence[str] = ()) -> list[Message]:
    """The planner prompt (system with skill descriptions and rules, the declared examples, the request),
    each user turn followed by the clients and products it names (`mentions`).

    `context`: earlier user turns of the conversation (most recent last), so follow-ups can refer to them.
    """
    examples = prompt_examples()
    body = (
        request
        if not context
        else "Earlier in this conversation: " + " | ".join(context[-3:]) + "\nNow: " + request
    )
    *shown, asked = _with_mentions([text for text, _ in examples] + [body])
    msgs = [Message(role="system", content=_SYSTEM.format(skills=_skill_lines(), rules=_rule_lines()))]
    for text, (_, plan) in zip(shown, examples, strict=True):
        msgs.append(Message(role="user", content=text))
        msgs.append(Message(role="assistant", content=json.dumps(plan, ensure_ascii=False)))
    msgs.append(Message(role="user", content=asked))
    return msgs


def _repair_messages(
    request: str, context: Sequence[str], previous: str, problems: list[str]
) -> list[Message]:
    msgs = planner_messages(request, context)
    msgs.append(Message(role="assistant", content=previous[:1500]))
    msgs.append(
        Message(
            role="user",
            content="That plan has problems:\n- "
            + "\n- ".join(problems[:6])
            + "\nWrite the corrected plan for the same request.",
        )
    )
    return msgs


# ---------------------------------------------------------------------------------------------- validation
def _as_plan(plan: Plan | dict[str, Any] | BaseModel) -> Plan:
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, BaseModel):
        plan = plan.model_dump()
    try:
        return Plan.model_validate(plan)
    except ValidationError as err:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(plan)'}: {e['msg']}" for e in err.errors()[:8]]
        raise PlanValidationError(problems) from None


def _references(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


def renumbered(plan: Plan) -> Plan:
    """The same valid plan with step ids 1..n in order (a model may start at 2): `depends_on` and `"$k.field"`
    references follow, so `[n]` citations in the answer count from 1."""
    new_id = {s.id: n for n, s in enumerate(plan.steps, 1)}
    if all(k == v for k, v in new_id.items()):
        return plan

    def remap(value: Any) -> Any:
        if isinstance(value, list):
            return [remap(v) for v in value]
        m = REF_PATTERN.match(value) if isinstance(value, str) else None
        return f"${new_id[int(m.group(1))]}.{m.group(2)}" if m and int(m.group(1)) in new_id else value

    steps = [
        s.model_copy(
            update={
                "id": new_id[s.id],
                "depends_on": [new_id[d] for d in s.depends_on],
                "args": {k: remap(v) for k, v in s.args.items()},
            }
        )
        for s in plan.steps
    ]
    return Plan(steps=steps, direct_answer=plan.direct_answer)


def validate_plan(plan: Plan | dict[str, Any]) -> list[str]:
    """Every problem of `plan`, each naming the step and what is wrong ([] when the plan is valid)."""
    try:
        p = _as_plan(plan)
    except PlanValidationError as err:
        return err.problems
    registry = {s.name: s for s in list_skills()}
    problems: list[str] = []
    if not p.steps:
        return [] if p.direct_answer else ["the plan has no steps and no direct answer"]
    if len(p.steps) > MAX_STEPS:
        problems.append(f"the plan has {len(p.steps)} steps; at most {MAX_STEPS} are allowed")
    ids = [s.id for s in p.steps]
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            problems.append(f"step id {i} is used more than once")
        seen.add(i)
    if any(i < 1 for i in ids):
        problems.append("step ids must be positive integers")
    position = {s.id: n for n, s in enumerate(p.steps)}
    by_id = {s.id: s for s in p.steps}
    for n, step in enumerate(p.steps):
        where = f"step {step.id} ({step.skill})"
        for d in step.depends_on:
            if d == step.id:
                problems.append(f"{where} depends on itself")
            elif d not in position:
                problems.append(f"{where} depends on step {d}, which does not exist")
            elif position[d] > n:
                problems.append(
                    f"{where} depends on step {d}, which comes later; dependencies must point to "
                    f"earlier steps"
                )
        if len(set(step.depends_on)) != len(step.depends_on):
            problems.append(f"{where} lists a dependency twice")
        skill = registry.get(step.skill)
        if skill is None:
            problems.append(
                f"step {step.id}: unknown skill {step.skill!r}; registered skills: "
                f"{', '.join(sorted(registry))}"
            )
            continue
        problems += _check_args(step, skill, by_id, registry)
    problems += _cycles(p)
    return problems


def _check_args(step: PlanStep, skill, by_id: dict[int, PlanStep], registry: dict[str, Any]) -> list[str]:
    where = f"step {step.id} ({step.skill})"
    out: list[str] = []
    fields = skill.args.model_fields
    unknown = [k for k in step.args if k not in fields]
    if unknown:
        out.append(
            f"{where}: unknown argument(s) {', '.join(map(repr, unknown))} (expected: {', '.join(fields)})"
        )
    referenced: set[str] = set()
    for key, value in step.args.items():
        for text in _references(value):
            if text == QUOTE_REF:
                referenced.add(key)
                if key != "text":
                    out.append(
                        f"{where}: {QUOTE_REF} (the quoted draft) may only be a text argument, not {key!r}"
                    )
                continue
            if not text.startswith("$"):
                continue
            referenced.add(key)
            m = REF_PATTERN.match(text)
            if not m:
                out.append(
                    f'{where}: argument {key!r} = {text!r} is not a reference like "$1.grade" or {QUOTE_REF} '
                    f"(the compliance gate checks the final answer; no step does)"
                )
                continue
            dep, field = int(m.group(1)), m.group(2)
            if dep not in by_id:
                out.append(f"{where}: argument {key!r} references step {dep}, which does not exist")
                continue
            if dep not in step.depends_on:
                out.append(
                    f"{where}: argument {key!r} references step {dep} but the step does not depend on it "
                    f"(add {dep} to depends_on)"
                )
            dep_skill = registry.get(by_id[dep].skill)
            if dep_skill is not None and field not in dep_skill.output.model_fields:
                out.append(
                    f"{where}: argument {key!r} references {text!r}, but {dep_skill.name}'s output has no "
                    f"field {field!r} (fields: {', '.join(dep_skill.output.model_fields)})"
                )
    for key, value in step.args.items():
        if key not in referenced and isinstance(value, str):
            out += _slot_type_problems(where, key, value)
    known_args = {k: v for k, v in step.args.items() if k in fields}
    try:
        skill.args.model_validate(known_args)
    except ValidationError as err:
        for e in err.errors():
            loc = e["loc"][0] if e["loc"] else None
            if loc in referenced and e["type"] != "missing":
                continue  # checked as a reference above; its value is only known at run time
            name = ".".join(map(str, e["loc"])) or "(args)"
            out.append(f"{where}: argument {name}: {e['msg']}")
    except Exception as err:  # noqa: BLE001 - a developer's validator may raise anything
        out.append(f"{where}: arguments rejected: {err}")
    return out


def _slot_type_problems(where: str, key: str, value: str) -> list[str]:
    """A client id in a product slot (or a product code in a client slot) is a type error."""
    text = value.strip()
    if key == "product" and CLIENT_ID.fullmatch(text):
        return [
            f"{where}: argument product = {value!r} is a client id, not a product (a code like HY-7 or a name)"
        ]
    if key == "client" and PRODUCT_CODE.fullmatch(text.upper()) and not CLIENT_ID.fullmatch(text):
        return [
            f"{where}: argument client = {value!r} is a product code, not a client (an id like C-1042 or a name)"
        ]
    if key in ("client", "product") and not text:
        return [f"{where}: argument {key} is empty"]
    return []


def _cycles(p: Plan) -> list[str]:
    graph = {s.id: {d for d in s.depends_on if d != s.id} for s in p.steps}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        cycle = err.args[1] if len(err.args) > 1 else []
        return [f"the dependencies form a cycle: {' → '.join(map(str, cycle))}"]
    return []


def ensure_valid(plan: Plan | dict[str, Any]) -> Plan:
    """The plan, or PlanValidationError listing every problem."""
    problems = validate_plan(plan)
    if problems:
        raise PlanValidationError(problems)
    return _as_plan(plan)


# ---------------------------------------------------------------------------------------------- intents
class Intents(BaseModel):
    """What the rules see in a request: the skills it asks for and the ids/codes it names."""

    skills: list[str]
    clients: list[str]
    products: list[str]


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def classify(request: str, context: Sequence[str] = ()) -> Intents:
    """Each skill's declared intent (English and Chinese) and entity extraction (ids, codes and names
    through the domain database); entities fall back to earlier turns for a follow-up."""
    clients, products = _named_entities(request)
    found = Entities(request=request, clients=clients, products=products, quote=quoted_text(request))
    skills = [s.name for s in list_skills() if s.wants(found)]
    if not skills and (clients or products):  # bare entity: "C-1042?" / "HY-7"
        skills = [
            s.name
            for s in list_skills()
            if (s.bare_entity == "client" and clients) or (s.bare_entity == "product" and products)
        ]
    if (
        skills and context and not (clients or products)
    ):  # a follow-up ("and his credit?") names earlier entities
        clients, products = (found[-1:] for found in _named_entities(" ".join(context)))
    return Intents(skills=skills, clients=clients, products=products)


def _skill_steps(it: Intents, request: str) -> tuple[list[PlanStep], list[str]]:
    """(steps, what is missing) from each wanted skill's declared `plan_args`."""
    entities = Entities(request=request, clients=it.clients, products=it.products, quote=quoted_text(request))
    steps: list[PlanStep] = []
    missing: list[str] = []
    for name in it.skills:
        sk = get_skill(name)
        arg_sets = sk.steps_for(entities)
        if not arg_sets:
            missing.append(sk.needs or f"what {name} needs")
        steps += [PlanStep(id=0, skill=name, args=args) for args in arg_sets]
    return steps, missing


def fallback_plan(request: str, context: Sequence[str] = ()) -> tuple[Plan, str]:
    """The deterministic plan for `request` (rules, no model) and a note on what it did."""
    it = classify(request, context)
    work, missing = _skill_steps(it, request)
    quote = quoted_text(request)
    drafts = [s for s in work if quote is not None and s.args.get("text") == quote]
    if drafts:  # a quoted draft is checked as written; its words are not requests for other skills
        return (
            Plan(steps=[g.model_copy(update={"id": n}) for n, g in enumerate(drafts, 1)][:MAX_STEPS]),
            f"rules matched {', '.join(it.skills)} (a quoted draft)",
        )
    steps = [s.model_copy(update={"id": n}) for n, s in enumerate(work, 1)]
    if steps:
        return Plan(steps=steps[:MAX_STEPS]), f"rules matched {', '.join(it.skills)}"
    if missing:
        return (
            Plan(direct_answer=f"Which one? To do that I need a {' and a '.join(_unique(missing))}."),
            f"the request asks for {', '.join(it.skills)} but names no {' or '.join(missing)}",
        )
    return Plan(direct_answer=""), "no skill needed"


# ---------------------------------------------------------------------------------------------- entities
class Resolution(BaseModel):
    """A client or product mention resolved through the domain database."""

    value: str | None = Field(None, description="the client id or product code; None when unresolved")
    candidates: list[str] = Field(
        default_factory=list, description="'ID (name)' when the mention is ambiguous"
    )
    problem: str | None = None


def _norm_name(text: str) -> str:
    text = re.sub(r"^(the|my client|client|客户)\s*", "", text.strip().lower())
    text = re.sub(r"\b(fund|funds)\b|基金|产品", "", text)
    return re.sub(r"[\s'\"“”.,，。:：()（）-]+", "", text)


def resolve_client(mention: str) -> Resolution:
    """An id stays as written (upper-cased); a name resolves to one client, candidates, or a problem."""
    text = mention.strip()
    if CLIENT_ID.fullmatch(text):
        return Resolution(value=text.upper())
    try:
        return Resolution(value=data.get_client(text).client_id)
    except NotFoundError:
        hits = data.search_clients(text, limit=8) if len(text) >= 2 else []
    except InputError:  # ambiguous: several clients have this name
        hits = data.search_clients(text, limit=8)
    if len(hits) == 1:
        return Resolution(value=hits[0].client_id)
    if hits:
        return Resolution(candidates=[f"{c.client_id} ({c.name_en}, {c.name_zh})" for c in hits])
    return Resolution(problem=f"no client is named {text!r}")


def resolve_product(mention: str) -> Resolution:
    """A code stays as written (upper-cased); a name resolves to one product, candidates, or a problem."""
    text = mention.strip()
    if PRODUCT_CODE.fullmatch(text.upper()):
        return Resolution(value=text.upper())
    try:
        return Resolution(value=data.get_product(text).code)
    except (NotFoundError, InputError):
        pass
    wanted = _norm_name(text)
    products = data.list_products()
    exact = [p for p in products if wanted in (_norm_name(p.name_en), _norm_name(p.name_zh))]
    hits = exact or [
        p
        for p in products
        if wanted and any(wanted in n or n in wanted for n in (_norm_name(p.name_en), _norm_name(p.name_zh)))
    ]
    if len(hits) == 1:
        return Resolution(value=hits[0].code)
    if hits:
        return Resolution(candidates=[f"{p.code} ({p.name_en}, {p.name_zh})" for p in hits[:8]])
    return Resolution(problem=f"no product is named {text!r}")


_RESOLVERS = {"client": resolve_client, "product": resolve_product}
_QUOTED = re.compile(
    r'"([^"]{8,})"|“([^”]{8,})”|「([^」]{8,})」|『([^』]{8,})』|‘([^’]{8,})’'
    r"|(?<![A-Za-z])'([^']{8,})'(?![A-Za-z])"
)


def quoted_text(request: str) -> str | None:
    """The longest quoted passage of the request (a draft to check), or None."""
    spans = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(request)]
    return max(spans, key=len).strip() if spans else None


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _grounding(plan: Plan, request: str, context: Sequence[str]) -> list[str]:
    """Arguments must come from the conversation: an id, code, name or text the advisor never wrote is invented."""
    seen = _collapse(request + " " + " ".join(context))
    out = []
    for s in plan.steps:
        for key in ("client", "product"):
            v = s.args.get(key)
            if isinstance(v, str) and v.strip() and not v.startswith("$") and _collapse(v) not in seen:
                out.append(f"step {s.id} ({s.skill}): {key} {v!r} does not appear in the request")
        text = s.args.get("text")
        if not isinstance(text, str):
            continue
        if text == QUOTE_REF and quoted_text(request) is None:
            out.append(
                f"step {s.id} ({s.skill}): text is {QUOTE_REF} but the request quotes no text (the final "
                f"answer is checked by the compliance gate, never by a step)"
            )
        elif text != QUOTE_REF and _collapse(text) not in _collapse(request):
            out.append(
                f"step {s.id} ({s.skill}): text must be {QUOTE_REF} or text that occurs in the request"
            )
    return out


def review_plan(plan: Plan, request: str, context: Sequence[str] = ()) -> list[str]:
    """validate_plan plus the request-level check (grounding: arguments come from the conversation)."""
    return validate_plan(plan) or _grounding(plan, request, context)


def resolve_plan(plan: Plan, request: str) -> tuple[Plan, list[str], list[str]]:
    """(the plan with ids, codes and the quoted text filled in, problems, clarifying questions).

    Names resolve through the domain database; a name that fits several clients or products becomes a
    question listing them; a name that fits none is a problem. `$quote` becomes the quoted draft.
    """
    steps, problems, questions = [], [], []
    for s in plan.steps:
        args = dict(s.args)
        for key, resolve in _RESOLVERS.items():
            v = args.get(key)
            if not isinstance(v, str) or v.startswith("$"):
                continue
            try:
                r = resolve(v)
            except FinCopilotError as err:  # no domain database: the worker resolves the name itself
                log.warning("plan_entity_unresolved", mention=v, error=str(err)[:200])
                continue
            if r.value:
                args[key] = r.value
            elif r.candidates:
                questions.append(f"Which {key} do you mean by {v!r}: {'; '.join(r.candidates)}?")
            else:
                problems.append(f"step {s.id} ({s.skill}): {r.problem}")
        if args.get("text") == QUOTE_REF:
            args["text"] = quoted_text(request) or QUOTE_REF
        steps.append(s.model_copy(update={"args": args}))
    return Plan(steps=steps, direct_answer=plan.direct_answer), problems, _unique(questions)


def _from_model(parsed: Any, text: str) -> Plan:
    data = parsed.model_dump() if isinstance(parsed, BaseModel) else json.loads(text)
    # the constrained schema writes every optional argument; drop the nulls (= "use the default")
    for st in data.get("steps", []):
        if isinstance(st.get("args"), dict):
            st["args"] = {k: v for k, v in st["args"].items() if v is not None}
    return _as_plan(data)


def check_request(request: str) -> str:
    if not isinstance(request, str) or not request.strip():
        raise InputError("the request is empty")
    if len(request) > MAX_REQUEST_CHARS:
        raise InputError(
            f"the request is too long ({len(request):,} characters; at most {MAX_REQUEST_CHARS:,})"
        )
    return request.strip()


def _unusable(err: BaseException) -> list[str]:
    """The problems a failed planner round reports: a plan's own, or one line naming the error."""
    if isinstance(err, PlanValidationError) and err.problems:
        return err.problems
    return [f"the planner output was unusable: {err}"[:300]]


class _Planning:
    """One request's way through the rounds: model attempt → problems → repair prompt → … → outcome.

    Repair runs only when feedback can change the output: not after a backend gave no output at all, not
    for a name the request really contains but the database lacks (that gets a question), and not after a
    round that repeats an earlier output (greedy decoding would repeat it again).
    """

    def __init__(self, request: str, context: Sequence[str], max_repairs: int, use_rules: bool = True):
        self.request = check_request(request)
        self.context = list(context)
        self.max_repairs = max_repairs
        self.use_rules = use_rules
        self.msgs = planner_messages(self.request, self.context)
        self.problems: list[str] = []
        self.outputs: list[str] = []
        self.backend: str | None = None
        self.rounds = 0
        self.outcome: PlanOutcome | None = None
        self.gave_up = False

    def _accept(self, plan: Plan, attempt: int) -> list[str]:
        """Resolve the valid plan's names; set the outcome (a plan or a question), or return problems."""
        resolved, unresolved, questions = resolve_plan(renumbered(plan), self.request)
        if not plan.steps:
            resolved = Plan(direct_answer=plan.direct_answer or "")  # no skill needed: a direct answer
        source = "model" if attempt == 0 else "repaired"
        if questions or unresolved:
            ask = (
                " ".join(questions)
                if questions
                else (
                    "I could not find "
                    + "; ".join(p.split(": ", 1)[-1].removeprefix("no ") for p in unresolved)
                    + ". Which one do you mean (an id like C-1042, a code like HY-7)?"
                )
            )
            resolved, reason = (
                Plan(direct_answer=ask),
                "the plan names an ambiguous or unknown client/product",
            )
        else:
            reason = (
                "model plan valid" if attempt == 0 else f"model plan valid after {attempt} repair round(s)"
            )
        self.outcome = PlanOutcome(
            plan=resolved,
            source=source,
            valid_before_repair=attempt == 0,
            problems=self.problems,
            backend=self.backend,
            rounds=self.rounds,
            reason=reason,
            first_output=self.outputs[0] if self.outputs else None,
        )
        log.info("plan_ok", source=source, rounds=self.rounds, backend=self.backend)
        return []

    def judge(self, result: Any) -> None:
        """Take one round's result (a Completion or the error it raised); set `outcome` or the repair prompt."""
        attempt = self.rounds
        self.rounds += 1
        plan, raw = None, ""
        if isinstance(result, BaseException):
            problems = _unusable(result)
            raw = result.raw if isinstance(result, StructuredOutputError) else ""
            if isinstance(result, BackendError) and not raw:
                self.problems += problems
                self.gave_up = True  # no backend could answer at all: repairing will not help
                return
        else:
            self.backend = result.backend_id
            raw = result.text
            try:
                plan = _from_model(result.parsed, result.text)
                problems = review_plan(plan, self.request, self.context) if plan.steps else []
            except (PlanValidationError, ValueError) as err:
                # malformed output is a failed round, never a crash
                problems = _unusable(err)
                plan = None
        repeated = raw in self.outputs
        self.outputs.append(raw)
        if plan is not None and not problems:
            self._accept(plan, attempt)
            return
        self.problems += problems
        if attempt >= self.max_repairs or repeated:
            self.gave_up = True
        else:
            self.msgs = _repair_messages(self.request, self.context, raw or "{}", problems)

    @property
    def pending(self) -> bool:
        return self.outcome is None and not self.gave_up

    def finish(self) -> PlanOutcome:
        if self.outcome is not None:
            return self.outcome
        first = self.outputs[0] if self.outputs else None
        if not self.use_rules:
            return PlanOutcome(
                plan=Plan(),
                source="model",
                ok=False,
                valid_before_repair=False,
                problems=self.problems or ["the planner produced no plan"],
                backend=self.backend,
                rounds=self.rounds,
                reason="the model's plan is invalid",
                first_output=first,
            )
        plan, note = fallback_plan(self.request, self.context)
        reason = f"rules: {note}" + (
            f"; the model plan was rejected: {self.problems[0]}" if self.problems else ""
        )
        log.info("plan_rules", reason=reason, problems=self.problems[:6])
        return PlanOutcome(
            plan=plan,
            source="rules",
            valid_before_repair=False,
            problems=self.problems,
            reason=reason,
            backend=self.backend,
            rounds=self.rounds,
            first_output=first,
        )


def plan_request(
    request: str,
    *,
    gateway=None,
    max_repairs: int = 1,
    context: Sequence[str] = (),
    request_id: str | None = None,
    use_model: bool = True,
    use_rules: bool = True,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> PlanOutcome:
    """Plan `request` with the routed planner backend, repairing or falling back as needed (see module doc).

    `use_rules=False`: the model alone; an invalid plan raises PlanValidationError naming the problems.
    `on_progress`: called with {"stage": "generating", "attempt": n} before each model round and
    {"stage": "rejected", "attempt": n, "backend", "problems"} after a rejected one, so interfaces can show
    live progress while the model plans.
    """
    progress = on_progress or (lambda info: None)
    if not (use_model or use_rules):
        raise InputError("planning needs the model or the rules (or both)")
    job = _Planning(request, context, max_repairs, use_rules)
    if use_model:
        gw = gateway or default_gateway()
        while job.pending:
            progress({"stage": "generating", "attempt": job.rounds + 1})
            try:
                result: Any = gw.complete(
                    "planner",
                    job.msgs,
                    schema=planner_schema(),
                    max_tokens=PLANNER_MAX_TOKENS,
                    request_id=request_id,
                )
            except BackendError as err:
                result = err
            job.judge(result)
            if job.outcome is None:
                progress(
                    {
                        "stage": "rejected",
                        "attempt": job.rounds,
                        "backend": job.backend,
                        "problems": job.problems[-2:],
                    }
                )
    else:
        job.gave_up = True
    outcome = job.finish()
    if not outcome.ok:
        raise PlanValidationError(outcome.problems)
    return outcome


def _batch_round(backend, todo: list[_Planning]) -> list[Any]:
    try:
        return backend.complete_batch(
            [j.msgs for j in todo], schema=planner_schema(), max_tokens=PLANNER_MAX_TOKENS
        )
    except BackendError:
        results: list[Any] = []
        for j in todo:  # one bad item fails the batch: retry one by one to find it
            try:
                results.append(
                    backend.complete(j.msgs, schema=planner_schema(), max_tokens=PLANNER_MAX_TOKENS)
                )
            except BackendError as err:
                results.append(err)
        return results


def plan_batch(
    requests: Sequence[str],
    *,
    backend=None,
    gateway=None,
    max_repairs: int = 1,
    use_model: bool = True,
    use_rules: bool = True,
    contexts: Sequence[Sequence[str]] | None = None,
) -> list[PlanOutcome]:
    """Plan many requests; with `backend` (a Backend instance) every round is ONE batched generation.

    For evaluations and tests: batching keeps the embedded model's cost down. Without `backend` each
    request goes through the gateway like `plan_request`. With `use_rules=False` a failed request's
    outcome has `ok=False` and its problems (nothing is raised).
    """
    contexts = contexts or [()] * len(requests)
    jobs = [_Planning(r, c, max_repairs, use_rules) for r, c in zip(requests, contexts)]
    if not use_model:
        for j in jobs:
            j.gave_up = True
        return [j.finish() for j in jobs]
    if backend is None:
        backend = _GatewayAsBackend(gateway or default_gateway())
    while todo := [j for j in jobs if j.pending]:
        for j, res in zip(todo, _batch_round(backend, todo)):
            j.judge(res)
    return [j.finish() for j in jobs]


class _GatewayAsBackend:
    """The gateway's planner route, one request at a time, behind the batch interface."""

    def __init__(self, gateway):
        self.gateway = gateway

    def complete(self, msgs, **kw):
        return self.gateway.complete("planner", msgs, **kw)

    def complete_batch(self, batch, **kw):
        out: list[Any] = []
        for msgs in batch:
            try:
                out.append(self.complete(msgs, **kw))
            except BackendError as err:
                out.append(err)
        return out
