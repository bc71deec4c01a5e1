"""The adversarial compliance splits: disguised promises and hard clean texts, never used in training.

`evaluate()` scores the rules alone (the baseline) and rules + the learned classifier (the default path) on
`evals/sets/compliance_adversarial.jsonl` (the development split), per language: recall (a violating text is
caught in its labelled category), false-alarm rate (a clean text gets any flag), and per-category F1 with 95%
bootstrap intervals (1,000 item-level resamples, seeded); recall and false alarms also with Wilson 95%
intervals. `EXTRA_SYSTEMS` adds the n-gram model at the looser budget and the n-gram + semantic combination
(`tools.compliance_semantic`) at each false-alarm budget its thresholds were calibrated for on validation.

`--dump FILE` writes a system's flags (the default check unless `--system` names another) for every item of
the development splits (or of each `--split`); `--paired BEFORE AFTER` compares two such dumps (two checkouts,
two models, or two systems) item by item: per language, violations caught and clean texts flagged with Wilson
95% intervals, the items gained and lost, and an exact McNemar test of the two counts.

`SPLITS` names the splits. Development splits (`DEVELOPMENT`, tuned on: the corpus was widened from their
misses, the rules' false alarms were fixed on them, and `calibrate()` picks the default path's operating point on
them):

- `dev` (`compliance_adversarial.jsonl`);
- `final` (`compliance_adversarial_final.jsonl`, the first test split, scored twice);
- `dev3` (`compliance_adversarial_dev3.jsonl`, 40 EN + 40 ZH written by hand for the rules' false alarms on hard
  clean texts: negated guarantees, questions, quoted rules, reported speech, rate facts, caveated records);
- `test2` (`compliance_adversarial_test2.jsonl`, written by hand before any tuning, scored once at d34b9fc);
- `test3` (`compliance_adversarial_test3.jsonl`, 40 EN + 40 ZH written by hand, scored once at 96adc7d): the
  corpus's round 4 was written from its misses and dev3's;
- `test4` (`compliance_adversarial_test4.jsonl`, 40 EN + 40 ZH written by hand, scored once at b651433): the
  corpus's round 5 was written from its misses and false alarms;
- `test5` (`compliance_adversarial_test5.jsonl`, 40 EN + 40 ZH written by hand, scored once at 3535f3b): the
  corpus's round 6 was written from its misses and false alarms;
- `test8` (`compliance_adversarial_test8.jsonl`, 100 EN + 100 ZH written blind, scored once at b410732): round 9's
  writers were told the kinds of its misses and false alarms;
- `test9` (`compliance_adversarial_test9.jsonl`, 100 EN + 100 ZH written blind, scored once at ce1fc07): round 10's
  writers were told the kinds of its misses and false alarms;
- `test10` (`compliance_adversarial_test10.jsonl`, 100 EN + 100 ZH written blind, scored once at 7248ba4): test11's
  writer was told the kinds of its misses and false alarms;
- `test11` (`compliance_adversarial_test11.jsonl`, 100 EN + 100 ZH written blind, scored once in round 12, at
  55489f3): test12's writer and round 13's writers were told the kinds of its misses and false alarms;
- `test12` (`compliance_adversarial_test12.jsonl`, 100 EN + 100 ZH written blind, scored once in round 13, at
  c755f78): test13's writer was told the kinds of its misses and false alarms;
- `test13` (`compliance_adversarial_test13.jsonl`, 100 EN + 100 ZH written blind, scored once in round 14, with
  corpus v17's model): test14's writer was told the kinds of its misses and false alarms.

Held out, written blind (by writers who read none of the corpus families, rules or earlier splits, each
committed alone before the round that scored it), never looked into item by item: `test6` (40 EN + 40 ZH, round
6) and `test7` (40 EN + 40 ZH, round 7). `test` (`compliance_adversarial_test14.jsonl`, 100 EN + 100 ZH: 60
violating texts, at least 12 per category, and 40 hard clean texts per language; brief in
`evals/sets/compliance_briefs/test14.md`) is the test split now, written blind and not yet scored: it is scored
once, with the final code of the round that ships next.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError
from scipy.stats import binomtest

from fincopilot.agents.compliance_check import check_learned, check_rules
from fincopilot.errors import InputError, run_main
from fincopilot.tools.compliance_rules import CATEGORIES
from fincopilot.tools.compliance_semantic import (
    BUDGETS,
    DEFAULT_BUDGET,
    ENCODERS,
    FROZEN_ENCODER,
    load_combined,
)

SET_PATH = Path(__file__).parent / "sets" / "compliance_adversarial.jsonl"
FINAL_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_final.jsonl"
DEV3_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_dev3.jsonl"
TEST2_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test2.jsonl"  # scored once at d34b9fc
TEST3_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test3.jsonl"  # scored once at 96adc7d
TEST4_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test4.jsonl"  # scored once at b651433
TEST5_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test5.jsonl"  # scored once at 3535f3b
# held out, never looked into: test6 scored from round 6, test7 from round 7
TEST6_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test6.jsonl"
TEST7_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test7.jsonl"
TEST8_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test8.jsonl"  # scored once at b410732
TEST9_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test9.jsonl"  # scored once at ce1fc07
TEST10_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test10.jsonl"  # scored once at 7248ba4
TEST11_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test11.jsonl"  # scored once at 55489f3
TEST12_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test12.jsonl"  # scored once at c755f78
TEST13_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test13.jsonl"  # scored in round 14
TEST_PATH = Path(__file__).parent / "sets" / "compliance_adversarial_test14.jsonl"
SPLITS = {
    "dev": SET_PATH,
    "final": FINAL_PATH,
    "dev3": DEV3_PATH,
    "test2": TEST2_PATH,
    "test3": TEST3_PATH,
    "test4": TEST4_PATH,
    "test5": TEST5_PATH,
    "test8": TEST8_PATH,
    "test9": TEST9_PATH,
    "test10": TEST10_PATH,
    "test11": TEST11_PATH,
    "test12": TEST12_PATH,
    "test13": TEST13_PATH,
    "test6": TEST6_PATH,
    "test7": TEST7_PATH,
    "test": TEST_PATH,
}
DEVELOPMENT = (
    "dev",
    "final",
    "dev3",
    "test2",
    "test3",
    "test4",
    "test5",
    "test8",
    "test9",
    "test10",
    "test11",
    "test12",
    "test13",
)  # the splits tuned on; "test" is not
GOAL_FALSE_ALARMS = 0.05  # the issue's false-alarm budget per language (and recall >= 0.95)
# The issue's disguised promises that the rules miss: every operating point must catch them.
ISSUE_PROMISES = (
    "HY-7 delivers an assured 7.5% every year.",
    "An annual return of 9% is contractually secured for you.",
)


def _rules(text: str) -> set[str]:
    return {v.category for v in check_rules(text).violations}


def _combined(budget: float, use_semantic: bool, encoder: str = FROZEN_ENCODER) -> Callable[[str], set[str]]:
    """Rules plus the combined model's flags at the thresholds calibrated for `budget` on validation."""
    return lambda text: (
        _rules(text)
        | {f.category for f in load_combined(encoder).flags(text, budget=budget, use_semantic=use_semantic)}
    )


