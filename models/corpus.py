"""Training corpora for fine-tuning a skill's worker model.

An example is a production prompt (the exact chat messages the skill sends at run time) plus the
exact JSON completion the constrained decoder should produce for it. Using the production prompt
builders (`planner_messages`, the compliance model prompt, ...) is the point: the adapter learns the
prompt it will actually see.

Sources, in order:
- `train_split`: the skill's eval items from the **train** split only (`load_items(skill, "train")`);
  held-out items never enter a corpus, so the held-out scores stay honest.
- `domain`: inputs built from the domain data and labelled by code (e.g. compliance texts labelled
  by the rules), where the skill task defines such a source.
- `teacher`: with `teacher=BACKEND`, a stronger configured backend labels the inputs that have no
  reference; only labels that pass the skill's validator are kept.
- `file`: `--data PATH`, a JSONL file that replaces the built sources. Each line is either
  `{"messages": [{"role", "content"}...], "completion": "..."}` (a raw chat example) or
  `{"input": {...}, "reference": {...}}` (an eval-style item, rendered with the production prompt).

Every corpus has a content hash (`data_hash`) that goes into the adapter card and the checkpoints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fincopilot.errors import BackendError, InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.models.base import Message

log = get_logger(__name__)

Source = Literal["train_split", "domain", "teacher", "file"]


class Example(BaseModel):
    """One training example: the production prompt and the completion to learn."""

    id: str
    skill: str
    messages: list[Message] = Field(min_length=1)
    completion: str = Field(min_length=1)
    source: Source


class Corpus(BaseModel):
    """A skill's training corpus with its content hash and where the examples came from."""

    skill: str
    examples: list[Example]
    data_hash: str
    sources: dict[str, int]
    dataset_version: str | None = None


# --- skill tasks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillTask:
    """How one skill is trained and measured.

    `prompt(input)` builds the production messages; `schema()` is the constrained output model;
    `target(input, reference)` turns an eval reference into that model (None: no usable label);
    `accept(obj)` says whether a teacher label is good enough; `score(items, outputs)` gives the
    held-out metrics (outputs are parsed objects, or None where the backend failed).
    """

    skill: str
    prompt: Callable[[dict[str, Any]], list[Message]]
    schema: Callable[[], type[BaseModel]]
    target: Callable[[dict[str, Any], dict[str, Any]], BaseModel | None]
    score: Callable[[Sequence[Any], Sequence[BaseModel | None]], dict[str, float]]
    max_tokens: int = 256
    accept: Callable[[BaseModel], bool] = lambda obj: True
    domain: Callable[[], list[tuple[str, dict[str, Any], BaseModel]]] = list
    headline: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _f1(predicted: set[str], gold: set[str]) -> float:
    if not predicted and not gold:
        return 1.0
    tp = len(predicted & gold)
    if tp == 0:
        return 0.0
    p, r = tp / len(predicted), tp / len(gold)
    return 2 * p * r / (p + r)


# planner ------------------------------------------------------------------------------------------


