"""What the model evaluations (planner, summarizer) share: their command-line options, the backends they
evaluate, Wilson intervals, and the files a run writes (OUT.md, OUT.json, OUT-rows.jsonl)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fincopilot.config import settings
from fincopilot.models.registry import build_backend


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def add_model_args(ap: argparse.ArgumentParser) -> None:
    """The options every model evaluation takes: --model, --adapter (both repeatable) and --out."""
    ap.add_argument("--model", action="append", default=[], help="backend id (repeat)")
    ap.add_argument(
        "--adapter",
        action="append",
        default=[],
        type=_adapter_option,
        help="BACKEND=PATH: serve BACKEND with this adapter",
    )
    ap.add_argument("--out", type=Path, default=None, help="write OUT.md, OUT.json and OUT-rows.jsonl")


def _adapter_option(value: str) -> tuple[str, str]:
    """One --adapter value, BACKEND=PATH, as (backend id, path); anything else is a usage error."""
    backend, sep, path = value.partition("=")
    if not (sep and backend.strip() and path.strip()):
        raise argparse.ArgumentTypeError(f"expected BACKEND=PATH, got {value!r}")
    return backend.strip(), path.strip()


def positive_int(value: str) -> int:
    """An option value that must be a whole number of at least 1 (--limit)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def adapters_of(args: argparse.Namespace) -> dict[str, str]:
    """The --adapter options as {backend id: adapter path}."""
    return dict(args.adapter)


def model_backends(models: Sequence[str], adapters: Mapping[str, str] | None, id_sep: str) -> list[Any]:
    """One backend per model id; a model named in `adapters` serves that adapter, under the id
    `<model><id_sep><adapter folder name>`."""
    backends = []
    for model_id in models:
        spec = settings().backend(model_id)
        if adapters and model_id in adapters:
            path = adapters[model_id]
            spec = spec.model_copy(update={"adapter": path, "id": f"{model_id}{id_sep}{Path(path).name}"})
        backends.append(build_backend(spec))
    return backends


def rows_path_of(out: Path) -> Path:
    """Where a run with --out OUT writes its scored rows."""
    return Path(f"{out}-rows.jsonl")


def write_rows(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """The rows as JSON lines."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def write_outputs(
    out: Path, text: str, meta: dict[str, Any], results: dict[str, Any], rows: Sequence[dict[str, Any]]
) -> None:
    """OUT.md (the report), OUT.json (meta and results) and OUT-rows.jsonl (every scored row)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    write_rows(rows_path_of(out), rows)


def set_table_head(set_name: str, columns: Sequence[str]) -> list[str]:
    """The markdown lines that open a set's results table: its heading, the column names and the rule."""
    return [f"## `{set_name}` set", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
