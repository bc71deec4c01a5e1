"""Structured-output helpers (schema caps, length bounds) and typed errors for malformed output."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, StringConstraints

from fincopilot.errors import ConfigError, StructuredOutputError
from fincopilot.models.backends.scripted import ScriptedBackend
from fincopilot.models.messages import messages, parse_structured
from fincopilot.models.structured import (
    MIN_ITEMS,
    MIN_STRING_LENGTH,
    bounded_json_schema,
    fit_json_schema,
    max_json_chars,
    pattern_problem,
    schema_json,
)
from fincopilot.tools.numbers import copy_only_pattern


class Line(BaseModel):
    label: str
    amount: float = Field(ge=0, le=1_000_000)


class Memo(BaseModel):
    kind: Literal["buy", "hold", "sell"]
    title: Annotated[str, StringConstraints(max_length=20)]
    notes: list[str]
    lines: list[Line] = Field(max_length=3)


def test_bounded_schema_caps_only_unbounded_strings_and_arrays():
    js = bounded_json_schema(Memo, max_string_length=50, max_items=5)
    props = js["properties"]
    assert props["title"]["maxLength"] == 20  # the developer's bound is kept
    assert props["notes"]["maxItems"] == 5 and props["notes"]["items"]["maxLength"] == 50
    assert props["lines"]["maxItems"] == 3
    assert js["$defs"]["Line"]["properties"]["label"]["maxLength"] == 50
    assert "maxLength" not in props["kind"]  # enums are already bounded
    amount = js["$defs"]["Line"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (0, 1_000_000)  # the developer's bounds are kept


def test_bounded_schema_bounds_free_numbers():
    class Quote(BaseModel):
        price: float
        lots: int = Field(ge=1)

    props = bounded_json_schema(Quote, number_bound=1e9)["properties"]
    assert (props["price"]["minimum"], props["price"]["maximum"]) == (-1e9, 1e9)
    assert (props["lots"]["minimum"], props["lots"]["maximum"]) == (1, 10**9)
    assert "maxLength" not in schema_json(Memo)["properties"]["notes"]["items"]  # the original is untouched


def test_max_json_chars_bounds_the_longest_valid_answer():
    js = bounded_json_schema(Memo, max_string_length=10, max_items=2)
    longest = Memo(
        kind="hold",
        title="x" * 20,
        notes=["y" * 10] * 2,
        lines=[Line(label="z" * 10, amount=999999.123456)] * 3,
    ).model_dump_json()
    assert len(longest) <= max_json_chars(js)
    assert max_json_chars(schema_json(Memo), unbounded=10_000) >= 10_000


def test_fit_schema_shrinks_added_caps_to_the_token_budget():
    small = fit_json_schema(Memo, 200)
    big = fit_json_schema(Memo, 100_000)
    assert (
        small["properties"]["notes"]["items"]["maxLength"] < big["properties"]["notes"]["items"]["maxLength"]
    )
    assert small["properties"]["notes"]["items"]["maxLength"] >= MIN_STRING_LENGTH
    assert small["properties"]["notes"]["maxItems"] >= MIN_ITEMS
    assert small["properties"]["title"]["maxLength"] == 20


def test_schema_must_be_a_pydantic_model():
    with pytest.raises(ConfigError, match="pydantic model"):
        schema_json(str)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "reply, match",
    [
        ("not json at all", "not JSON"),
        ('{"kind": "hold", "title": "t", "notes": []', "not JSON"),  # truncated object
        ('{"kind": "maybe", "title": "t", "notes": [], "lines": []}', "kind"),  # enum violated
        ('{"kind": "hold", "title": "' + "t" * 30 + '", "notes": [], "lines": []}', "title"),  # too long
        ("[1, 2, 3]", "Memo"),
    ],
)
def test_malformed_backend_output_is_a_typed_error(reply, match):
    """A scripted FAKE backend returns bad text; the error is StructuredOutputError, never a crash."""
    fake = ScriptedBackend.from_function("fake", lambda msgs, schema: reply)
    with pytest.raises(StructuredOutputError, match=match) as info:
        fake.complete(messages("memo please"), schema=Memo)
    assert info.value.backend_id == "fake" and info.value.raw == reply


def test_parse_structured_accepts_fenced_json():
    memo = parse_structured('```json\n{"kind": "buy", "title": "t", "notes": ["a"], "lines": []}\n```', Memo)
    assert memo.kind == "buy"


# One escape of each kind llama.cpp's converter compiles (tried through it in test_models_llamacpp.py).
PORTABLE = r"^(?:[a-z\\\]\-]|\\|\^|\$|\.|\||\?|\*|\+|\(|\)|\[|\]|\{|\}|\-){0,8}$"


def test_portable_patterns_pass_the_check():
    assert pattern_problem(PORTABLE) is None
    assert pattern_problem(r"^(?:ab|cd)+[^x-z]?a{2}b{1,}$") is None
    assert pattern_problem(r"^a\\$") is None  # an escaped backslash, then the anchor
    report = "NAV 1.0842 on 30 September 2026; it returned 3.05% on 10,000 units."
    assert pattern_problem(copy_only_pattern(report, 50)) is None


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"[0-9]+", "must start with '^' and end with '$'"),
        (r"^a\$", "must start with '^' and end with '$'"),  # the '$' is a literal
        (r"^\d+$", r"escape \d is not portable; write [0-9]"),
        (r"^(?:[a-z]|\/)+$", r"escape \/ is not portable; write the character itself"),
        (r"^[\.]+$", r"escape \. inside a character class"),
        (r"^[]a]$", "literal ']' in a character class must be escaped"),
        (r"^[^\"]+$", "written raw inside the JSON string"),
        (r"^(?=a)b$", "no look-around"),
        (r"^a+?$", "lazy and possessive"),
        (r"^a$|^b$", "may only anchor the whole pattern"),
        (r"^[a-z$", "not closed"),
    ],
)
def test_unportable_patterns_are_config_errors_naming_the_field(pattern, why):
    assert why in pattern_problem(pattern)
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    with pytest.raises(ConfigError, match="schema field properties.code: pattern") as err:
        fit_json_schema(schema, 200)
    assert why in str(err.value)
