"""Training sets for fine-tuning a worker model, whatever the skill.

An example is a production prompt (the exact chat messages the skill sends at run time) plus the
exact JSON completion the constrained decoder should produce for it. A `SkillTask` says how one skill
is prompted, labelled and scored; the tasks and the corpora built from skills and eval sets live in
`fincopilot.evals.corpus`, so this layer never imports agents or evals.

Here: the `Example` and `Corpus` types, `render_target` (the bytes the decoder emits), `corpus_hash`,
the `--data` JSONL reader, teacher labels from a configured backend, and `check_targets` (every
completion must be one the production grammar accepts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fincopilot.errors import BackendError, InputError
from fincopilot.log import get_logger
from fincopilot.models.messages import Message
from fincopilot.models.registry import get_backend
from fincopilot.models.structured import GrammarCompiler, fit_json_schema

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
            if raw.strip():
                examples.append(_read_line(raw, task, f"corpus file {path} line {lineno}", f"file-{lineno}"))
    if not examples:
        raise InputError(f"corpus file {path} has no examples (it is empty)")
    return examples


def _read_line(raw: str, task: SkillTask, where: str, default_id: str) -> Example:
    """One `--data` line as an Example; InputError prefixed with `where` otherwise."""
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if "messages" not in row and "input" not in row and "reference" not in row:
        raise InputError(
            f"{where}: needs either 'messages' and 'completion' or 'input' and 'reference' "
            f"(got fields {sorted(row)})"
        )
    try:
        return _example_from_row(row, task, default_id)
    except ValidationError as err:
        problems = "; ".join(
            (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
            for e in err.errors()[:4]
        )
        raise InputError(f"{where}: {problems}") from None
    except (ValueError, KeyError, TypeError, InputError) as err:
        raise InputError(f"{where}: {err}") from None


def _example_from_row(row: dict[str, Any], task: SkillTask, default_id: str) -> Example:
    if "messages" in row:
        chat = _ChatLine.model_validate(row)
        messages, completion, row_id = chat.messages, chat.completion, chat.id
    else:
        item = _ItemLine.model_validate(row)
        obj = task.target(item.input, item.reference)
        if obj is None:
            raise ValueError("its reference has no usable label for this skill")
        messages, completion, row_id = task.prompt(item.input), render_target(obj), item.id
    return Example(
        id=row_id or default_id, skill=task.skill, messages=messages, completion=completion, source="file"
    )


# --- building ------------------------------------------------------------------------------------


def teacher_labels(task: SkillTask, teacher: str, inputs: list[tuple[str, dict[str, Any]]]) -> list[Example]:
    """Examples labelled by the `teacher` backend; only labels the task accepts are kept."""
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


def assemble_corpus(skill: str, examples: list[Example], *, dataset_version: str | None = None) -> Corpus:
    """The corpus of `examples` with its content hash and per-source counts."""
    sources: dict[str, int] = {}
    for ex in examples:
        sources[ex.source] = sources.get(ex.source, 0) + 1
    return Corpus(
        skill=skill,
        examples=examples,
        data_hash=corpus_hash(examples),
        sources=sources,
        dataset_version=dataset_version,
    )


def check_targets(examples: Sequence[Example], task: SkillTask, tokenizer: Any, vocab_size: int) -> None:
    """Every completion must be a complete output the production grammar accepts.

    The backend decodes under xgrammar with the schema fitted to the skill's max_tokens (see
    models/structured.py); a target outside that grammar would teach text the decoder can never emit.
    InputError names the first example that fails.
    """
    import xgrammar as xgr

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
