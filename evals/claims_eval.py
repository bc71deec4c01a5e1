"""A labelled set of faithful and unfaithful summaries, and the claim checker's precision and recall on it.

`build_items()` takes the demo database's research reports (EN and ZH, `tools.datagen`) and writes, per
report, faithful summaries (sentences copied from the report; light paraphrases that keep every claim) and
unfaithful ones made by one controlled edit each: a flipped direction (down → up, 下跌 → 上涨), swapped
quantities (the yield's figure given as the duration), a wrong period (over the quarter → year to date), an
invented number, and degenerate text (title only, a doubled word, a repeated sentence). Each item records the
edit (`kind`), so results can be read per kind. The edits are generated, not hand-judged: the set measures
whether the checker catches these known failure kinds, not how often models make them.

`evaluate()` scores `tools.claims.check_claims` against the numbers-only check (`tools.numbers`), the baseline
the summarizer used before: "rejected" is the positive class (precision: rejected summaries that really are
unfaithful; recall: unfaithful summaries that were rejected), with 95% bootstrap intervals.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from fincopilot.tools.claims import check_claims, split_sentences
from fincopilot.tools.datagen import reports as generated_reports
from fincopilot.tools.numbers import unsupported_numbers

SET_PATH = Path(__file__).parent / "sets" / "summary_claims.jsonl"

_FLIPS = (
    ("down", "up"),
    ("up", "down"),
    ("widened", "tightened"),
    ("tightened", "widened"),
    ("下跌", "上涨"),
    ("上涨", "下跌"),
    ("走阔", "收窄"),
    ("收窄", "走阔"),
)
_PERIODS = (
    ("over the quarter", "year to date"),
    ("year to date", "over the quarter"),
    ("近一季度", "今年以来"),
    ("今年以来", "近一季度"),
)
_PARAPHRASE = (
    (r"^As of ([^,]+), the net asset value \(NAV\) per unit of the (.+?) was", r"On \1, the \2's NAV was"),
    (r"The portfolio's yield to maturity was", "Its yield to maturity stood at"),
    (r"^截至([^，]+)，", r"\1，"),
    (r"组合到期收益率为", "该组合的到期收益率是"),
)


def _sub_once(text: str, pairs) -> str | None:
    for old, new in pairs:
        pattern = rf"\b{re.escape(old)}\b" if old.isascii() else re.escape(old)
        if re.search(pattern, text):
            return re.sub(pattern, new, text, count=1)
    return None


def _swap_numbers(text: str) -> str | None:
    """The first two percentages/figures of different value trade places (a swapped quantity)."""
    nums = list(re.finditer(r"\d+\.\d+%?", text))
    for a in nums:
        for b in nums:
            if a.start() < b.start() and a.group(0).rstrip("%") != b.group(0).rstrip("%"):
                va, vb = a.group(0).rstrip("%"), b.group(0).rstrip("%")
                return (
                    text[: a.start()]
                    + a.group(0).replace(va, vb)
                    + text[a.end() : b.start()]
                    + b.group(0).replace(vb, va)
                    + text[b.end() :]
                )
    return None


def _invent(text: str, rng: random.Random) -> str | None:
    nums = list(re.finditer(r"\d+\.\d+", text))
    if not nums:
        return None
    m = rng.choice(nums)
    new = f"{float(m.group(0)) * rng.choice((1.3, 0.7, 1.5)) + 0.11:.{len(m.group(0).split('.')[1])}f}"
    return text[: m.start()] + new + text[m.end() :]


def _faithful(body: str) -> list[tuple[str, str]]:
    sents = split_sentences(body.replace("\n\n", "\n"))
    joiner = "" if re.search(r"[\u4e00-\u9fff]", body) else " "
    out = [("extractive", joiner.join(sents[:2]))]
    if len(sents) > 3:
        out.append(("extractive", joiner.join([sents[0], sents[2]])))
    para = out[0][1]
    for pattern, repl in _PARAPHRASE:
        para = re.sub(pattern, repl, para, count=1)
    if para != out[0][1]:
        out.append(("paraphrase", para))
    return out


def _unfaithful(summary: str, title: str, rng: random.Random) -> list[tuple[str, str]]:
    first = split_sentences(summary)[0]
    edits = [
        ("sign_flip", _sub_once(summary, _FLIPS)),
        ("wrong_period", _sub_once(summary, _PERIODS)),
        ("swapped_quantity", _swap_numbers(summary)),
        ("invented_number", _invent(summary, rng)),
        ("title_only", title),
        (
            "doubled_word",
            re.sub(r"\b(the)\b", r"\1 \1", summary, count=1) if re.search(r"\bthe\b", summary) else None,
        ),
        ("repeated_sentence", f"{first} {first}"),
    ]
    return [(kind, text) for kind, text in edits if text and text != summary and _still_wrong(kind, text)]


def _still_wrong(kind: str, text: str) -> bool:
    """Drop a period edit that cannot be wrong: the quarter's and the year's figures are the same number."""
    if kind != "wrong_period":
        return True
    figures = re.findall(r"\d+\.\d+%", text)
    return len(figures) == len(set(figures))


def build_items(seed: int = 11, max_reports: int = 60) -> list[dict]:
    """Faithful and unfaithful summaries of the demo reports (deterministic)."""

    rng = random.Random(seed)
    reports = generated_reports()
    picked = rng.sample(reports, min(max_reports, len(reports)))
    items = []
    for rep in picked:
        source = f"{rep['title']}\n\n{rep['body']}"
        faithful = _faithful(rep["body"])
        rows = [(k, t, True) for k, t in faithful] + [
            (k, t, False) for k, t in _unfaithful(faithful[0][1], rep["title"], rng)
        ]
        for kind, text, ok in rows:
            items.append(
                {
                    "id": f"claims-{len(items):04d}",
                    "report_id": rep["report_id"],
                    "lang": rep["language"],
                    "kind": kind,
                    "faithful": ok,
                    "summary": text,
                    "source": source,
                }
            )
    return items


def write_set(path: Path = SET_PATH) -> int:
    items = build_items()
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return len(items)


def load_items(path: Path = SET_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


CHECKERS: dict[str, Callable[[str, str], bool]] = {
    "claims": lambda summary, source: not check_claims(summary, [source]).ok,
    "numbers_only": lambda summary, source: (
        bool(unsupported_numbers(summary, [source])) or not summary.strip()
    ),
}


class CheckerScore(BaseModel):
    checker: str
    precision: tuple[float, float, float]
    recall: tuple[float, float, float]
    recall_by_kind: dict[str, float]
    false_rejections: list[str]


def _pr(pairs: list[tuple[bool, bool]]) -> tuple[float, float]:
    tp = sum(1 for gold, pred in pairs if gold and pred)
    fp = sum(1 for gold, pred in pairs if pred and not gold)
    fn = sum(1 for gold, pred in pairs if gold and not pred)
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def score(checker: str, items: list[dict], rounds: int = 1000, seed: int = 0) -> CheckerScore:
    rejects = CHECKERS[checker]
    pairs = [(not i["faithful"], rejects(i["summary"], i["source"])) for i in items]
    rng = random.Random(seed)
    boots = sorted(_pr([rng.choice(pairs) for _ in pairs]) for _ in range(rounds))
    precs, recs = sorted(b[0] for b in boots), sorted(b[1] for b in boots)
    p, r = _pr(pairs)
    lo, hi = int(0.025 * rounds), int(0.975 * rounds) - 1
    kinds = sorted({i["kind"] for i in items if not i["faithful"]})
    by_kind = {k: _pr([pr for i, pr in zip(items, pairs) if i["kind"] == k])[1] for k in kinds}
    wrong = [i["id"] for i, (gold, pred) in zip(items, pairs) if pred and not gold]
    return CheckerScore(
        checker=checker,
        precision=(p, precs[lo], precs[hi]),
        recall=(r, recs[lo], recs[hi]),
        recall_by_kind=by_kind,
        false_rejections=wrong,
    )


def evaluate(items: list[dict] | None = None) -> list[CheckerScore]:
    items = items if items is not None else load_items()
    return [score(name, items) for name in CHECKERS]


def markdown(scores: list[CheckerScore]) -> str:
    kinds = list(scores[0].recall_by_kind)
    lines = [
        "| checker | precision [95% CI] | recall [95% CI] | " + " | ".join(kinds) + " |",
        "|---|---|---|" + "---|" * len(kinds),
    ]
    for s in scores:
        lines.append(
            f"| {s.checker} | {s.precision[0]:.2f} [{s.precision[1]:.2f}, {s.precision[2]:.2f}] | "
            f"{s.recall[0]:.2f} [{s.recall[1]:.2f}, {s.recall[2]:.2f}] | "
            + " | ".join(f"{s.recall_by_kind[k]:.2f}" for k in kinds)
            + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m fincopilot.evals.claims_eval [--write]
    import sys

    if "--write" in sys.argv:
        print(f"wrote {write_set()} items to {SET_PATH}")
    print(markdown(evaluate()))