def _planner_task() -> SkillTask:
    from fincopilot.agents import planner

    schema = planner.planner_schema

    def prompt(inp: dict[str, Any]) -> list[Message]:
        request = inp.get("request")
        if not isinstance(request, str) or not request.strip():
            raise InputError(f"a planner item needs input.request (a non-empty string), got {inp!r}")
        context = inp.get("context") or []
        if not isinstance(context, list) or not all(isinstance(t, str) for t in context):
            raise InputError(
                f"a planner item's input.context must be a list of earlier turns, got {context!r}"
            )
        return list(planner.planner_messages(request, context))

    def target(inp: dict[str, Any], ref: dict[str, Any]) -> BaseModel | None:
        plan = ref.get("plan")
        if plan is None:
            return None
        try:
            return schema().model_validate(plan)
        except ValidationError as err:
            # e.g. an argument longer than the planner grammar allows: the decoder could never emit it
            log.warning(
                "reference_outside_schema", request=str(inp.get("request"))[:80], error=str(err)[:200]
            )
            return None

    def _as_plan(obj: BaseModel) -> Any:
        return planner._from_model(obj, "")  # the production conversion (drops null arguments)

    def accept(obj: BaseModel) -> bool:
        return not planner.validate_plan(_as_plan(obj))

    def valid_first_try(plan: Any, request: str, context: Sequence[str]) -> bool:
        # what plan_request accepts without repair: review_plan passes (an empty plan is a direct answer)
        return not plan.steps or not planner.review_plan(plan, request, context)

    def score(items: Sequence[Any], outputs: Sequence[BaseModel | None]) -> dict[str, float]:
        valid, f1s, exact = [], [], []
        for item, out in zip(items, outputs):
            gold = set(item.reference.get("skills") or [s["skill"] for s in item.reference["plan"]["steps"]])
            if out is None:
                valid.append(0.0)
                f1s.append(0.0)
                exact.append(0.0)
                continue
            plan = _as_plan(out)
            valid.append(
                1.0 if valid_first_try(plan, item.input["request"], item.input.get("context") or []) else 0.0
            )
            got = {step.skill for step in plan.steps}
            f1s.append(_f1(got, gold))
            exact.append(1.0 if got == gold else 0.0)
        n = max(len(items), 1)
        return {
            "validity_before_repair": sum(valid) / n,
            "skill_set_f1": sum(f1s) / n,
            "skill_set_exact": sum(exact) / n,
        }

    def domain() -> list[tuple[str, dict[str, Any], BaseModel]]:
        # the generated planner corpus's TRAIN split (evals/sets/planner/train.jsonl, written by
        # `python -m fincopilot.evals.planner_corpus`); its validation and test frames never enter a corpus
        from fincopilot.evals.datasets import DATASET_DIR

        path = DATASET_DIR / "planner" / "train.jsonl"
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item.get("split") == "train":
                out.append((item["id"], item["input"], schema().model_validate(item["reference"]["plan"])))
        return out

    return SkillTask(
        skill="planner",
        prompt=prompt,
        schema=schema,
        target=target,
        score=score,
        accept=accept,
        max_tokens=getattr(planner, "PLANNER_MAX_TOKENS", 256),
        headline="skill_set_f1",
        domain=domain,
    )


# compliance_check (the model's second-opinion flags) ---------------------------------------------


def _compliance_task() -> SkillTask:
    from fincopilot.agents import compliance_check as cc
    from fincopilot.agents._common import fence
    from fincopilot.tools.compliance_rules import pattern_violations

    model_categories = ("guaranteed_return", "misleading_claim")

    def prompt(inp: dict[str, Any]) -> list[Message]:
        text = inp.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"a compliance_check item needs input.text (a non-empty string), got {inp!r}")
        return [
            Message(role="system", content=cc.SYSTEM),
            Message(role="user", content=fence(text, "advisor text")),
        ]

    def flags_for(text: str) -> BaseModel:
        # the rules label the text: their guaranteed-return / misleading-claim spans are the flags to learn
        hits = [v for v in pattern_violations(text) if v.category in model_categories]
        return cc._Flags(flags=[cc._Flag(category=v.category, quote=v.span[:200]) for v in hits[:5]])

    def target(inp: dict[str, Any], ref: dict[str, Any]) -> BaseModel | None:
        return flags_for(inp["text"])

    def score(items: Sequence[Any], outputs: Sequence[BaseModel | None]) -> dict[str, float]:
        tp = fp = fn = 0
        for item, out in zip(items, outputs):
            gold = {v["category"] for v in item.reference.get("violations", [])} & set(model_categories)
            got = (
                {f.category for f in out.flags if f.quote.strip() and f.quote in item.input["text"]}
                if out
                else set()
            )
            tp, fp, fn = tp + len(got & gold), fp + len(got - gold), fn + len(gold - got)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return {
            "category_precision": p,
            "category_recall": r,
            "category_f1": 2 * p * r / (p + r) if p + r else 0.0,
        }

    return SkillTask(
        skill="compliance_check",
        prompt=prompt,
        schema=lambda: cc._Flags,
        target=target,
        score=score,
        max_tokens=120,
        headline="category_f1",
    )


