"""Disguised personal data (red-team issue #14, item 1): a generated corpus of thousands of disguised values of
every kind, sent through the gateway to a real OpenAI-compatible HTTP server on loopback, must put 0 raw
values on the wire; hypothesis then searches for disguises the generator did not think of."""

from __future__ import annotations

import json
import re

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fincopilot.models.messages import messages
from fincopilot.models.registry import clear_instances
from fincopilot.safety.desensitize import Pseudonymizer
from fincopilot.safety.pii import _normalize, find_pii
from tests.capture_server import CaptureServer
from tests.pii_corpus import CLEAN_TEXTS, make_card, make_id
from tests.pii_disguise import (
    CJK_SEPS,
    DIGIT_SEPS,
    GIVEN,
    KINDS,
    NAME_SEPS,
    SURNAMES,
    ZW,
    generate,
    known_names,
    leaks,
)
from tests.safety_helpers import backend, gateway_for, settings_of

N_PER_KIND = 600  # 3,600 variants


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_instances()
    yield
    clear_instances()


@pytest.mark.parametrize(
    "text, kind",
    [
        ("110101 1990 0307 1233", "id_card"),
        ("110-101-1990-0307-1233", "id_card"),
        ("110101199 003071233", "id_card"),
        ("6222.0202.1234.5679", "bank_card"),
        ("6222\u00a00202\u00a01234\u00a05679", "bank_card"),
        ("62220 20212 345679", "bank_card"),
        ("8613513854740", "phone"),
        ("139.8765.4321", "phone"),
        ("1\u200b3\u200b9\u200b8765\u200b4321", "phone"),
        ("Ｃ－１０４２", "account_id"),
    ],
)
def test_issue_disguises_are_found_with_original_spans(text, kind):
    sentence = f"客户资料：{text}，请核实。"
    found = find_pii(sentence)
    assert [(m.kind, m.text) for m in found] == [(kind, text)]


@pytest.mark.parametrize(
    "text, name",
    [
        ("张 敏", "张敏"),
        ("唐 娜", "唐娜"),
        ("Min, Zhang", "Zhang Min"),
        ("Xu-Juan Wang", "Wang Xujuan"),
        ("Zhang\tMin", "Zhang Min"),
        ("ZHANG\u00a0MIN", "Zhang Min"),
        ("Zh\u200bang Min", "Zhang Min"),
        ("张\u3000敏", "张敏"),
        ("张·敏", "张敏"),
        ("Ｚｈａｎｇ Ｍｉｎ", "Zhang Min"),
    ],
)
def test_name_disguises_are_found(text, name):
    found = find_pii(f"Please call {text} today.", [name])
    assert [(m.kind, m.text) for m in found] == [("name", text)]


def test_clean_financial_text_stays_clean():
    extra = [
        "Years 2021 2022 2023 2024 2025 returned 5.2 4.1 3.3 2.9 1.1 percent.",
        "Scores 612 580 700 655 710 690 702 688; limits 100.000 200.000.",
        "Zhang-Ming Road branch opened 2024.",
    ]
    for text in [*CLEAN_TEXTS, *extra]:
        assert find_pii(text, known_names()) == [], text


def test_generated_corpus_masks_every_value():
    names = known_names()
    variants = generate(N_PER_KIND)
    assert len(variants) == N_PER_KIND * len(KINDS)
    missed = [
        (v.kind, v.text)
        for v in variants
        if leaks(v.secret, v.kind, Pseudonymizer(known_names=names).mask(v.text))
    ]
    assert missed == []


def _folded(text: str) -> str:
    return re.sub(r"[\W_]", "", _normalize(text)).casefold()


