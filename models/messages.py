"""The messages a backend reads and the completion it returns, and structured-output parsing."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from fincopilot.errors import StructuredOutputError

T = TypeVar("T", bound=BaseModel)


class Message(BaseModel):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """What every backend returns for one prompt."""

    text: str
    parsed: Any | None = Field(None, description="the validated pydantic object when a schema was given")
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    backend_id: str
    model: str = ""
    finish_reason: str | None = None


def messages(*pairs: tuple[str, str] | str, system: str | None = None) -> list[Message]:
    """Shorthand: `messages("hi")` or `messages(("user", "hi"), ("assistant", "hello"), system="...")`."""
    out = [Message(role="system", content=system)] if system else []
    for p in pairs:
        role, content = ("user", p) if isinstance(p, str) else p
        out.append(Message(role=role, content=content))  # type: ignore[arg-type]
    return out


def parse_structured(text: str, schema: type[T], *, backend_id: str | None = None) -> T:
    """Parse `text` as JSON and validate it against `schema`; raise StructuredOutputError otherwise."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("{") :] if "{" in stripped else stripped
    try:
        data = json.loads(stripped, strict=False)  # raw newlines inside strings are common in model output
    except json.JSONDecodeError as err:
        raise StructuredOutputError(
            f"backend {backend_id!r} returned text that is not JSON ({err.msg} at char {err.pos}): "
            f"{text[:120]!r}",
            backend_id=backend_id,
            raw=text,
        ) from None
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in err.errors()[:5]
        )
        raise StructuredOutputError(
            f"backend {backend_id!r} returned JSON that does not match {schema.__name__}: {problems}",
            backend_id=backend_id,
            raw=text,
        ) from None