_TASKS: dict[str, Callable[[], SkillTask]] = {"planner": _planner_task, "compliance_check": _compliance_task}


def supported_skills() -> list[str]:
    """Skills that have a fine-tuning task (prompt, target, metrics)."""
    return sorted(_TASKS)


def skill_task(skill: str) -> SkillTask:
    """The fine-tuning task for `skill`; NotFoundError naming the supported skills otherwise."""
    if skill not in _TASKS:
        raise NotFoundError(
            f"skill {skill!r} cannot be fine-tuned yet; supported skills: {', '.join(supported_skills())}"
        )
    return _TASKS[skill]()


# --- rendering -----------------------------------------------------------------------------------


def render_target(obj: BaseModel) -> str:
    """The JSON text the constrained decoder emits for `obj`.

    xgrammar with `any_whitespace=False` (see models/structured.py) writes `", "` and `": "` as
    separators and the schema's property order, and passes non-ASCII characters through; so does
    this. Training on the same bytes keeps the adapter's output on the grammar's path. `None` values
    are left out (optional fields may be omitted; the production few-shot examples omit them too),
    which keeps completions short; `check_targets` confirms the grammar accepts the result.
    """
    return json.dumps(obj.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


def corpus_hash(examples: Sequence[Example]) -> str:
    """sha256 over the examples' prompts and completions, in order (first 16 hex digits)."""
    h = hashlib.sha256()
    for ex in examples:
        row = {"messages": [m.model_dump() for m in ex.messages], "completion": ex.completion}
        h.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]


# --- the --data file -----------------------------------------------------------------------------


class _ChatLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    messages: list[Message] = Field(min_length=1)
    completion: str = Field(min_length=1)


class _ItemLine(BaseModel):
    model_config = ConfigDict(extra="allow")  # eval items carry id, skill, metadata, split
    id: str | None = None
    input: dict[str, Any]
    reference: dict[str, Any]

    @model_validator(mode="after")
    def _not_heldout(self) -> _ItemLine:
        if (self.model_extra or {}).get("split") == "heldout":
            raise ValueError("held-out items must not be trained on (split is 'heldout')")
        return self


