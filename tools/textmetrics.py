"""Text-overlap metrics shared by skills' eval metrics and the arena: set P/R/F1, tokens, LCS, ROUGE-L."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


def prf(predicted: Iterable[str], gold: Iterable[str]) -> tuple[float, float, float]:
    """Set precision, recall, F1; both empty → (1, 1, 1)."""
    p, g = set(predicted), set(gold)
    if not p and not g:
        return 1.0, 1.0, 1.0
    tp = len(p & g)
    precision = tp / len(p) if p else 0.0
    recall = tp / len(g) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


_TOKEN = re.compile(r"[\u3400-\u9fff]|[A-Za-z]+|\d+(?:[.,]\d+)*%?")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and numbers; each CJK character is a token (Chinese has no spaces)."""
    return [t.lower() for t in _TOKEN.findall(text or "")]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, O(len(a)·len(b)) time and O(min) memory."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str, beta: float = 1.0) -> dict[str, float]:
    """ROUGE-L (Lin 2004): LCS-based precision, recall and F-measure over tokens."""
    c, r = tokenize(candidate), tokenize(reference)
    if not c or not r:
        return {"precision": 0.0, "recall": 0.0, "f": 0.0}
    lcs = lcs_length(c, r)
    p, rec = lcs / len(c), lcs / len(r)
    f = (1 + beta**2) * p * rec / (rec + beta**2 * p) if p and rec else 0.0
    return {"precision": p, "recall": rec, "f": f}
