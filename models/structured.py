"""Guaranteed structured output: pydantic model → JSON schema → xgrammar grammar → logits mask.

xgrammar compiles a JSON schema (enums, nested objects and arrays, `maxLength`, `minItems` /
`maxItems`, integer and number bounds, `$ref`, `anyOf`) into a grammar over the model's own
tokenizer; at each decoding step only tokens that keep the output a valid prefix are allowed.
So even a 135M model produces JSON that parses and validates.

What a grammar cannot promise is that the JSON *closes* within `max_tokens`. Two things keep
that from happening in practice: `bounded_json_schema` gives every unbounded string and array
a default cap (the output still validates against the original model; it is a subset), and
`max_json_chars` tells a backend how long the longest valid answer can be. A backend that still
runs out raises `StructuredOutputError` (see `truncated_error`), never returns half an object.

The xgrammar import is lazy so that `fincopilot --help` stays fast.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from pydantic import BaseModel

from fincopilot.errors import ConfigError, StructuredOutputError

DEFAULT_MAX_STRING_LENGTH = 400
DEFAULT_MAX_ITEMS = 12
# Numbers without bounds get these: xgrammar then emits a finite number grammar (at most 6 decimals)
# instead of `[0-9]*`, on which a small model can loop. 1e15 covers any amount in CNY or USD.
DEFAULT_NUMBER_BOUND = 1e15


def schema_json(schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a pydantic model (or a schema dict, returned as a copy)."""
    if isinstance(schema, dict):
        return copy.deepcopy(schema)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    raise ConfigError(f"a structured-output schema must be a pydantic model class, got {schema!r}")