def load_corpus_file(path: Path, task: SkillTask) -> list[Example]:
    """Read a `--data` JSONL file; a bad line raises InputError naming the file and line number."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"corpus file not found: {path}")
    examples: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"corpus file {path} line {lineno}"
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as err:
                raise InputError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict):
                raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
            try:
                if "messages" in row:
                    chat = _ChatLine.model_validate(row)
                    examples.append(
                        Example(
                            id=chat.id or f"file-{lineno}",
                            skill=task.skill,
                            messages=chat.messages,
                            completion=chat.completion,
                            source="file",
                        )
                    )
                elif "input" in row or "reference" in row:
                    item = _ItemLine.model_validate(row)
                    obj = task.target(item.input, item.reference)
                    if obj is None:
                        raise ValueError("its reference has no usable label for this skill")
                    examples.append(
                        Example(
                            id=item.id or f"file-{lineno}",
                            skill=task.skill,
                            messages=task.prompt(item.input),
                            completion=render_target(obj),
                            source="file",
                        )
                    )
                else:
                    raise InputError(
                        f"{where}: needs either 'messages' and 'completion' or 'input' and 'reference' "
                        f"(got fields {sorted(row)})"
                    )
            except ValidationError as err:
                problems = "; ".join(
                    (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
                    + e["msg"].removeprefix("Value error, ")
                    for e in err.errors()[:4]
                )
                raise InputError(f"{where}: {problems}") from None
            except (ValueError, KeyError, TypeError) as err:
                raise InputError(f"{where}: {err}") from None
            except InputError as err:
                if str(err).startswith("corpus file"):
                    raise
                raise InputError(f"{where}: {err}") from None
    if not examples:
        raise InputError(f"corpus file {path} has no examples (it is empty)")
    return examples


# --- building ------------------------------------------------------------------------------------


def _teacher_labels(task: SkillTask, teacher: str, inputs: list[tuple[str, dict[str, Any]]]) -> list[Example]:
    from fincopilot.models.registry import get_backend

    backend = get_backend(teacher)
    out: list[Example] = []
    for item_id, inp in inputs:
        messages = task.prompt(inp)
        try:
            done = backend.complete(messages, schema=task.schema(), max_tokens=task.max_tokens)
        except BackendError as err:
            log.warning("teacher_failed", teacher=teacher, item=item_id, error=str(err)[:200])
            continue
        if done.parsed is not None and task.accept(done.parsed):
            out.append(
                Example(
                    id=f"teacher-{item_id}",
                    skill=task.skill,
                    messages=messages,
                    completion=render_target(done.parsed),
                    source="teacher",
                )
            )
    return out


def build_corpus(
    skill: str,
    *,
    data: Path | None = None,
    teacher: str | None = None,
    include_domain: bool = True,
    task: SkillTask | None = None,
) -> Corpus:
    """The training corpus for `skill` (see the module docstring for the sources).

    Raises InputError when the result is empty or a `data` line is malformed.
    """
    task = task or skill_task(skill)
    version: str | None = None
    if data is not None:
        examples = load_corpus_file(Path(data), task)
    else:
        from fincopilot.evals.datasets import dataset_version, load_items

        examples = []
        unlabelled: list[tuple[str, dict[str, Any]]] = []
        for item in load_items(skill, "train"):
            if getattr(item, "split", "train") != "train":  # belt and braces: never train on held-out items
                continue
            obj = task.target(item.input, item.reference)
            if obj is None:
                unlabelled.append((item.id, item.input))
                continue
            examples.append(
                Example(
                    id=item.id,
                    skill=skill,
                    messages=task.prompt(item.input),
                    completion=render_target(obj),
                    source="train_split",
                )
            )
        try:
            version = dataset_version(skill)
        except Exception:  # noqa: BLE001 - the version is informative only
            version = None
        if include_domain:
            for item_id, inp, obj in task.domain():
                examples.append(
                    Example(
                        id=item_id,
                        skill=skill,
                        messages=task.prompt(inp),
                        completion=render_target(obj),
                        source="domain",
                    )
                )
        if teacher is not None:
            examples += _teacher_labels(task, teacher, unlabelled)
    if not examples:
        where = f"corpus file {data}" if data is not None else f"the {skill!r} train split"
        raise InputError(f"the training corpus for {skill!r} is empty ({where} gave no labelled examples)")
    sources: dict[str, int] = {}
    for ex in examples:
        sources[ex.source] = sources.get(ex.source, 0) + 1
    return Corpus(
        skill=skill,
        examples=examples,
        data_hash=corpus_hash(examples),
        sources=sources,
        dataset_version=version,
    )


def check_targets(examples: Sequence[Example], task: SkillTask, tokenizer: Any, vocab_size: int) -> None:
    """Every completion must be a complete output the production grammar accepts.

    The backend decodes under xgrammar with the schema fitted to the skill's max_tokens (see
    models/structured.py); a target outside that grammar would teach text the decoder can never emit.
    InputError names the first example that fails.
    """
    import xgrammar as xgr

    from fincopilot.models.structured import GrammarCompiler, fit_json_schema

    stop = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    compiler = GrammarCompiler(tokenizer, vocab_size, stop_token_ids=stop or None)
    compiled = compiler.compile(fit_json_schema(task.schema(), task.max_tokens))
    for ex in examples:
        matcher = xgr.GrammarMatcher(compiled)
        ok = matcher.accept_string(ex.completion) and (not stop or matcher.accept_token(stop[0]))
        if not ok:
            raise InputError(
                f"example {ex.id!r} ({ex.source}): its completion is not a complete {task.schema().__name__} JSON "
                f"that the constrained decoder could emit: {ex.completion[:160]!r}"
            )
