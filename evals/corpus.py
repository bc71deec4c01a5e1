"""Fine-tuning tasks and corpora for the planner and for the skills that declare a task (`@skill(finetune=...)`).

A task (`fincopilot.models.trainset.SkillTask`) is built from the production prompt builders
(`planner_messages` here; a skill's own in its module, e.g. the compliance model prompt): the adapter learns
the prompt it will actually see. A corpus is built here, where skills and eval sets live; `models/finetune.py` only trains on it.

Sources, in order:
- `train_split`: the skill's eval items from the **train** split only (`load_items(skill, "train")`);
  held-out items never enter a corpus, so the held-out scores stay honest.
- `domain`: inputs built from the domain data and labelled by code (e.g. the generated planner
  corpus's train split), where the skill task defines such a source.
- `teacher`: with `teacher=BACKEND`, a stronger configured backend labels the inputs that have no
  reference; only labels that pass the skill's validator are kept.
- `file`: `--data PATH`, a JSONL file that replaces the built sources (see `load_corpus_file`).

Every corpus has a content hash (`data_hash`) that goes into the adapter card and the checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fincopilot.agents import planner
from fincopilot.agents.skills import list_skills
from fincopilot.config import settings
from fincopilot.errors import InputError, NotFoundError
from fincopilot.evals.datasets import DATASET_DIR, dataset_version, load_items
from fincopilot.log import get_logger
from fincopilot.models.finetune import FinetuneOptions, FinetuneResult, finetune, resolve_base
from fincopilot.models.messages import Message
from fincopilot.models.trainset import (
    Corpus,
    Example,
    SkillTask,
    assemble_corpus,
    load_corpus_file,
    render_target,
    teacher_labels,
)

log = get_logger(__name__)


def _f1(predicted: set[str], gold: set[str]) -> float:
    if not predicted and not gold:
        return 1.0
    tp = len(predicted & gold)
    if tp == 0:
        return 0.0
    p, r = tp / len(predicted), tp / len(gold)
    return 2 * p * r / (p + r)


# planner ------------------------------------------------------------------------------------------


def _planner_prompt(inp: dict[str, Any]) -> list[Message]:
    request = inp.get("request")
    if not isinstance(request, str) or not request.strip():
        raise InputError(f"a planner item needs input.request (a non-empty string), got {inp!r}")
    context = inp.get("context") or []
    if not isinstance(context, list) or not all(isinstance(t, str) for t in context):
        raise InputError(f"a planner item's input.context must be a list of earlier turns, got {context!r}")
    return list(planner.planner_messages(request, context))


def _planner_target(inp: dict[str, Any], ref: dict[str, Any]) -> BaseModel | None:
    plan = ref.get("plan")
    if plan is None:
        return None
    try:
        return planner.planner_schema().model_validate(plan)
    except ValidationError as err:
        # e.g. an argument longer than the planner grammar allows: the decoder could never emit it
        log.warning("reference_outside_schema", request=str(inp.get("request"))[:80], error=str(err)[:200])
        return None


def _as_plan(obj: BaseModel) -> Any:
    return planner._from_model(obj, "")  # the production conversion (drops null arguments)


def _planner_accept(obj: BaseModel) -> bool:
    return not planner.validate_plan(_as_plan(obj))


def _valid_first_try(plan: Any, request: str, context: Sequence[str]) -> bool:
    # what plan_request accepts without repair: review_plan passes (an empty plan is a direct answer)
    return not plan.steps or not planner.review_plan(plan, request, context)


def _planner_score(items: Sequence[Any], outputs: Sequence[BaseModel | None]) -> dict[str, float]:
    valid, f1s, exact = [], [], []
    for item, out in zip(items, outputs):
        gold = set(item.reference.get("skills") or [s["skill"] for s in item.reference["plan"]["steps"]])
        if out is None:
            valid.append(0.0)
            f1s.append(0.0)
            exact.append(0.0)
            continue
        plan = _as_plan(out)
        context = item.input.get("context") or []
        valid.append(1.0 if _valid_first_try(plan, item.input["request"], context) else 0.0)
        got = {step.skill for step in plan.steps}
        f1s.append(_f1(got, gold))
        exact.append(1.0 if got == gold else 0.0)
    n = max(len(items), 1)
    return {
        "validity_before_repair": sum(valid) / n,
        "skill_set_f1": sum(f1s) / n,
        "skill_set_exact": sum(exact) / n,
    }


def _planner_domain() -> list[tuple[str, dict[str, Any], BaseModel]]:
    """The generated planner corpus's TRAIN split (evals/sets/planner/train.jsonl, written by
    `python -m fincopilot.evals.planner_corpus`); its validation and test frames never enter a corpus."""
    path = DATASET_DIR / "planner" / "train.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("split") == "train":
            plan = planner.planner_schema().model_validate(item["reference"]["plan"])
            out.append((item["id"], item["input"], plan))
    return out


def _planner_task() -> SkillTask:
    return SkillTask(
        skill="planner",
        prompt=_planner_prompt,
        schema=planner.planner_schema,
        target=_planner_target,
        score=_planner_score,
        accept=_planner_accept,
        max_tokens=getattr(planner, "PLANNER_MAX_TOKENS", 256),
        headline="skill_set_f1",
        domain=_planner_domain,
    )


def _tasks() -> dict[str, Callable[[], SkillTask]]:
    """The planner's task and every skill's declared one (`@skill(finetune=...)`)."""
    declared = {s.name: s.finetune for s in list_skills() if s.finetune is not None}
    return {"planner": _planner_task, **declared}


def supported_skills() -> list[str]:
    """Skills that have a fine-tuning task (prompt, target, metrics)."""
    return sorted(_tasks())


def skill_task(skill: str) -> SkillTask:
    """The fine-tuning task for `skill`; NotFoundError naming the supported skills otherwise."""
    tasks = _tasks()
    if skill not in tasks:
        raise NotFoundError(
            f"skill {skill!r} cannot be fine-tuned yet; supported skills: {', '.join(sorted(tasks))}"
        )
    return tasks[skill]()


# --- building ------------------------------------------------------------------------------------


def _train_split(task: SkillTask) -> tuple[list[Example], list[tuple[str, dict[str, Any]]]]:
    """The labelled train-split examples, and the inputs that have no usable label."""
    examples: list[Example] = []
    unlabelled: list[tuple[str, dict[str, Any]]] = []
    for item in load_items(task.skill, "train"):
        if getattr(item, "split", "train") != "train":  # belt and braces: never train on held-out items
            continue
        obj = task.target(item.input, item.reference)
        if obj is None:
            unlabelled.append((item.id, item.input))
            continue
        examples.append(
            Example(
                id=item.id,
                skill=task.skill,
                messages=task.prompt(item.input),
                completion=render_target(obj),
                source="train_split",
            )
        )
    return examples, unlabelled


def _domain(task: SkillTask) -> list[Example]:
    return [
        Example(
            id=item_id,
            skill=task.skill,
            messages=task.prompt(inp),
            completion=render_target(obj),
            source="domain",
        )
        for item_id, inp, obj in task.domain()
    ]


def _version(skill: str) -> str | None:
    try:
        return dataset_version(skill)
    except Exception:  # noqa: BLE001 - the version is informative only (custom items have no dataset)
        return None


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
        examples, unlabelled = _train_split(task)
        version = _version(skill)
        if include_domain:
            examples += _domain(task)
        if teacher is not None:
            examples += teacher_labels(task, teacher, unlabelled)
    if not examples:
        where = f"corpus file {data}" if data is not None else f"the {skill!r} train split"
        raise InputError(f"the training corpus for {skill!r} is empty ({where} gave no labelled examples)")
    return assemble_corpus(skill, examples, dataset_version=version)


def run_finetune(
    opts: FinetuneOptions, *, command: str | None = None, progress: bool = True
) -> FinetuneResult:
    """`fincopilot finetune`: the skill's task and corpus, then training and held-out scores."""
    resolve_base(opts.base)  # fail before building a corpus on a base that cannot be trained
    task = skill_task(opts.skill)
    if opts.teacher is not None:
        settings().backend(opts.teacher)  # fail before training on an unknown teacher
    corpus = build_corpus(opts.skill, data=opts.data, teacher=opts.teacher, task=task)
    heldout = load_items(opts.skill, "heldout") if opts.evaluate else []
    return finetune(opts, task=task, corpus=corpus, heldout=heldout, command=command, progress=progress)
