"""Convert a peft LoRA adapter (trained by `fincopilot finetune` on a GGUF base) into a GGUF LoRA file.

llama.cpp applies GGUF LoRA adapters at run time, so the `llamacpp` backend serves a fine-tuned skill
on the same fast path as the base model: the arena and the router compare what production runs.

The format is the one llama.cpp's `convert_lora_to_gguf.py` writes: `general.type = "adapter"`,
`adapter.type = "lora"`, `adapter.lora.alpha`, and per adapted weight `<gguf name>.lora_a` (rank x in)
and `.lora_b` (out x rank). llama.cpp stores llama-family q/k projections with their rows permuted for
its rotary embedding (transformers undoes that when it loads a GGUF), so `lora_b` of q/k is permuted
the same way here. Supported: llama-architecture bases (SmolLM2, Llama); others raise ConfigError.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from fincopilot.errors import ConfigError

# peft module name → llama.cpp tensor name (llama architecture)
_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(.+)\.lora_([AB])(?:\.default)?\.weight$")


def _permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary row order for a q/k projection's output rows (as convert_hf_to_gguf does)."""
    return (
        rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:])
        .swapaxes(1, 2)
        .reshape(rows.shape)
    )


def _base_heads(base_gguf: str) -> tuple[str, int, int]:
    import gguf

    fields = gguf.GGUFReader(base_gguf).fields
    arch = fields["general.architecture"].contents()
    if arch != "llama":
        raise ConfigError(f"converting LoRA adapters to GGUF supports llama-architecture bases, not {arch!r}")
    return (
        arch,
        int(fields[f"{arch}.attention.head_count"].contents()),
        int(fields[f"{arch}.attention.head_count_kv"].contents()),
    )


def _lora_tensors(folder: Path, n_head: int, n_head_kv: int) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise ConfigError(f"no adapter_model.safetensors in {folder} (is it a peft LoRA folder?)")
    out: dict[str, np.ndarray] = {}
    for key, value in load_file(str(weights)).items():
        match = _KEY.search(key)
        if not match or match.group(2) not in _MODULES:
            raise ConfigError(f"adapter tensor {key!r} has no llama.cpp counterpart; cannot convert {folder}")
        layer, module, ab = match.groups()
        tensor = value.astype(np.float16 if value.dtype == np.float16 else np.float32)  # f16 peft → f16 GGUF
        if ab == "B" and module in ("self_attn.q_proj", "self_attn.k_proj"):
            tensor = _permute(tensor, n_head if module == "self_attn.q_proj" else n_head_kv)
        out[f"blk.{layer}.{_MODULES[module]}.weight.lora_{ab.lower()}"] = np.ascontiguousarray(tensor)
    return out


def convert_peft_to_gguf(folder: Path, base_gguf: str, out: Path | None = None) -> Path:
    """Write `folder/adapter.gguf` (or `out`) from the peft adapter in `folder`; return its path."""
    import gguf

    folder = Path(folder)
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read {folder / 'adapter_config.json'}: {err}") from None
    if config.get("use_rslora") or config.get("use_dora"):
        raise ConfigError(f"adapter {folder} uses rsLoRA/DoRA, which llama.cpp's LoRA format cannot express")
    arch, n_head, n_head_kv = _base_heads(base_gguf)
    tensors = _lora_tensors(folder, n_head, n_head_kv)
    out = Path(out) if out is not None else folder / "adapter.gguf"
    tmp = out.with_suffix(".gguf.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config.get("lora_alpha", config.get("r", 8))))
    for name, tensor in sorted(tensors.items()):
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)  # atomic: a half-written adapter is never picked up
    return out
