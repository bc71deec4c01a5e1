"""Eval sets: one JSONL file per skill under `evals/sets/`, versioned by content hash.

Each line is an `EvalItem{id, skill, input, reference, metadata, split}`. Files are produced by
`python -m fincopilot.evals.build` (deterministic: the same domain data gives byte-identical files) and
committed. The split (train / heldout, about 70/30) is a stable hash of the item id, so adding items never
moves existing ones between splits.

    from fincopilot.evals.datasets import load_items, dataset_version
    items = load_items("planner", "heldout")
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from fincopilot.errors import InputError, NotFoundError

DATASET_DIR = Path(__file__).resolve().parent / "sets"
HELDOUT_FRACTION = 0.30
Split = Literal["train", "heldout", "all"]
SPLITS = ("train", "heldout", "all")


class EvalItem(BaseModel):
    """One evaluation item: what the skill gets (`input`), what a correct answer holds (`reference`)."""

    id: str
    skill: str
    input: dict[str, Any]
    reference: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    split: Literal["train", "heldout"]


def split_for(item_id: str, heldout_fraction: float = HELDOUT_FRACTION) -> Literal["train", "heldout"]:
    """Stable split: sha256(id) read as a number in [0, 1); below 1 - fraction → train."""
    h = int(hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:8], 16) / 0x1_0000_0000
    return "train" if h < 1.0 - heldout_fraction else "heldout"


def dataset_path(skill: str) -> Path:
    return DATASET_DIR / f"{skill}.jsonl"


def available_skills() -> list[str]:
    """Skills that have a committed eval set."""
    return sorted(p.stem for p in DATASET_DIR.glob("*.jsonl"))


def _resolve(skill: str, path: str | Path | None) -> Path:
    p = Path(path) if path is not None else dataset_path(skill)
    if not p.is_file():
        known = ", ".join(available_skills()) or "none"
        raise NotFoundError(
            f"no eval set for skill {skill!r} at {p} (eval sets exist for: {known}; "
            f"build them with `python -m fincopilot.evals.build`)"
        )
    return p


def dataset_version(skill: str, path: str | Path | None = None) -> str:
    """First 12 hex digits of sha256 over the file's bytes: changes whenever any item changes."""
    return hashlib.sha256(_resolve(skill, path).read_bytes()).hexdigest()[:12]


def load_items(skill: str, split: Split = "all", path: str | Path | None = None) -> list[EvalItem]:
    """The items of `skill`'s eval set (or of the JSONL file `path`), optionally one split only."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    p = _resolve(skill, path)
    items: list[EvalItem] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if "split" not in data and "id" in data:
                data["split"] = split_for(str(data["id"]))
            data.setdefault("skill", skill)
            item = EvalItem.model_validate(data)
        except (ValueError, ValidationError) as err:
            raise InputError(f"{p}:{n}: not a valid eval item: {str(err).splitlines()[0][:200]}") from None
        if item.skill != skill:
            raise InputError(f"{p}:{n}: item {item.id!r} is for skill {item.skill!r}, not {skill!r}")
        if split == "all" or item.split == split:
            items.append(item)
    return items


def write_items(skill: str, items: list[EvalItem], path: str | Path | None = None) -> Path:
    """Write items as JSONL (sorted keys, UTF-8, one item a line) so the bytes are deterministic."""
    p = Path(path) if path is not None else dataset_path(skill)
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(i.model_dump(), ensure_ascii=False, sort_keys=True) for i in items]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
