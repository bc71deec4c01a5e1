"""`baseline`: a skill's classical baseline (rules, template, extractive) as a routable backend.

It never generates text. The gateway answers a call routed to it with `RoutedToBaseline` before it gets
here (no slot, retry or circuit breaker is involved); the worker then runs its own deterministic path and
records `produced_by` accordingly. Ids `baseline:<name>` need no configuration (`router.baseline_spec`);
a config may also declare `kind = "baseline"` backends, which behave the same.
"""

from __future__ import annotations

from typing import Any

from fincopilot.models.base import BaseBackend
from fincopilot.models.messages import Usage
from fincopilot.models.registry import register_kind
from fincopilot.models.router import BASELINE_KIND, RoutedToBaseline


@register_kind(BASELINE_KIND)
class BaselineBackend(BaseBackend):
    def _generate(self, *args: Any, **kwargs: Any) -> tuple[str, Usage, str | None]:  # takes nothing it uses
        raise RoutedToBaseline(
            f"backend {self.id!r} is a classical baseline: the worker answers with its rules"
        )
