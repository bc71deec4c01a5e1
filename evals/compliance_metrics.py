"""Per-category F1 for the compliance skill in the arena (`f1:<category>` beside the micro averages).

Each scored item of `compliance_check` carries its per-category counts (`tp:<category>`, `fp:<category>`,
`fn:<category>`, 0 or 1); the arena's aggregate averages them over the candidate's own items, and since every
such item has every count, `2·tp / (2·tp + fp + fn)` on the means is the per-category F1 over those items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fincopilot.tools.compliance_rules import CATEGORIES

SKILL = "compliance_check"
_KINDS = ("tp", "fp", "fn")


def category_counts(skill: str, reference: Mapping[str, Any], output: Mapping[str, Any]) -> dict[str, float]:
    """An item's per-category tp / fp / fn (empty for any other skill)."""
    if skill != SKILL:
        return {}
    got = {v.get("category") for v in (output or {}).get("violations", [])}
    gold = set(reference.get("categories", []))
    out: dict[str, float] = {}
    for c in CATEGORIES:
        out[f"tp:{c}"] = float(c in got and c in gold)
        out[f"fp:{c}"] = float(c in got and c not in gold)
        out[f"fn:{c}"] = float(c in gold and c not in got)
    return out


def category_f1(aggregated: dict[str, float]) -> dict[str, float]:
    """`aggregated` with the averaged counts replaced by `f1:<category>` (categories with any gold or flag)."""
    out = {k: v for k, v in aggregated.items() if k.split(":", 1)[0] not in _KINDS}
    for c in CATEGORIES:
        tp, fp, fn = (aggregated.get(f"{k}:{c}") for k in _KINDS)
        if tp is None or fp is None or fn is None or tp + fp + fn == 0:
            continue
        out[f"f1:{c}"] = 2 * tp / (2 * tp + fp + fn)
    return out
