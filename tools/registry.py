"""`@tool`: register a typed function that agents may call (through their allowlist) and developers call directly.

Tools are discovered through the Python entry-point group `fincopilot.tools` (each entry names a module whose
import registers its tools); the built-ins are registered the same way in pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from fincopilot.errors import InputError, NotFoundError
from fincopilot.log import get_logger
from fincopilot.plugins import PluginGroup

log = get_logger(__name__)
ENTRY_POINT_GROUP = "fincopilot.tools"

A = TypeVar("A", bound=BaseModel)
O = TypeVar("O", bound=BaseModel)  # noqa: E741 - the output type


@dataclass(frozen=True)
class Tool(Generic[A, O]):
    name: str
    args: type[A]
    output: type[O]
    fn: Callable[[A], O]
    description: str

    def __call__(self, args: A | dict[str, Any]) -> O:
        if not isinstance(args, self.args):
            try:
                args = self.args.model_validate(args)
            except ValidationError as err:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5])
                raise InputError(f"bad arguments for tool {self.name!r}: {problems}") from None
        return self.fn(args)


_TOOLS: dict[str, Tool] = {}


def tool(*, name: str, args: type[A], output: type[O], description: str | None = None):
    """Decorator: `@tool(name="credit_score", args=ScoreArgs, output=Score)` on `def f(args: ScoreArgs) -> Score`."""

    def decorate(fn: Callable[[A], O]) -> Tool[A, O]:
        t = Tool(
            name=name, args=args, output=output, fn=fn, description=(description or fn.__doc__ or "").strip()
        )
        _TOOLS[name] = t
        return t

    return decorate


def get_tool(name: str) -> Tool:
    load_installed_tools()
    if name not in _TOOLS:
        raise NotFoundError(f"unknown tool {name!r}; known tools: {', '.join(sorted(_TOOLS))}")
    return _TOOLS[name]


def list_tools() -> list[Tool]:
    load_installed_tools()
    return [_TOOLS[k] for k in sorted(_TOOLS)]


_PLUGINS = PluginGroup(ENTRY_POINT_GROUP)


def load_installed_tools() -> None:
    """Import every module registered under the `fincopilot.tools` entry-point group (once per process)."""
    _PLUGINS.load()
