"""`@tool`: register a typed function that agents may call (through their allowlist) and developers call directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from fincopilot.errors import InputError, NotFoundError

A = TypeVar("A", bound=BaseModel)
O = TypeVar("O", bound=BaseModel)


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


def tool(name: str, *, args: type[A], output: type[O], description: str | None = None):
    """Decorator: `@tool("credit_score", args=ScoreArgs, output=Score)` on `def f(args: ScoreArgs) -> Score`."""

    def decorate(fn: Callable[[A], O]) -> Tool[A, O]:
        t = Tool(name=name, args=args, output=output, fn=fn, description=(description or fn.__doc__ or "").strip())
        _TOOLS[name] = t
        return t

    return decorate


def get_tool(name: str) -> Tool:
    _ensure_builtin_tools()
    if name not in _TOOLS:
        raise NotFoundError(f"unknown tool {name!r}; known tools: {', '.join(sorted(_TOOLS))}")
    return _TOOLS[name]


def list_tools() -> list[Tool]:
    _ensure_builtin_tools()
    return [_TOOLS[k] for k in sorted(_TOOLS)]


def _ensure_builtin_tools() -> None:
    import fincopilot.tools.builtin  # noqa: F401  (registers the built-in tools)
