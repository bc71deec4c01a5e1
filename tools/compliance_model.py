"""The learned compliance check: one char n-gram logistic regression per category, beside the rules.

Trained on `tools.compliance_corpus` (generated, augmented, EN + ZH) over the normalized view of the text
(`tools.textnorm`). The regularisation strength is chosen on the validation families, and each category's
decision threshold is calibrated there too (then the model is refit on train + validation with that C): the lowest threshold whose false-alarm rate on validation is at
most `MAX_VAL_FPR` (so recall is as high as that budget allows). Negation awareness comes from the corpus:
every promise has negated twins ("not guaranteed", 不保本) labelled clean.

Guaranteed returns, misleading claims, suitability claims and personal data are judged per sentence and per
pair of adjacent sentences (a promise split across two sentences); a missing risk disclosure is judged on the
whole text. Training is deterministic and takes a few seconds; the fitted model is cached under
`cache_dir()` keyed by the corpus version and scikit-learn version, so it trains once per machine.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fincopilot.log import get_logger
from fincopilot.tools import compliance_corpus as corpus
from fincopilot.tools import compliance_paraphrases as paraphrases
from fincopilot.tools import datagen
from fincopilot.tools.textnorm import normalize

log = get_logger(__name__)

CORPUS_VERSION = "17"  # 12: other writers' texts, the product's own reports and texts as clean; 13: written2;
# 14: written3; 15: written4; 16: written5 (contrastive twins); 17: written6 (twins, hard clean texts)
MAX_VAL_FPR = 0.05  # the false-alarm budget
C_GRID = (1.0, 4.0, 16.0)
MIN_THRESHOLD = 0.5  # never flag below even odds (class weights are balanced)
_UNIT = re.compile(
    r".+?(?:[.!?;](?=\s|$)|[。！？；]|\n|$)", re.DOTALL
)  # decimal points do not end a sentence


@dataclass(frozen=True)
class Flag:
    """One learned flag: category, probability, and the span of the normalized text it was raised on."""

    category: str
    probability: float
    start: int
    end: int


@dataclass
class CategoryModel:
    pipeline: object
    threshold: float
    c: float
    val_f1: float
    val_fpr: float
    val_recall: float


@dataclass
class ComplianceModel:
    models: dict[str, CategoryModel] = field(default_factory=dict)

    def probabilities(self, texts: list[str], category: str) -> list[float]:
        """P(category) for normalized texts."""
        marked = [mark_negation(t) for t in texts]
        return list(self.models[category].pipeline.predict_proba(marked)[:, 1])  # type: ignore[attr-defined]

    def flags(self, text: str) -> list[Flag]:
        """Categories whose probability reaches the calibrated threshold, on the normalized `text`."""
        view = normalize(text).text
        spans = units(view)
        out: list[Flag] = []
        for category in corpus.SENTENCE_CATEGORIES:
            if not spans:
                continue
            probs = self.probabilities([view[s:e] for s, e in spans], category)
            best = max(range(len(spans)), key=lambda i: probs[i])
            if probs[best] >= self.models[category].threshold:
                out.append(Flag(category, float(probs[best]), *spans[best]))
        for category in corpus.TEXT_CATEGORIES:
            prob = self.probabilities([view], category)[0]
            if prob >= self.models[category].threshold:
                out.append(Flag(category, float(prob), 0, len(view)))
        return out


_EN_NEG = re.compile(
    r"\b(not|no|never|cannot|can't|won't|don't|doesn't|isn't|aren't|nobody|none|without|nor)\b"
    r"((?:\s+[a-z0-9%.']+){1,3})",
    re.IGNORECASE,
)
_ZH_NEG = re.compile(r"(并非|不是|没有|不|没|无|非|未)([\u4e00-\u9fff]{1,3})")


def mark_negation(view: str) -> str:
    """Mark the words a negation governs ("not NEG_guaranteed", 不¬保¬本), so a negated promise has features of
    its own instead of sharing every n-gram with the promise (classic negation tagging, Das & Chen 2001)."""
    view = _EN_NEG.sub(lambda m: m.group(1) + re.sub(r"(\s+)", r"\1NEG_", m.group(2)), view)
    return _ZH_NEG.sub(lambda m: m.group(1) + "".join("¬" + ch for ch in m.group(2)), view)


def _sentences(view: str) -> list[tuple[int, int]]:
    spans = []
    for m in _UNIT.finditer(view):
        s, e = m.start(), m.end()
        while s < e and view[s].isspace():
            s += 1
        if e > s:
            spans.append((s, e))
    return spans


def units(view: str) -> list[tuple[int, int]]:
    """Each sentence, and each pair of adjacent sentences."""
    sents = _sentences(view)
    return sents + [(a[0], b[1]) for a, b in itertools.pairwise(sents)]


def ngram_pipeline(c: float):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
        LogisticRegression(C=c, max_iter=2000, class_weight="balanced"),
    )


def calibrate(
    probs: list[float], labels: list[int], budget: float = MAX_VAL_FPR
) -> tuple[float, float, float, float]:
    """(threshold, f1, fpr, recall) on validation: the lowest threshold with false-alarm rate <= `budget`."""
    neg = sorted((p for p, y in zip(probs, labels) if not y), reverse=True)
    allowed = int(budget * len(neg))  # at most this many validation negatives may reach the threshold
    threshold = max(neg[allowed] + 1e-6 if allowed < len(neg) else 0.0, MIN_THRESHOLD)
    pred = [p >= threshold for p in probs]
    tp = sum(1 for p, y in zip(pred, labels) if p and y)
    fp = sum(1 for p, y in zip(pred, labels) if p and not y)
    fn = sum(1 for p, y in zip(pred, labels) if not p and y)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return threshold, f1, fp / max(1, len(neg)), tp / max(1, tp + fn)


def train(seed: int = 7) -> ComplianceModel:
    """Fit every category on the train families; choose C and the threshold on the validation families."""
    examples = [_normalized(e) for e in corpus.generate(seed)]
    train_set = [e for e in examples if corpus.split_of(e) == "train"]
    val_set = [e for e in examples if corpus.split_of(e) == "validation"]
    model = ComplianceModel()
    for category in (*corpus.SENTENCE_CATEGORIES, *corpus.TEXT_CATEGORIES):
        x_tr, y_tr = [e.text for e in train_set], [int(category in e.labels) for e in train_set]
        x_va, y_va = [e.text for e in val_set], [int(category in e.labels) for e in val_set]
        best: CategoryModel | None = None
        for c in C_GRID:
            pipe = ngram_pipeline(c).fit(x_tr, y_tr)
            threshold, f1, fpr, recall = calibrate(list(pipe.predict_proba(x_va)[:, 1]), y_va)
            if best is None or f1 > best.val_f1:
                best = CategoryModel(pipe, threshold, c, f1, fpr, recall)
        assert best is not None
        # refit on train + validation with the chosen C; the validation threshold is kept (conservative:
        # the refit model has seen the validation templates' negated twins too)
        best.pipeline = ngram_pipeline(best.c).fit(x_tr + x_va, y_tr + y_va)
        model.models[category] = best
        log.info(
            "compliance_model_trained",
            category=category,
            c=best.c,
            threshold=round(best.threshold, 3),
            val_f1=round(best.val_f1, 3),
            val_fpr=round(best.val_fpr, 3),
        )
    return model


def _normalized(e: corpus.Example) -> corpus.Example:
    return corpus.Example(mark_negation(normalize(e.text).text), e.labels, e.family, e.lang)


def cache_path() -> Path:
    import sklearn

    key = hashlib.sha256(
        f"{CORPUS_VERSION}|{datagen.GENERATOR_VERSION}|{sklearn.__version__}|{Path(corpus.__file__).read_bytes()!r}"
        f"|{Path(paraphrases.__file__).read_bytes()!r}|{[p.read_bytes() for p in corpus.WRITTEN]!r}".encode()
    ).hexdigest()[:12]
    return cache_dir() / f"compliance-clf-{key}.pkl"


def cache_dir() -> Path:
    """Where fitted artifacts live: `$FINCOPILOT_CACHE`, else `$XDG_CACHE_HOME/fincopilot` (~/.cache/fincopilot).

    Apart from `$FINCOPILOT_HOME` on purpose: the model depends only on the code, not on a user's state.
    """
    if os.environ.get("FINCOPILOT_CACHE"):
        return Path(os.environ["FINCOPILOT_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "fincopilot"


@lru_cache(maxsize=1)
def load_model() -> ComplianceModel:
    """The fitted model: from the cache, or trained now (a few seconds, once per machine) with a progress line."""
    path = cache_path()
    if path.exists():
        try:
            with path.open("rb") as f:
                return pickle.load(f)  # our own cache file
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
            log.warning("compliance_model_cache_unreadable", path=str(path), error=str(err))
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("training the learned compliance check (first use, a few seconds)…"):
        model = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent first uses each write their own file
    with tmp.open("wb") as f:
        pickle.dump(model, f)
    tmp.replace(path)
    console.print(f"learned compliance check trained and cached at {path}", style="dim")
    return model