SYSTEMS: dict[str, Callable[[str], set[str]]] = {
    "rules": _rules,
    "rules+learned": lambda text: {v.category for v in check_learned(text).violations},
}
EXTRA_SYSTEMS: dict[str, Callable[[str], set[str]]] = {
    "rules+n-gram@0.10": _combined(0.10, use_semantic=False),
    "rules+n-gram+semantic@0.05": _combined(0.05, use_semantic=True),
    "rules+n-gram+semantic@0.10": _combined(0.10, use_semantic=True),
}


class Interval(BaseModel):
    value: float
    low: float
    high: float


def _interval(x: Interval) -> str:
    return f"{x.value:.2f} [{x.low:.2f}, {x.high:.2f}]"


class LanguageScore(BaseModel):
    recall: Interval
    false_alarm_rate: Interval
    positives: int
    clean: int
    recall_wilson: Interval | None = None
    false_alarm_wilson: Interval | None = None


class SystemScore(BaseModel):
    system: str
    languages: dict[str, LanguageScore]
    category_f1: dict[str, Interval]
    misses: list[str]
    false_alarms: list[str]


def load_items(path: Path = SET_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _bootstrap(values: list, stat: Callable[[list], float], rounds: int = 1000, seed: int = 0) -> Interval:
    rng = random.Random(seed)
    samples = sorted(stat([rng.choice(values) for _ in values]) for _ in range(rounds)) if values else [0.0]
    return Interval(
        value=stat(values) if values else 0.0,
        low=samples[int(0.025 * len(samples))],
        high=samples[min(len(samples) - 1, int(0.975 * len(samples)))],
    )


def wilson(successes: int, n: int, z: float = 1.96) -> Interval:
    """A proportion with its Wilson score interval (95% for z = 1.96)."""
    if n == 0:
        return Interval(value=0.0, low=0.0, high=1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(value=p, low=max(0.0, centre - half), high=min(1.0, centre + half))


def _f1(pairs: list[tuple[bool, bool]]) -> float:
    tp = sum(1 for g, p in pairs if g and p)
    fp = sum(1 for g, p in pairs if p and not g)
    fn = sum(1 for g, p in pairs if g and not p)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _mean(xs: list) -> float:
    return sum(xs) / len(xs) if xs else 0.0


class FlagRow(BaseModel):
    """One item of a `--dump` file: its gold categories and the categories a check flagged."""

    split: str
    id: str
    lang: str
    categories: list[str]
    flags: list[str]

    def correct(self) -> bool:
        return set(self.categories) <= set(self.flags) if self.categories else not self.flags


def flag_rows(split: str, items: list[dict], predict: Callable[[str], set[str]]) -> list[FlagRow]:
    """Each item of `split` with the categories `predict` flags in its text."""
    return [
        FlagRow(
            split=split, flags=sorted(predict(i["text"])), **{k: i[k] for k in ("id", "lang", "categories")}
        )
        for i in items
    ]


def category_f1(rows: list[FlagRow]) -> dict[str, Interval]:
    """Per-category F1 of the rows' flags with 95% bootstrap intervals (categories with positives only)."""
    return {
        c: _bootstrap([(c in r.categories, c in r.flags) for r in rows], _f1)
        for c in CATEGORIES
        if any(c in r.categories for r in rows)
    }


def score(system: str, items: list[dict], predict: Callable[[str], set[str]] | None = None) -> SystemScore:
    rows = flag_rows("", items, predict or {**SYSTEMS, **EXTRA_SYSTEMS}[system])
    languages = {}
    for lang in sorted({r.lang for r in rows}):
        pos = [r.correct() for r in rows if r.lang == lang and r.categories]
        clean = [not r.correct() for r in rows if r.lang == lang and not r.categories]
        languages[lang] = LanguageScore(
            recall=_bootstrap(pos, _mean),
            false_alarm_rate=_bootstrap(clean, _mean),
            positives=len(pos),
            clean=len(clean),
            recall_wilson=wilson(sum(pos), len(pos)),
            false_alarm_wilson=wilson(sum(clean), len(clean)),
        )
    return SystemScore(
        system=system,
        languages=languages,
        category_f1=category_f1(rows),
        misses=[r.id for r in rows if r.categories and not r.correct()],
        false_alarms=[r.id for r in rows if not r.categories and not r.correct()],
    )


def evaluate(items: list[dict] | None = None, systems: tuple[str, ...] = tuple(SYSTEMS)) -> list[SystemScore]:
    """The baseline and the default path (or the named `systems`) on the adversarial split."""
    items = items if items is not None else load_items()
    return [score(name, items) for name in systems]


def markdown(scores: list[SystemScore]) -> str:
    """A table people can read: recall and false alarms per language, then per-category F1."""
    lines = [
        "| system | lang | recall [95% CI] | false alarms [95% CI] | positives / clean |",
        "|---|---|---|---|---|",
    ]
    for s in scores:
        for lang, ls in s.languages.items():
            lines.append(
                f"| {s.system} | {lang} | {_interval(ls.recall)} | {_interval(ls.false_alarm_rate)} | "
                f"{ls.positives} / {ls.clean} |"
            )
    cats = list(scores[0].category_f1)
    lines += ["", "| system | " + " | ".join(cats) + " |", "|---|" + "---|" * len(cats)]
    for s in scores:
        lines.append(f"| {s.system} | " + " | ".join(_interval(s.category_f1[c]) for c in cats) + " |")
    return "\n".join(lines)


def wilson_table(split: str, scores: list[SystemScore]) -> list[str]:
    """Markdown rows: recall and false alarms per language with Wilson 95% intervals."""

    def iv(x: Interval | None) -> str:
        return _interval(x) if x else "-"

    rows = []
    for s in scores:
        for lang, ls in s.languages.items():
            rows.append(
                f"| {split} | {s.system} | {lang} | {iv(ls.recall_wilson)} | {iv(ls.false_alarm_wilson)} | "
                f"{ls.positives} / {ls.clean} |"
            )
    return rows


def report(
    splits: dict[str, list[dict]],
    extra: dict[str, Callable[[str], set[str]]] | None = None,
    only: tuple[str, ...] | None = None,
) -> str:
    """Every system (or those named in `only`; plus `extra` predictors, e.g. a zero-shot model) on every
    split: the Wilson table, then per-category F1 per split."""
    predictors = {**SYSTEMS, **EXTRA_SYSTEMS}
    predictors = {n: p for n, p in predictors.items() if only is None or n in only} | (extra or {})
    rows = [
        "| split | system | lang | recall [Wilson 95%] | false alarms [Wilson 95%] | positives / clean |",
        "|---|---|---|---|---|---|",
    ]
    f1_tables = []
    for split, items in splits.items():
        scores = [score(name, items, predict) for name, predict in predictors.items()]
        rows += wilson_table(split, scores)
        f1_tables += [
            "",
            f"Per-category F1 on {split} [95% bootstrap]:",
            "",
            markdown(scores).split("\n\n")[1],
        ]
    return "\n".join(rows + f1_tables)


def calibrate(
    budgets: tuple[float, ...] = BUDGETS, encoder: str = FROZEN_ENCODER
) -> list[tuple[float, SystemScore]]:
    """Each validation-family budget of the combined model on `encoder` scored on the development splits
    (`DEVELOPMENT`); the default path's operating point (`DEFAULT_BUDGET`) is `chosen_budget` of them."""
    items = [i for split in DEVELOPMENT for i in load_items(SPLITS[split])]
    return [(b, score(f"rules+n-gram+semantic@{b:.2f}", items, _combined(b, True, encoder))) for b in budgets]


def catches_issue_promises(budget: float, encoder: str = FROZEN_ENCODER) -> bool:
    """The combined model at `budget` flags every one of `ISSUE_PROMISES` as a guaranteed return."""
    predict = _combined(budget, True, encoder)
    return all("guaranteed_return" in predict(text) for text in ISSUE_PROMISES)


def chosen_budget(
    scored: list[tuple[float, SystemScore]], catches: Callable[[float], bool] = catches_issue_promises
) -> float:
    """Among the budgets that catch the issue's promises (all, when none does): the loosest within the goal's
    false-alarm rate in every language, the strictest when none is."""
    usable = [(b, s) for b, s in scored if catches(b)] or scored
    within = [
        b
        for b, s in usable
        if all(ls.false_alarm_rate.value <= GOAL_FALSE_ALARMS for ls in s.languages.values())
    ]
    return max(within) if within else min(b for b, _ in usable)


def dump(path: Path, splits: tuple[str, ...] = DEVELOPMENT, system: str = "rules+learned") -> int:
    """Write `system`'s flags for every item of `splits` to `path` (JSON lines), for `paired()` to compare
    with another checkout's or model's dump; returns the number of items written."""
    predict = {**SYSTEMS, **EXTRA_SYSTEMS}[system]
    rows = [row for split in splits for row in flag_rows(split, load_items(SPLITS[split]), predict)]
    path.write_text("".join(r.model_dump_json() + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def load_dump(path: Path) -> list[FlagRow]:
    """The rows of a `--dump` file; a malformed line is an `InputError` naming the file and line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows += [FlagRow.model_validate_json(line)] if line.strip() else []
        except ValidationError as err:
            raise InputError(f"{path}:{number} is not a --dump row: {err.errors()[0]['msg']}") from None
    return rows


class PairedCount(BaseModel):
    """How two dumps differ on the same items of one language and kind (violating or clean)."""

    lang: str
    kind: Literal["violations caught", "clean flagged"]
    items: int
    before: int
    after: int
    gained: int  # right after and wrong before (for clean texts: a false alarm removed)
    lost: int
    p_value: float  # exact McNemar: two-sided binomial test of gained against lost at 1/2


def _paired_count(lang: str, violating: bool, pairs: list[tuple[FlagRow, FlagRow]]) -> PairedCount:
    right = [(b.correct(), a.correct()) for b, a in pairs]
    gained = sum(1 for b, a in right if a and not b)
    lost = sum(1 for b, a in right if b and not a)
    shown = [sum(r[k] if violating else not r[k] for r in right) for k in (0, 1)]
    return PairedCount(
        lang=lang,
        kind="violations caught" if violating else "clean flagged",
        items=len(pairs),
        before=shown[0],
        after=shown[1],
        gained=gained,
        lost=lost,
        p_value=binomtest(gained, gained + lost).pvalue if gained + lost else 1.0,
    )


def paired(before: list[FlagRow], after: list[FlagRow]) -> list[PairedCount]:
    """Per language, violations caught and clean texts flagged before and after, with gained / lost counts and
    exact McNemar p-values, over the items (split, id) both dumps hold."""
    old = {(r.split, r.id): r for r in before}
    shared = [(old[(r.split, r.id)], r) for r in after if (r.split, r.id) in old]
    return [
        _paired_count(
            lang, violating, [(b, a) for b, a in shared if a.lang == lang and bool(a.categories) == violating]
        )
        for lang in sorted({a.lang for _, a in shared})
        for violating in (True, False)
    ]


def f1_table(before: list[FlagRow], after: list[FlagRow]) -> str:
    """Markdown: per-category F1 before and after, over the items both dumps hold."""
    keys = {(r.split, r.id) for r in before} & {(r.split, r.id) for r in after}
    old, new = (category_f1([r for r in rows if (r.split, r.id) in keys]) for rows in (before, after))
    rows = ["| category | F1 before [95% bootstrap] | F1 after [95% bootstrap] |", "|---|---|---|"]
    rows += [f"| {c} | {_interval(old[c])} | {_interval(new[c])} |" for c in old]
    return "\n".join(rows)


def _rate(count: int, n: int) -> str:
    return f"{count} = {_interval(wilson(count, n))}"


def paired_table(counts: list[PairedCount]) -> str:
    """Markdown: one row per language and kind, before and after with Wilson 95% intervals."""
    rows = [
        "| lang | kind | items | before | after | gained | lost | exact McNemar p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {c.lang} | {c.kind} | {c.items} | {_rate(c.before, c.items)} | {_rate(c.after, c.items)} | "
        f"{c.gained} | {c.lost} | {c.p_value:.3g} |"
        for c in counts
    ]
    return "\n".join(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Score the compliance checks on the adversarial splits.")
    parser.add_argument("set", nargs="?", type=Path, help="one JSON-lines split (default: the dev split)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--report", action="store_true", help="every split: rules, default path, 5%% budget")
    mode.add_argument("--calibrate", action="store_true", help="the operating point, on development splits")
    mode.add_argument("--dump", type=Path, metavar="FILE", help="one system's flags on every item of --split")
    mode.add_argument("--paired", type=Path, nargs=2, metavar=("BEFORE", "AFTER"), help="compare two dumps")
    parser.add_argument(
        "--split",
        action="append",
        choices=SPLITS,
        help="a split to --dump (repeatable; default: the development splits)",
    )
    parser.add_argument(
        "--system", choices=[*SYSTEMS, *EXTRA_SYSTEMS], default="rules+learned", help="(--dump)"
    )
    parser.add_argument(
        "--encoder",
        choices=ENCODERS,
        default=FROZEN_ENCODER,
        help="the semantic layer's embeddings (--calibrate)",
    )
    return parser


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.set is not None and not args.set.is_file():
        parser.error(f"no such split file: {args.set}")
    if args.set is not None and (args.report or args.calibrate or args.dump or args.paired):
        parser.error(
            "a split file is scored alone: leave it out with --report, --calibrate, --dump or --paired"
        )
    if args.dump and not args.dump.parent.is_dir():
        parser.error(f"no such folder for the dump: {args.dump.parent}")
    for path in args.paired or ():
        if not path.is_file():
            parser.error(f"no such dump file: {path}")
    if (args.split or args.system != "rules+learned") and not args.dump:
        parser.error("--split and --system choose what --dump writes: give --dump FILE")
    if args.encoder != FROZEN_ENCODER and not args.calibrate:
        parser.error(f"--encoder {args.encoder} is measured with --calibrate only")


def main(argv: list[str] | None = None) -> None:
    """`python -m fincopilot.evals.compliance_adversarial [SET.jsonl | --report | --calibrate | --dump FILE
    [--split NAME ...] [--system NAME] | --paired BEFORE AFTER]`."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_usage(parser, args)
    if args.dump:
        written = dump(args.dump, tuple(args.split or DEVELOPMENT), args.system)
        print(f"{written} items of {args.system} written to {args.dump}")
    elif args.paired:
        before, after = (load_dump(path) for path in args.paired)
        print(paired_table(paired(before, after)) + "\n\n" + f1_table(before, after))
    elif args.report:
        only = ("rules", "rules+learned", "rules+n-gram+semantic@0.05")
        print(report({name: load_items(path) for name, path in SPLITS.items()}, only=only))
    elif args.calibrate:
        scored = calibrate(encoder=args.encoder)
        chosen = chosen_budget(scored, lambda budget: catches_issue_promises(budget, args.encoder))
        print(markdown([s for _, s in scored]))
        print(f"\nchosen budget for {args.encoder}: {chosen} (DEFAULT_BUDGET = {DEFAULT_BUDGET})")
    else:
        print(markdown(evaluate(load_items(args.set) if args.set else None)))


if __name__ == "__main__":
    run_main(main)
