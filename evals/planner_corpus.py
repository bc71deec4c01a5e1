"""The planner corpus: advisor requests with gold plans, in train / validation / test splits.

    python -m fincopilot.evals.planner_corpus          # writes evals/sets/planner/{train,validation,test}.jsonl

Each request is a *sentence frame* (a phrasing of one intent, in English or Chinese) filled with clients
(by id or by name, from the domain database's generator) and products (by code or by name), sometimes a
quoted draft, sometimes an earlier turn to refer back to, then given a surface style (formal, casual,
terse, typos). Gold plans are written by construction, in the production conventions (never by the
planner's rules):

- one `credit_lookup` per client, then one `report_summary` per product, in the order they are named;
- a recommendation, suitability question or comparison for a client is just those steps: the graph's
  compliance gate checks the final answer, and each product's suitability for the client, after synthesis;
- a quoted draft to check is `compliance_check` with `{"text": "$quote"}` (the quoted text; plus client
  and product when the request names them for suitability, the product inside the quote or outside it),
  no dependencies;
- quoted text that is no draft (a phrase to translate, a product's name in quotes) is not checked: the
  request's own intent decides, and greetings and out-of-scope requests have no steps.

Arguments are the mentions as written ("C-1042", "Xu Juan", "高收益债券基金"); the planner resolves names
to ids through the database, and the metrics compare resolved ids.

Splits are by frame: every frame belongs to exactly one split, so the test split is TEMPLATE-DISJOINT
from training (its phrasings are never seen in training). Validation frames are disjoint from both and
are used to choose hyper-parameters. The hand-written set (`handwritten.jsonl`) is written by hand,
apart from this generator.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fincopilot.evals.planner_frames import (
    DRAFTS_EN,
    DRAFTS_EN_ABOUT,
    DRAFTS_ZH,
    DRAFTS_ZH_ABOUT,
    FRAMES,
    PHRASES_EN,
    PHRASES_ZH,
    Frame,
)
from fincopilot.tools.datagen import build_tables

SETS_DIR = Path(__file__).resolve().parent / "sets" / "planner"
SPLIT_SIZES = {"train": 1400, "validation": 120, "test": 200}
TEST_SHARE, VALIDATION_SHARE = 0.25, 0.15


@dataclass(frozen=True)
class Entities:
    clients: list[tuple[str, str, str]]  # (id, name_en, name_zh)
    products: list[tuple[str, str, str]]  # (code, name_en, name_zh)


def domain_entities() -> Entities:
    """Clients and products from the domain data generator (the same rows `fincopilot data init` writes)."""
    tables = build_tables()
    clients = [(r["client_id"], r["name_en"], r["name_zh"]) for r in tables["clients"]]
    products = [(r["code"], r["name_en"], r["name_zh"]) for r in tables["products"]]
    return Entities(clients=clients, products=products)


# --------------------------------------------------------------------------------------------- splits
def frame_split(frame: Frame) -> str:
    """The frame's split, a stable hash of its text: ~25% test, ~15% validation, the rest train."""
    h = int(hashlib.sha256(frame.text.encode("utf-8")).hexdigest()[:8], 16) / 0x1_0000_0000
    return "test" if h < TEST_SHARE else "validation" if h < TEST_SHARE + VALIDATION_SHARE else "train"


def frames_by_split() -> dict[str, list[Frame]]:
    """Frames per split; every (kind, language) has frames in every split (guaranteed by moving one)."""
    out: dict[str, list[Frame]] = {"train": [], "validation": [], "test": []}
    groups: dict[tuple[str, str], list[Frame]] = {}
    for f in FRAMES:
        groups.setdefault((f.kind, f.lang), []).append(f)
    for frames in groups.values():
        assigned = {f: frame_split(f) for f in frames}
        for split in ("test", "validation", "train"):
            if not any(s == split for s in assigned.values()):
                # take a frame from the biggest other split
                counts = {s: sum(1 for v in assigned.values() if v == s) for s in out}
                donor = max((s for s in out if s != split), key=lambda s: counts[s])
                if counts[donor] > 1:
                    victim = min((f for f in frames if assigned[f] == donor), key=lambda f: f.text)
                    assigned[victim] = split
        for f, s in assigned.items():
            out[s].append(f)
    return out


# --------------------------------------------------------------------------------------------- styles
_TYPO_SKIP = set("0123456789-")