def _clients_db_with_generated_names(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE clients (client_id VARCHAR PRIMARY KEY, name_en VARCHAR, name_zh VARCHAR)")
    names = known_names()
    con.executemany(
        "INSERT INTO clients VALUES (?, ?, ?)",
        [(f"C-{9000 + i}", en, zh) for i, (en, zh) in enumerate(zip(names[::2], names[1::2]))],
    )
    con.close()


def test_generated_corpus_puts_zero_raw_values_on_the_wire(isolated_home):
    _clients_db_with_generated_names(isolated_home / "fincopilot.duckdb")  # names come from the real reader
    variants = generate(N_PER_KIND, seed=1414)
    per_request = 40  # a request carries 40 disguised values: 90 HTTP requests for the corpus
    with CaptureServer() as srv:
        gw = gateway_for(settings_of(backend("cloud", base_url=srv.base_url)))
        for i in range(0, len(variants), per_request):
            batch = variants[i : i + per_request]
            text = "\n".join(v.text for v in batch)
            out = gw.complete("report_summary", messages(text), request_id=f"req-adv-{i}")
            # the advisor reads the real values (a value written twice in a request comes back as its first spelling)
            assert _folded(out.text) == _folded("ECHO: " + text)
        bodies = srv.bodies
    assert len(bodies) == -(-len(variants) // per_request)
    sent = "\n".join(m["content"] for b in bodies for m in b["messages"])
    assert [(v.kind, v.text) for v in variants if leaks(v.secret, v.kind, sent)] == []
    assert "<ID_CARD_" in json.dumps(bodies) and "<PERSON_" in json.dumps(bodies)


# --- hypothesis: random disguises of generated values ---------------------------------------------------------
def _digits_of(kind: str, seed: int) -> str:
    import random

    rng = random.Random(seed)
    if kind == "id_card":
        return make_id(
            rng.choice(["110101", "440304"]) + f"{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}"
            f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
    if kind == "bank_card":
        return make_card("6222" + "".join(str(rng.randint(0, 9)) for _ in range(11)))
    return "1" + rng.choice("3456789") + "".join(str(rng.randint(0, 9)) for _ in range(9))


@st.composite
def disguised_number(draw):
    kind = draw(st.sampled_from(["id_card", "bank_card", "phone"]))
    digits = _digits_of(kind, draw(st.integers(0, 10**6)))
    cuts = draw(st.sets(st.integers(1, len(digits) - 1), max_size=6))
    seps = draw(st.lists(st.sampled_from(DIGIT_SEPS + ZW), min_size=len(cuts), max_size=len(cuts)))
    out, pos = [], 0
    for cut, sep in zip(sorted(cuts), seps):
        out += [digits[pos:cut], sep]
        pos = cut
    return kind, digits, "".join(out) + digits[pos:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disguised_number(), st.sampled_from(["Client {} asked.", "客户{}咨询。", "ref {}", "{}"]))
def test_property_any_grouping_of_a_number_is_masked(number, template):
    kind, digits, surface = number
    masked = Pseudonymizer(known_names=()).mask(template.format(surface))
    assert not leaks(digits, kind, masked), (surface, masked)


@st.composite
def disguised_name(draw):
    sur = draw(st.sampled_from(SURNAMES))
    giv = draw(st.sampled_from(GIVEN))
    if draw(st.booleans()):
        return sur, giv, sur[1] + draw(st.sampled_from(CJK_SEPS + [""])) + giv[1]
    parts = [sur[0], giv[0]] if draw(st.booleans()) else [giv[0], sur[0]]
    parts = [draw(st.sampled_from([str.upper, str.lower, str.title]))(p) for p in parts]
    return sur, giv, draw(st.sampled_from(NAME_SEPS + [", "])).join(parts)


@settings(max_examples=300, deadline=None)
@given(disguised_name(), st.sampled_from(["Dear {}, HY-7 is due.", "客户{}的资料", "{}"]))
def test_property_any_spelling_of_a_known_name_is_masked(name, template):
    sur, giv, surface = name
    masked = Pseudonymizer(known_names=known_names()).mask(template.format(surface))
    assert not leaks(f"{sur[0]} {giv[0]}|{sur[1]}{giv[1]}", "name", masked), (surface, masked)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_property_spans_index_the_original_text(text):
    for m in find_pii(text, known_names()):
        assert text[m.start : m.end] == m.text and m.text