def bounded_json_schema(
    schema: type[BaseModel] | dict[str, Any],
    *,
    max_string_length: int | None = DEFAULT_MAX_STRING_LENGTH,
    max_items: int | None = DEFAULT_MAX_ITEMS,
    number_bound: float | None = DEFAULT_NUMBER_BOUND,
) -> dict[str, Any]:
    """The schema with a cap on every string, array and number that has none.

    Why: a small model inside a grammar can still repeat a phrase forever inside an unbounded
    string; a cap turns that into a short, valid value instead of a truncated object. Only
    *unbounded* strings (no maxLength, enum, const, pattern or format) and arrays (no maxItems)
    are touched, so anything generated still validates against the original model.
    """
    out = schema_json(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            kinds = kind if isinstance(kind, list) else [kind]
            if (
                "string" in kinds
                and max_string_length is not None
                and not any(k in node for k in ("maxLength", "enum", "const", "pattern", "format"))
            ):
                node["maxLength"] = max(max_string_length, int(node.get("minLength", 0)))
            if "array" in kinds and max_items is not None and "maxItems" not in node:
                node["maxItems"] = max(max_items, int(node.get("minItems", 0)))
            if ("number" in kinds or "integer" in kinds) and number_bound is not None and "enum" not in node:
                bound = int(number_bound) if "number" not in kinds else number_bound
                if "minimum" not in node and "exclusiveMinimum" not in node:
                    node["minimum"] = -bound
                if "maximum" not in node and "exclusiveMaximum" not in node:
                    node["maximum"] = bound
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(out)
    return out


def max_json_chars(schema: dict[str, Any], *, unbounded: int = 10_000, bytes_per_char: int = 1) -> int:
    """An upper bound on the length of the longest JSON value `schema` allows (as xgrammar emits it).

    Strings count `maxLength` characters times `bytes_per_char` plus quotes (escapes excluded:
    bounded strings in xgrammar cannot contain them); bounded numbers count their digits plus
    sign and 6 decimals; `unbounded` stands in for anything without a cap. With
    `bytes_per_char=4` the result bounds the UTF-8 bytes, hence the tokens of a byte-level BPE model.
    """
    defs = schema.get("$defs", {})

    def size(node: dict[str, Any], depth: int = 0) -> int:
        if depth > 20:
            return unbounded
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return size(defs.get(name, {}), depth + 1)
        if "const" in node:
            return len(json.dumps(node["const"], ensure_ascii=False))
        if "enum" in node:
            return max(len(json.dumps(v, ensure_ascii=False)) for v in node["enum"])
        for key in ("anyOf", "oneOf"):
            if key in node:
                return max(size(n, depth + 1) for n in node[key])
        kind = node.get("type")
        if isinstance(kind, list):
            return max(size({**node, "type": k}, depth + 1) for k in kind)
        if kind == "string":
            if "format" in node:
                return 40 * bytes_per_char  # date, date-time, uuid, ... are short
            return node["maxLength"] * bytes_per_char + 2 if "maxLength" in node else unbounded
        if kind in ("integer", "number"):
            lo = node.get("minimum", node.get("exclusiveMinimum"))
            hi = node.get("maximum", node.get("exclusiveMaximum"))
            if lo is None or hi is None:
                return unbounded
            digits = len(str(int(max(abs(lo), abs(hi)))))
            return digits + 1 + (7 if kind == "number" else 0)
        if kind == "boolean":
            return 5
        if kind == "null":
            return 4
        if kind == "array":
            if "maxItems" not in node:
                return unbounded
            item = size(node.get("items", {}), depth + 1) if node.get("items") else unbounded
            return 2 + node["maxItems"] * (item + 2)
        if kind == "object" or "properties" in node:
            props = node.get("properties", {})
            return 2 + sum(len(k) + 6 + size(v, depth + 1) for k, v in props.items())
        return unbounded

    return size(schema)


MIN_STRING_LENGTH = 24
MIN_ITEMS = 4

# The regex subset every constrained decoder here compiles (llama.cpp's schema converter, llguidance, xgrammar):
# an anchored pattern of literals, escaped punctuation, classes, (non-capturing) groups, alternation and greedy
# quantifiers. llama.cpp reads anything else as "any string", with only a warning on stderr; each escape below
# was tried through it (tests/test_models_llamacpp.py).
_ESCAPABLE = set("\\^$.|?*+()[]{}-")
_ESCAPABLE_IN_CLASS = set("\\]-")
_RAW = set('"nrt')  # llama.cpp compiles these, then writes them raw inside the JSON string: invalid JSON
_HINTS = {"d": "[0-9]", "w": "[A-Za-z0-9_]", "s": "[ ]", "b": "nothing (no word boundaries)"}


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is outside the portable subset, or None when every decoder compiles it."""
    body = pattern[1:-1]
    if (
        len(pattern) < 2
        or pattern[0] != "^"
        or pattern[-1] != "$"
        or (len(body) - len(body.rstrip("\\"))) % 2
    ):
        return "it must start with '^' and end with '$'"
    i, in_class = 1, False
    while i < len(pattern) - 1:
        ch, nxt = pattern[i], pattern[i + 1]
        if ch == "\\":
            if nxt in _RAW:
                return f"escape \\{nxt} would be written raw inside the JSON string; leave it out"
            if nxt not in (_ESCAPABLE_IN_CLASS if in_class else _ESCAPABLE):
                hint = _HINTS.get(nxt.lower()) or ("the character itself" if not nxt.isalnum() else None)
                place = " inside a character class" if in_class else ""
                return f"escape \\{nxt}{place} is not portable" + (f"; write {hint}" if hint else "")
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            i += nxt == "^"
            if pattern[i + 1] == "]":
                return "a literal ']' in a character class must be escaped"
        elif ch == "(" and nxt == "?" and pattern[i + 2] != ":":
            return "only plain '(' and '(?:' groups are portable (no look-around, flags or named groups)"
        elif ch in "*+?}" and nxt in "?+" and pattern[i - 1] != "(":
            return "lazy and possessive quantifiers are not portable"
        elif ch in "^$":
            return f"'{ch}' may only anchor the whole pattern"
        i += 1
    return "a character class is not closed" if in_class else None


def check_patterns(schema: dict[str, Any], where: str = "") -> None:
    """Raise ConfigError naming the field whose `pattern` a decoder would silently drop (`pattern_problem`)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str) and (why := pattern_problem(schema["pattern"])):
            raise ConfigError(f"schema field {where or '(root)'!s}: pattern {schema['pattern']!r}: {why}")
        for key, value in schema.items():
            check_patterns(value, f"{where}.{key}" if where else key)
    elif isinstance(schema, list):
        for n, value in enumerate(schema):
            check_patterns(value, f"{where}[{n}]")