def _typo(text: str, rng: random.Random, protected: list[str]) -> str:
    """One or two letter swaps / drops inside plain English words (never inside entities or quotes)."""
    spans = [(text.find(p), text.find(p) + len(p)) for p in protected if p and p in text]

    def free(i: int) -> bool:
        return not any(a <= i < b for a, b in spans)

    chars = list(text)
    candidates = [
        i
        for i in range(1, len(chars) - 2)
        if chars[i].isalpha()
        and chars[i + 1].isalpha()
        and chars[i].isascii()
        and free(i)
        and free(i + 1)
        and chars[i] not in _TYPO_SKIP
    ]
    for _ in range(rng.choice((1, 2))):
        if not candidates:
            break
        i = rng.choice(candidates)
        if rng.random() < 0.5:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars[i] = ""
    return "".join(chars)


def styled(text: str, lang: str, style: str, rng: random.Random, protected: list[str]) -> str:
    """The request in one surface style: formal (as written), casual, terse, or with typos."""
    if style == "casual":
        if lang == "en":
            text = rng.choice(("hey, ", "hi! ", "ok so ", "quick one: ", "")) + text[0].lower() + text[1:]
            text = text.rstrip(".") + rng.choice((" thx", " cheers", " pls", "!", " :)", ""))
        else:
            text = (
                rng.choice(("哎，", "你好，", "那个，", "麻烦", ""))
                + text.rstrip("。")
                + rng.choice(("呗", "哈", "，谢啦", "~", ""))
            )
    elif style == "terse":
        text = text.rstrip(".。!！?？ ")
        if lang == "en":
            for word in ("please ", "Please ", "could you ", "Could you ", "can you ", "Can you ", "kindly "):
                text = text.replace(word, "")
            text = text[0].lower() + text[1:] if text else text
        else:
            for word in ("请", "麻烦", "帮我", "一下", "吗"):
                text = text.replace(word, "")
    elif style == "typos":
        if lang == "en":
            text = _typo(text, rng, protected)
        else:
            text = text.replace("。", "").replace("，", " ").replace("？", "?")
    return text


# --------------------------------------------------------------------------------------------- filling
def _client_mention(c: tuple[str, str, str], lang: str, rng: random.Random) -> str:
    if rng.random() < 0.55:
        return c[0]
    return c[2] if lang == "zh" and rng.random() < 0.85 else c[1]


def _product_name(p: tuple[str, str, str], lang: str, rng: random.Random) -> str:
    """A product's full name: the Chinese one in most Chinese requests, else the English one."""
    return p[2] if lang == "zh" and rng.random() < 0.85 else p[1]


def _product_mention(p: tuple[str, str, str], lang: str, rng: random.Random, by_name: bool) -> str:
    return p[0] if not by_name and rng.random() < 0.6 else _product_name(p, lang, rng)


def _draft_mention(p: tuple[str, str, str], outside: str, lang: str, rng: random.Random) -> str:
    """How a draft names a product the request names as `outside`: in the same words or by its other form."""
    return rng.choice((outside, p[0] if outside != p[0] else _product_name(p, lang, rng)))


def _draft(lang: str, rng: random.Random, product: str = "") -> str:
    """1-4 sentences (one alone most often); one of them names `product` when given."""
    pool = DRAFTS_ZH if lang == "zh" else DRAFTS_EN
    parts = rng.sample(pool, k=rng.choice((1, 1, 2, 3, 4)))
    if product:
        about = rng.choice(DRAFTS_ZH_ABOUT if lang == "zh" else DRAFTS_EN_ABOUT)
        parts[rng.randrange(len(parts))] = about.format(p=product)
    return ("" if lang == "zh" else " ").join(parts)


def gold_plan(frame: Frame, clients: list[str], products: list[str]) -> dict[str, Any]:
    """The plan a correct planner writes for `frame` filled with these mentions (see the module doc)."""
    steps: list[dict[str, Any]] = []

    def add(skill: str, args: dict[str, Any], deps: list[int] | None = None) -> None:
        steps.append({"id": len(steps) + 1, "skill": skill, "args": args, "depends_on": deps or []})

    if "credit" in frame.needs:
        for c in clients:
            add("credit_lookup", {"client": c})
    if "summary" in frame.needs:
        for p in products:
            add("report_summary", {"product": p})
    if "quote" in frame.needs:
        args: dict[str, Any] = {"text": "$quote"}
        if clients and products:
            args.update(client=clients[0], product=products[0])
        add("compliance_check", args)
    return {"steps": steps}


