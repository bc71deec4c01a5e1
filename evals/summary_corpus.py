"""The summarizer's fine-tuning corpus: generated research reports → faithful summaries, in splits.

Reports come from the domain generator (`tools.datagen`, four report families, each in English and
Chinese). The splits are **template-disjoint by family**, so a score on validation or test is a score on
report layouts the adapter never saw:

- `train`: the bond and equity families, minus every report the arena's held-out `report_summary` items
  name (so arena scores stay held out for the adapter too);
- `validation`: the money-market family (checkpoints and hyper-parameters are chosen here only);
- `test`: the structured-note family; `handwritten.jsonl` (written apart from the generator) is the
  second test set.

A target is built from the report text alone (`reference_summary`): the lead sentence and the most
informative other sentences, with product names shortened to their codes, plus up to three key figures
as 'label: value'. Every target passes the production checks (`check_claims` on each sentence and figure,
`rejection` on the whole) before it is written, so the adapter only learns summaries the gate keeps.

Run `python -m fincopilot.evals.summary_corpus` to rewrite `evals/sets/summary_corpus/{train,validation,test}.jsonl`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from fincopilot.agents._common import is_chinese, join_sentences, sentences
from fincopilot.agents.report_summary import LlmSummary, rejection, sentence_score
from fincopilot.evals.datasets import DATASET_DIR, load_items
from fincopilot.tools import datagen
from fincopilot.tools.claims import check_claims, read_claims
from fincopilot.tools.numbers import extract_numbers

OUT_DIR = DATASET_DIR / "summary_corpus"
SPLIT_OF_FAMILY = {"bond": "train", "equity": "train", "cash": "validation", "note": "test"}
MAX_SUMMARY_CHARS = {"en": 330, "zh": 130}  # a Chinese character costs the tokenizer 2-3 tokens
MAX_FIGURE_CHARS = 60

_NAMED_CODE = re.compile(r"(?:the )?(?:[A-Z0-9][\w&'/-]*\s+){1,8}\(([A-Z]{2,3}-\d{1,2})\)")
_NAMED_CODE_ZH = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,20}（([A-Z]{2,3}-\d{1,2})）")
_BOILERPLATE = re.compile(r"^(?:Risk level|风险等级)|past performance|过往|not a deposit|不等同于存款", re.I)
_LABEL_TAIL = re.compile(
    r"(?:\s+(?:was|were|is|are|of|at|to|by|stood|amounted|made up|accounted for|recorded|reached|"
    r"a|an|the|up|down|rose|fell|in|per year|CNY|USD|HKD|EUR)\b)+\s*$|(?:[为是达约占的：:，,\s]|每年)+$",
    re.I,
)
_LABEL_HEAD = re.compile(r"^(?:the|its|and|while|with|as of|a|an|fees:|费用方面)[\s，,]+", re.I)
_MINOR = re.compile(r"\bfees?\b|费率|费用", re.I)  # fees rarely change: the last thing a summary needs


def shorten_names(sentence: str) -> str:
    """'the China Blue Chip Equity Fund (EQ-10)' → 'EQ-10'; '中国蓝筹股票基金（EQ-10）' → 'EQ-10'."""
    return _NAMED_CODE_ZH.sub(r"\1", _NAMED_CODE.sub(r"\1", sentence)).replace("net asset value (NAV)", "NAV")


def _body_sentences(source: str) -> list[str]:
    """The report's sentences after its title line, without the risk boilerplate."""
    body = source.split("\n\n", 1)[-1]
    return [s for s in sentences(body) if not _BOILERPLATE.search(s) and extract_numbers(s)]