def fit_json_schema(
    schema: type[BaseModel] | dict[str, Any],
    max_tokens: int,
    *,
    max_string_length: int | None = DEFAULT_MAX_STRING_LENGTH,
    max_items: int | None = DEFAULT_MAX_ITEMS,
) -> dict[str, Any]:
    """`bounded_json_schema` with caps shrunk until the longest valid answer fits `max_tokens`.

    Every token emits at least one character, so when the bound in characters is at most
    `max_tokens` the JSON always closes in time. Only the caps we add shrink (never below
    MIN_STRING_LENGTH / MIN_ITEMS); bounds written in the model are the developer's to size. A `pattern`
    outside the portable subset is a ConfigError here, before any decoder drops it (`check_patterns`).
    """
    check_patterns(schema_json(schema))
    s, i = max_string_length, max_items
    while True:
        bounded = bounded_json_schema(schema, max_string_length=s, max_items=i)
        if max_json_chars(bounded, unbounded=0) <= max_tokens:
            return bounded
        can_s = s is not None and s > MIN_STRING_LENGTH
        can_i = i is not None and i > MIN_ITEMS
        if not (can_s or can_i):
            return bounded
        # shrink whichever cap is further above its floor
        if can_s and (not can_i or s / MIN_STRING_LENGTH >= i / MIN_ITEMS):  # type: ignore[operator]
            s = max(MIN_STRING_LENGTH, s // 2)  # type: ignore[operator]
        else:
            i = max(MIN_ITEMS, i // 2)  # type: ignore[operator]


def truncated_error(backend_id: str | None, max_tokens: int, text: str) -> StructuredOutputError:
    """The error for constrained output that hit `max_tokens` before the JSON closed."""
    return StructuredOutputError(
        f"backend {backend_id!r} used all max_tokens={max_tokens} before the JSON object closed "
        f"(the grammar guarantees the shape, not the length); raise max_tokens or bound the schema's "
        f"strings and lists (Field(max_length=...))",
        backend_id=backend_id,
        raw=text,
    )


class GrammarCompiler:
    """Compiles schemas for one tokenizer, caching compiled grammars by schema text.

    One per loaded tokenizer; thread-safe (xgrammar's compiler is, the cache dict is locked).
    """

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int] | None = None):
        import xgrammar as xgr

        self._xgr = xgr
        self.tokenizer_info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self._compiler = xgr.GrammarCompiler(self.tokenizer_info)
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def compile(self, json_schema: dict[str, Any]) -> Any:
        """A compiled grammar for `json_schema` (compact JSON: no free whitespace to loop on)."""
        key = json.dumps(json_schema, sort_keys=True)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        try:
            # keep the schema's property order (the model writes fields in the order the prompt implies)
            compiled = self._compiler.compile_json_schema(
                json.dumps(json_schema), any_whitespace=False, strict_mode=True
            )
        except Exception as err:  # xgrammar raises RuntimeError/ValueError subclasses for unsupported schemas
            raise ConfigError(f"xgrammar cannot compile this JSON schema: {err}") from None
        with self._lock:
            self._cache[key] = compiled
        return compiled

    def logits_processor(self, compiled: Any, batch_size: int = 1) -> Any:
        """A fresh HF logits processor (one per `generate` call; xgrammar's is single-use)."""
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor([compiled] * batch_size)
