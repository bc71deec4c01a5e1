"""Request bodies, and the one way the server reads them: size, JSON depth, JSON object, then the model.

A body is parsed by `parse_body` (not by FastAPI's own body parsing), so every malformed body is a clear 400
in OpenAI's shape, and a deeply nested one never reaches the JSON parser's recursion limit.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator

from fincopilot.agents.planner import MAX_REQUEST_CHARS
from fincopilot.graphs.state import MAX_EDITED_ANSWER_CHARS
from fincopilot.server.errors import BodyTooLarge, EmptyText, InvalidField, InvalidJson, TextTooLong

DEFAULT_MODEL = "fincopilot-advisor"
MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 32

Body = TypeVar("Body", bound=BaseModel)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    # OpenAI allows a list of content parts; the text parts are joined.
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text")
        )


class ChatCompletionRequest(BaseModel):
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None
    # Checked as OpenAI checks them, then ignored: the graph decides its own decoding. A value OpenAI would
    # refuse is a 400 here too, never silently accepted.
    n: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    # Other OpenAI fields (tools, response_format, ...) are accepted and ignored.
    model_config = {"extra": "allow"}

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n not in (None, 1):
            raise ValueError(
                f"n={n} is not supported: each request runs the copilot once and returns one choice"
            )
        return n


class ChatRequest(BaseModel):
    message: str
    thread_id: str | None = None
    model: str = DEFAULT_MODEL


class ReviewRequest(BaseModel):
    decision: Literal["approve", "edit", "reject"]
    text: str | None = Field(None, description="the corrected answer (required for `edit`)")


def parse_body(raw: bytes, model: type[Body]) -> Body:
    """`raw` as a `model`, or the 4xx error that says what is wrong with it."""
    if len(raw) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw.strip():
        raise InvalidJson("request body is empty; send a JSON object")
    if _nesting_depth(raw) > MAX_JSON_DEPTH:
        raise InvalidJson(f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidJson(f"request body is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise InvalidJson("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except RecursionError:
        raise InvalidJson("request body nests too deeply") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise InvalidField(f"invalid field {where}: {first['msg']}", param=where) from None


# A string runs to its closing quote, or to the end of an (invalid) body that never closes it: every match attempt
# succeeds and nothing backtracks (possessive quantifiers), so the scan stays linear on hostile input.
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _nesting_depth(raw: bytes) -> int:
    """The deepest `[`/`{` nesting in a JSON text (brackets inside strings do not count), computed at C speed
    before parsing, so a deeply nested body is a clear 400, never a RecursionError."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def check_text(text: str, what: str = "message", limit: int = MAX_REQUEST_CHARS) -> str:
    """`text` stripped, when it is not empty and within `limit` characters (a request: the planner's limit)."""
    text = text.strip()
    if not text:
        raise EmptyText(f"the {what} is empty")
    if len(text) > limit:
        raise TextTooLong(f"the {what} is {len(text)} characters; the limit is {limit}")
    return text


def check_edited_answer(text: str | None) -> str:
    """A reviewer's edited answer, within the one edited-answer limit."""
    return check_text(text or "", "edited answer", MAX_EDITED_ANSWER_CHARS)