def _figure(clause: str) -> str | None:
    """'Annualized volatility over the past 12 months was 14.8%' → '...: 14.8%', when the label names the
    quantity (the claim checker then reads the same quantity from the figure as from the report)."""
    claims = [(m, a) for m, a in read_claims(clause) if a["quantity"] not in (None, "date") and m.start > 0]
    if not claims:
        return None
    m = claims[-1][0]  # the clause's last figure: earlier numbers belong to its label ("past 12 months")
    label = clause[: m.start]
    for _ in range(3):
        label = _LABEL_HEAD.sub("", _LABEL_TAIL.sub("", label.strip())).strip()
    sep = "：" if re.search(r"[\u4e00-\u9fff]", label) else ": "
    out = f"{label[:1].upper()}{label[1:]}{sep}{m.text}"
    named = read_claims(out)
    if len(out) > MAX_FIGURE_CHARS or len(label) < 2 or not named or named[0][1]["quantity"] is None:
        return None
    return out


def key_figures(picked: list[str], source: str, limit: int = 3) -> list[str]:
    """Up to `limit` checked 'label: value' figures from the picked sentences' clauses."""
    out: list[str] = []
    for sent in picked:
        for clause in re.split(r"[,;，；。]|\band\b|\bwhile\b", sent):
            fig = _figure(clause.strip(" ."))
            if fig and fig not in out and check_claims(fig, [source], check_degenerate=False).ok:
                out.append(fig)
            if len(out) >= limit:
                return out
    return out


def reference_summary(source: str) -> LlmSummary | None:
    """A faithful target summary of `source`, or None when no checked summary can be built."""
    sents = _body_sentences(source)
    if not sents:
        return None
    zh = is_chinese(source)
    budget = MAX_SUMMARY_CHARS["zh" if zh else "en"]
    ranked = sorted(
        range(1, len(sents)), key=lambda i: (bool(_MINOR.search(sents[i])), -sentence_score(sents[i]), i)
    )
    picked = [0]
    for i in ranked:
        trial = join_sentences([shorten_names(sents[j]) for j in sorted([*picked, i])], zh)
        if len(trial) <= budget:
            picked.append(i)
        if len(picked) == 3:
            break
    chosen = [shorten_names(sents[j]) for j in sorted(picked)]
    summary = join_sentences(chosen, zh)
    if len(summary) > budget or not check_claims(summary, [source]).ok or rejection(summary, source):
        return None
    return LlmSummary(summary=summary, key_figures=key_figures(chosen, source))


def _arena_heldout_reports() -> set[tuple[str, str | None]]:
    """(product, date) of the arena's held-out report_summary items; None date = the latest report."""
    return {(i.input["product"], i.input.get("date")) for i in load_items("report_summary", "heldout")}


def _family(code: str) -> str:
    return datagen.report_family(next(p for p in datagen.PRODUCTS if p.code == code))


def build() -> dict[str, list[dict[str, Any]]]:
    """The split → items mapping (see the module docstring)."""
    reports = datagen.reports()
    latest = {}
    for r in reports:
        latest[r["product_code"]] = max(latest.get(r["product_code"], r["report_date"]), r["report_date"])
    excluded = _arena_heldout_reports()
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for r in reports:
        code, when = r["product_code"], r["report_date"]
        split = SPLIT_OF_FAMILY[_family(code)]
        named = {(code, when.isoformat())} | ({(code, None)} if when == latest[code] else set())
        if split == "train" and named & excluded:
            continue
        source = f"{r['title']}\n\n{r['body']}"
        target = reference_summary(source)
        if target is None:
            continue
        splits[split].append(
            {
                "id": f"sum-{r['report_id']}",
                "skill": "report_summary",
                "split": split,
                "input": {"text": source, "product": code},
                "reference": target.model_dump(),
                "metadata": {"lang": r["language"], "family": _family(code), "report_id": r["report_id"]},
            }
        )
    return splits


def write(out_dir: Path = OUT_DIR) -> dict[str, Counter[str]]:
    """Write the splits as JSONL; returns the language counts per split."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, items in build().items():
        lines = "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in items)
        (out_dir / f"{split}.jsonl").write_text(lines, encoding="utf-8")
        counts[split] = Counter(i["metadata"]["lang"] for i in items)
    return counts


if __name__ == "__main__":
    for name, c in write().items():
        print(name, dict(c))