def make_item(frame: Frame, ents: Entities, rng: random.Random, n: int, split: str) -> dict[str, Any]:
    """One corpus item from `frame`: mentions, context, style, request text and gold plan."""
    slots = {name for _, name, _, _ in string.Formatter().parse(frame.text + frame.context) if name}
    cs = rng.sample(ents.clients, k=max(frame.clients, len({s for s in slots if s.startswith("c")} - {"c"})))
    ps = rng.sample(
        ents.products, k=max(frame.products, len({s for s in slots if s.startswith("p")} - {"p"}))
    )
    c_mentions = [_client_mention(c, frame.lang, rng) for c in cs]
    p_mentions = [_product_mention(p, frame.lang, rng, frame.by_name) for p in ps]
    fill = {f"c{i + 1}": m for i, m in enumerate(c_mentions)} | {
        f"p{i + 1}": m for i, m in enumerate(p_mentions)
    }
    fill["c"], fill["p"] = fill.get("c1", ""), fill.get("p1", "")
    # a product the frame does not name outside the quote is named inside it (and half the time when it is,
    # then in the same words or its other form: "about EQ-11: 'Consumer Growth Equity Fund will…'")
    about = ""
    if ps and "{p}" not in frame.text:
        about = fill["p"]
    elif ps and rng.random() < 0.5:
        about = _draft_mention(ps[0], fill["p"], frame.lang, rng)
    quote = _draft(frame.lang, rng, about) if "{q}" in frame.text else ""
    fill["q"] = quote
    fill["x"] = rng.choice(PHRASES_ZH if frame.lang == "zh" else PHRASES_EN) if "{x}" in frame.text else ""
    text = frame.text.format(**fill)
    context: list[str] = [frame.context.format(**fill)] if frame.context else []
    style = rng.choice(("formal", "formal", "casual", "terse", "typos"))
    request = styled(text, frame.lang, style, rng, [*c_mentions, *p_mentions, quote, fill["x"]])
    # entities a follow-up refers back to are named in the earlier turn, not in the request
    plan = gold_plan(frame, c_mentions, p_mentions)
    return {
        "id": f"planner-{split}-{n:04d}",
        "skill": "planner",
        "split": split,
        "input": {"request": request, "context": context},
        "reference": {
            "plan": plan,
            "skills": sorted({s["skill"] for s in plan["steps"]}),
            "quote": quote or None,
        },
        "metadata": {
            "lang": frame.lang,
            "kind": frame.kind,
            "frame": frame.text,
            "style": style,
            "by_name": [
                m
                for m in c_mentions + p_mentions
                if m not in {c[0] for c in cs} and m not in {p[0] for p in ps}
            ],
        },
    }


def build_split(
    split: str, frames: list[Frame], ents: Entities, size: int, seed: int = 0
) -> list[dict[str, Any]]:
    """`size` items, balanced over the split's (kind, language) groups, deterministic in `seed`."""
    rng = random.Random(f"planner-corpus-{split}-{seed}")
    groups: dict[tuple[str, str], list[Frame]] = {}
    for f in frames:
        groups.setdefault((f.kind, f.lang), []).append(f)
    keys = sorted(groups)
    items = []
    for n in range(size):
        kind_lang = keys[n % len(keys)]
        frame = rng.choice(groups[kind_lang])
        items.append(make_item(frame, ents, rng, n, split))
    return items


def build_all(sizes: dict[str, int] | None = None) -> dict[str, list[dict[str, Any]]]:
    sizes = sizes or SPLIT_SIZES
    ents = domain_entities()
    frames = frames_by_split()
    return {split: build_split(split, frames[split], ents, sizes[split]) for split in sizes}


def write_all(out_dir: Path = SETS_DIR) -> dict[str, int]:
    """Write the three split files (byte-identical for the same frames and domain data)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, items in build_all().items():
        path = out_dir / f"{split}.jsonl"
        path.write_text(
            "".join(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n" for it in items),
            encoding="utf-8",
        )
        counts[split] = len(items)
    return counts


def load_split_frames(split: str, out_dir: Path = SETS_DIR) -> set[str]:
    """The sentence frames the committed `split` file was built from."""
    path = out_dir / f"{split}.jsonl"
    return {json.loads(line)["metadata"]["frame"] for line in path.read_text(encoding="utf-8").splitlines()}


if __name__ == "__main__":
    print(write_all())
