"""`fincopilot finetune`: train a LoRA adapter for one skill's worker model, evaluate it, register it.

    fincopilot finetune --skill planner --base smollm2-135m

1. takes the skill's task and corpus (built by `fincopilot.evals.corpus`: train split, domain data,
   teacher labels, or `--data`);
2. trains a peft LoRA adapter on a private copy of the base model (`load_base(fresh=True)`),
   loss on the completion tokens only, AdamW with warm-up and linear decay, deterministic seeds;
   Rich progress shows step and loss; a checkpoint (adapter, optimizer, scheduler, RNG state) is
   written every `save_every` steps and `--resume` continues from the last one;
3. scores base and adapter on the skill's **held-out** items through the real transformers backend
   (constrained decoding, exactly as in production);
4. writes `adapter_model.safetensors` + `adapter_config.json` (peft), `card.json`, `README.md`
   (model card) and `loss.png` to `home()/adapters/<base>+<skill>-lora/` (or `--out`).

The folder's card makes the adapter a backend, `<base>+<skill>-lora`, that the router and arena use
like any other (see `fincopilot.models.adapter_card.adapter_backends`).
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fincopilot.config import BackendSpec, adapters_dir, settings
from fincopilot.errors import BackendError, ConfigError, InputError
from fincopilot.log import get_logger
from fincopilot.models.adapter_card import (
    CARD,
    AdapterCard,
    HeldoutScores,
    Hyperparameters,
    remove_card,
    write_card,
)
from fincopilot.models.backends.transformers import (
    chat_prompt,
    check_adapter_base,
    load_base,
    resolve_model_ref,
)
from fincopilot.models.registry import build_backend
from fincopilot.models.trainset import Corpus, Example, SkillTask, check_targets

log = get_logger(__name__)


class FinetuneOptions(BaseModel):
    """Everything one `finetune` run needs."""

    skill: str
    base: str
    data: Path | None = None
    teacher: str | None = None
    out: Path | None = None
    resume: bool = True
    evaluate: bool = True
    eval_limit: int | None = Field(None, ge=1, description="score N evenly spaced held-out items")
    eval_batch_size: int = Field(4, ge=1)
    keep_checkpoints: bool = Field(False, description="keep every checkpoint (default: the last two)")
    hyper: Hyperparameters = Field(default_factory=Hyperparameters)


class FinetuneResult(BaseModel):
    out: Path
    card: AdapterCard
    resumed_from: int | None = None


def adapter_backend_id(base: str, skill: str) -> str:
    """`smollm2-135m` + `planner` → `smollm2-135m+planner-lora`."""
    return f"{base}+{skill}-lora"


# --- bases and adapters --------------------------------------------------------------------------


def resolve_base(base: str) -> BackendSpec:
    """The base backend's spec; it must exist, be a transformers backend and carry no adapter."""
    spec = settings().backend(base)  # UnknownBackendError names the configured ids
    if spec.kind not in ("transformers", "llamacpp"):
        raise ConfigError(
            f"backend {base!r} is a {spec.kind!r} backend; LoRA fine-tuning needs a local 'transformers' or "
            f"'llamacpp' base (its weights are trained here, through transformers)"
        )
    if spec.adapter is not None:
        raise ConfigError(
            f"backend {base!r} already carries an adapter ({spec.adapter}); fine-tune its base instead"
        )
    return spec


# --- training ------------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _tokenize(examples: Sequence[Example], tokenizer: Any, max_len: int) -> list[tuple[list[int], int]]:
    """(ids, prompt_length) per example: the production chat prompt, then the completion and EOS."""
    rows = []
    for ex in examples:
        prompt = tokenizer(chat_prompt(tokenizer, ex.messages), add_special_tokens=False)["input_ids"]
        completion = tokenizer(ex.completion, add_special_tokens=False)["input_ids"] + [
            tokenizer.eos_token_id
        ]
        if len(prompt) + len(completion) > max_len:
            raise InputError(
                f"example {ex.id!r} is {len(prompt) + len(completion)} tokens, over max_seq_len={max_len}; "
                f"raise --max-seq-len or shorten it"
            )
        rows.append((prompt + completion, len(prompt)))
    return rows


def _collate(rows: Sequence[tuple[list[int], int]], pad_id: int) -> dict[str, Any]:
    """Right-padded batch; labels are -100 on the prompt and padding, so only completions are learned."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (ids, prompt_len) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        labels[i, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def shared_prefix_len(rows: Sequence[tuple[list[int], int]], minimum: int = 32) -> int:
    """Tokens every example starts with (the system prompt and few-shot turns), or 0 if too few to matter.

    Capped one short of the shortest prompt, so each example keeps the position that predicts its
    first completion token.
    """
    first = rows[0][0]
    n = min(prompt_len for _, prompt_len in rows) - 1
    for ids, _ in rows[1:]:
        n = min(n, len(ids))
        n = next((i for i in range(n) if ids[i] != first[i]), n)
    return n if n >= minimum else 0


def batch_loss(model: Any, rows: Sequence[tuple[list[int], int]], pad_id: int, prefix_len: int = 0) -> Any:
    """Mean loss over the completion tokens of `rows`.

    With `prefix_len`, the shared prefix runs once (no grad) and its key/value cache is reused by
    every row: the loss value is exactly the full forward's, and a step costs the suffixes plus one
    prefix pass instead of batch x (prefix + suffix). The gradient does not flow into the prefix's
    keys and values; the adapter weights still act on the prefix in this forward and at inference.
    Why: the planner prompt is ~490 shared tokens and ~130 per-example ones, so this is ~3-4x
    cheaper on CPU.
    """
    import torch

    if not prefix_len:
        return model(**_collate(rows, pad_id)).loss
    from transformers import DynamicCache

    prefix = torch.tensor([rows[0][0][:prefix_len]], dtype=torch.long)
    cache = DynamicCache()
    with torch.no_grad():
        model(input_ids=prefix, past_key_values=cache, use_cache=True)
    cache.batch_repeat_interleave(len(rows))
    batch = _collate([(ids[prefix_len:], prompt_len - prefix_len) for ids, prompt_len in rows], pad_id)
    attention = torch.cat(
        [torch.ones((len(rows), prefix_len), dtype=torch.long), batch["attention_mask"]], dim=1
    )
    return model(
        input_ids=batch["input_ids"],
        attention_mask=attention,
        labels=batch["labels"],
        past_key_values=cache,
        use_cache=True,
    ).loss


def _batches_for_epoch(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)  # same order on resume
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def _checkpoints(out: Path) -> list[Path]:
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    return sorted((p for p in root.glob("step-*") if (p / "state.json").is_file()), key=lambda p: p.name)


def _run_fingerprint(opts: FinetuneOptions, spec: BackendSpec, corpus: Corpus) -> dict[str, Any]:
    hp = opts.hyper.model_dump(exclude={"max_steps", "save_every", "epochs"})
    return {"base_model": spec.model, "skill": opts.skill, "data_hash": corpus.data_hash, "hyper": hp}


class _Training:
    """One training run's model, optimizer, schedule and progress (step, losses, seconds)."""

    def __init__(self, opts: FinetuneOptions, spec: BackendSpec, corpus: Corpus, task: SkillTask, out: Path):
        self.opts, self.hp, self.out = opts, opts.hyper, out
        self.fingerprint = _run_fingerprint(opts, spec, corpus)
        model, tokenizer = load_base(
            spec.model, fresh=True
        )  # a private copy: the shared base stays untouched
        self.rows = _tokenize(corpus.examples, tokenizer, self.hp.max_seq_len)
        check_targets(corpus.examples, task, tokenizer, model.config.vocab_size)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.model = _lora_model(model, spec, self.hp)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.steps_per_epoch = math.ceil(len(self.rows) / self.hp.batch_size)
        # the schedule spans the epochs; --max-steps only stops early, so a run stopped at step k and resumed
        # with a larger --max-steps follows exactly the same learning-rate curve as an uninterrupted one
        self.scheduled = math.ceil(self.steps_per_epoch * self.hp.epochs)
        self.total = (
            min(self.scheduled, self.hp.max_steps) if self.hp.max_steps is not None else self.scheduled
        )
        self.optimizer, self.scheduler = self._optimizer()
        self.step, self.losses, self.seconds = 0, [], 0.0
        self.prefix_len = shared_prefix_len(self.rows) if self.hp.shared_prefix else 0

    def _optimizer(self) -> tuple[Any, Any]:
        import torch

        hp, scheduled = self.hp, self.scheduled
        optimizer = torch.optim.AdamW(self.params, lr=hp.learning_rate, weight_decay=hp.weight_decay)

        def lr_lambda(step: int) -> float:
            if step < hp.warmup_steps:
                return (step + 1) / (hp.warmup_steps + 1)
            return max(0.05, 1.0 - (step - hp.warmup_steps) / max(1, scheduled - hp.warmup_steps))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    def restore(self, checkpoint: Path) -> None:
        """Continue from `checkpoint`: adapter weights, optimizer, schedule, RNG state and progress."""
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(self.model, load_file(str(checkpoint / "adapter_model.safetensors")))
        blob = torch.load(checkpoint / "optimizer.pt", weights_only=False)
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])
        torch.set_rng_state(blob["torch_rng"])
        state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
        self.step, self.losses, self.seconds = (
            state["step"],
            [tuple(x) for x in state["losses"]],
            state["seconds"],
        )
        log.info("finetune_resume", checkpoint=str(checkpoint), step=self.step)

    def save_checkpoint(self) -> None:
        """Adapter weights, optimizer state and progress under `checkpoints/step-N`; keeps the last two (every
        one with `keep_checkpoints`, to choose a step on validation and `export_checkpoint` it)."""
        import torch
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        folder = self.out / "checkpoints" / f"step-{self.step:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        weights = get_peft_model_state_dict(self.model, save_embedding_layers=False)
        save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / "adapter_model.safetensors"))
        blob = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        torch.save(blob, folder / "optimizer.pt")
        state = {
            "step": self.step,
            "losses": self.losses,
            "seconds": self.seconds,
            "total": self.total,
            "fingerprint": self.fingerprint,
        }
        tmp = (
            folder / "state.json.tmp"
        )  # written last and renamed: a half-written checkpoint is never "latest"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(folder / "state.json")
        for old in [] if self.opts.keep_checkpoints else _checkpoints(self.out)[:-2]:
            shutil.rmtree(old, ignore_errors=True)

    def one_step(self) -> float:
        """One optimizer step on the next batch; returns its loss."""
        import torch

        epoch, index = divmod(self.step, self.steps_per_epoch)
        batch_ids = _batches_for_epoch(len(self.rows), self.hp.batch_size, self.hp.seed, epoch)[index]
        loss = batch_loss(self.model, [self.rows[i] for i in batch_ids], self.pad_id, self.prefix_len)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise BackendError(f"training diverged at step {self.step} (loss {value}); lower --lr")
        self.losses.append((self.step, round(value, 5)))
        log.info("finetune_step", step=self.step, total=self.total, loss=round(value, 4))
        return value

    def run(self, progress: bool) -> None:
        """Train to the last step, checkpointing every `save_every` steps, with a Rich progress bar."""
        log.info(
            "finetune_plan",
            examples=len(self.rows),
            steps=self.total,
            shared_prefix_tokens=self.prefix_len,
            mean_tokens=round(sum(len(r[0]) for r in self.rows) / len(self.rows)),
        )
        self.model.train()
        started = time.perf_counter()
        last = f"{self.losses[-1][1]:.3f}" if self.losses else "-"
        with Progress(*_PROGRESS_COLUMNS, disable=not progress, transient=False) as bar:
            bar_id = bar.add_task(
                "train", total=self.total, completed=self.step, skill=self.opts.skill, loss=last
            )
            while self.step < self.total:
                value = self.one_step()
                bar.update(bar_id, completed=self.step, loss=f"{value:.3f}")
                if self.step % self.hp.save_every == 0 or self.step == self.total:
                    self.seconds, started = self.seconds + time.perf_counter() - started, time.perf_counter()
                    self.save_checkpoint()
        self.seconds += time.perf_counter() - started

    def save(self, spec: BackendSpec) -> None:
        """The finished adapter (peft files) in `out`."""
        # peft records the base's local folder; record the config `model` string instead, so the card and the
        # adapter_config both name the base the way the config does (checked by check_adapter_base)
        self.model.peft_config["default"].base_model_name_or_path = spec.model
        with (
            warnings.catch_warnings()
        ):  # peft looks for a config.json next to a GGUF base and warns it has none
            warnings.filterwarnings("ignore", message="Could not find a config file")
            self.model.save_pretrained(str(self.out), save_embedding_layers=False)


_PROGRESS_COLUMNS = (
    TextColumn("[bold]finetune {task.fields[skill]}"),
    BarColumn(),
    MofNCompleteColumn(),
    TextColumn("step loss {task.fields[loss]}"),
    TimeElapsedColumn(),
)


def _lora_model(model: Any, spec: BackendSpec, hp: Hyperparameters) -> Any:
    from peft import LoraConfig, get_peft_model

    n_layers = model.config.num_hidden_layers
    layers = list(range(max(0, n_layers - hp.lora_layers), n_layers)) if hp.lora_layers else None
    lora = LoraConfig(
        r=hp.rank,
        lora_alpha=hp.alpha,
        lora_dropout=hp.dropout,
        target_modules=hp.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
        layers_to_transform=layers,
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as err:
        raise ConfigError(f"cannot put LoRA on {spec.model!r}: {err}") from None


def _resume_point(opts: FinetuneOptions, out: Path, fingerprint: dict[str, Any]) -> Path | None:
    """The last checkpoint to continue from, or None (old checkpoints removed under --no-resume)."""
    existing = _checkpoints(out)
    if existing and not opts.resume:
        shutil.rmtree(out / "checkpoints")
        return None
    if not existing:
        return None
    state = json.loads((existing[-1] / "state.json").read_text(encoding="utf-8"))
    if state.get("fingerprint") != fingerprint:
        changed = [k for k in fingerprint if state.get("fingerprint", {}).get(k) != fingerprint[k]]
        raise InputError(
            f"the checkpoint in {existing[-1]} is from a different run (changed: {', '.join(changed)}); "
            f"pass --no-resume to start over, or another --out"
        )
    return existing[-1]


def train_adapter(
    opts: FinetuneOptions,
    spec: BackendSpec,
    corpus: Corpus,
    out: Path,
    *,
    task: SkillTask,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume) the LoRA adapter and save it to `out`; returns the training record."""
    out.mkdir(parents=True, exist_ok=True)
    resume_from = _resume_point(opts, out, _run_fingerprint(opts, spec, corpus))
    _seed_everything(opts.hyper.seed)
    warnings.filterwarnings(
        "ignore", message=".*is_gradient_checkpointing.*"
    )  # transformers 5 deprecation noise
    run = _Training(opts, spec, corpus, task, out)
    if resume_from is not None:
        run.restore(resume_from)
    resumed_step = run.step if resume_from is not None else None
    run.run(progress)
    run.save(spec)
    return {
        "steps": run.step,
        "epochs_done": round(run.step / run.steps_per_epoch, 3),
        "seconds": round(run.seconds, 1),
        "losses": run.losses,
        "resumed_from": resumed_step,
    }


# --- serving on llama.cpp ------------------------------------------------------------------------


def export_gguf(adapter: Path, spec: BackendSpec, converter: Path, *, outtype: str = "f16") -> Path:
    """Convert the peft adapter in `adapter` to `adapter/adapter.gguf` for the llama.cpp backend.

    `converter` is llama.cpp's `convert_lora_to_gguf.py` (it ships in llama.cpp's sources, e.g. in the
    llama-cpp-python sdist under `vendor/llama.cpp/`). It needs only the base model's config, which is
    read from the base GGUF's metadata and written to a temporary folder: no hub access.
    """
    import subprocess
    import sys
    import tempfile

    from transformers import AutoConfig

    converter = Path(converter)
    if not converter.is_file():
        raise ConfigError(
            f"llama.cpp converter not found: {converter} (convert_lora_to_gguf.py from llama.cpp)"
        )
    folder, gguf = resolve_model_ref(spec.model)
    out = Path(adapter) / "adapter.gguf"
    with tempfile.TemporaryDirectory() as base_dir:
        config = AutoConfig.from_pretrained(folder, gguf_file=gguf)
        if not getattr(
            config, "architectures", None
        ):  # GGUF metadata has the type, the converter wants the class
            from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

            config.architectures = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
        config.save_pretrained(base_dir)
        done = subprocess.run(
            [
                sys.executable,
                str(converter),
                str(adapter),
                "--base",
                base_dir,
                "--outfile",
                str(out),
                "--outtype",
                outtype,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0 or not out.is_file():
        raise BackendError(f"convert_lora_to_gguf failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    log.info("adapter_gguf", out=str(out), bytes=out.stat().st_size)
    return out


# --- evaluation ----------------------------------------------------------------------------------


def _outputs(
    backend: Any, task: SkillTask, items: Sequence[Any], batch_size: int, advance: Any = lambda n: None
) -> list[BaseModel | None]:
    """Parsed outputs per item through the backend's constrained decoding; None where it failed."""
    schema = task.schema()
    out: list[BaseModel | None] = []
    for i in range(0, len(items), batch_size):
        if i:
            advance(batch_size)
        chunk = items[i : i + batch_size]
        prompts = [task.prompt(item.input) for item in chunk]
        try:
            out += [
                c.parsed for c in backend.complete_batch(prompts, schema=schema, max_tokens=task.max_tokens)
            ]
        except BackendError:  # one bad row fails the batch: retry one by one
            for p in prompts:
                try:
                    out.append(backend.complete(p, schema=schema, max_tokens=task.max_tokens).parsed)
                except BackendError as err:
                    log.warning("heldout_item_failed", backend=backend.id, error=str(err)[:200])
                    out.append(None)
    return out


def evaluate_heldout(
    task: SkillTask,
    backends: Sequence[Any],
    *,
    items: Sequence[Any],
    limit: int | None = None,
    batch_size: int = 4,
    progress: bool = True,
    dataset_version: str | None = None,
) -> HeldoutScores:
    """Score each backend on the skill's held-out `items` with the task's metrics."""
    items = list(items)
    if limit and limit < len(items):
        # evenly spaced, so a limited run still covers every kind of item (the files group them by kind)
        items = [items[(k * len(items)) // limit] for k in range(limit)]
    if not items:
        raise InputError(f"skill {task.skill!r} has no held-out items to evaluate on")
    started = time.perf_counter()
    scores: dict[str, dict[str, float]] = {}
    with Progress(disable=not progress) as bar:
        tid = bar.add_task(f"held-out {task.skill}", total=len(backends) * len(items))
        for n, backend in enumerate(backends, start=1):
            outputs = _outputs(backend, task, items, batch_size, lambda k: bar.advance(tid, k))
            scores[backend.id] = {k: round(v, 4) for k, v in task.score(items, outputs).items()}
            bar.update(tid, completed=n * len(items))
    return HeldoutScores(
        items=len(items),
        dataset_version=dataset_version,
        headline=task.headline,
        scores=scores,
        seconds=round(time.perf_counter() - started, 1),
    )


# --- card ----------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("fincopilot", "torch", "transformers", "peft"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def plot_loss(losses: Sequence[tuple[int, float]], path: Path, title: str) -> None:
    """The training loss curve as a PNG (matplotlib, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    if losses:
        xs, ys = zip(*losses)
        ax.plot(xs, ys, marker="." if len(xs) < 60 else None, linewidth=1.2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def scores_table(heldout: HeldoutScores) -> str:
    """Markdown table: one row per backend, one column per metric."""
    metrics = list(next(iter(heldout.scores.values())).keys())
    lines = ["| backend | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    for backend, row in heldout.scores.items():
        lines.append(f"| {backend} | " + " | ".join(f"{row[m]:.3f}" for m in metrics) + " |")
    return "\n".join(lines)


def model_card(card: AdapterCard) -> str:
    """README.md for the adapter folder (Hugging Face model-card layout)."""
    hp = card.hyperparameters
    held = card.heldout
    lines = [
        "---",
        f"base_model: {card.base_model}",
        "library_name: peft",
        "tags: [lora, fincopilot, " + card.skill + "]",
        "---",
        "",
        f"# {card.backend_id}",
        "",
        (
            f"A LoRA adapter for FinCopilot's `{card.skill}` skill on base backend `{card.base_backend}` "
            f"(`{card.base_model}`), trained by `fincopilot finetune`. It registers as backend "
            f"`{card.backend_id}` when this folder sits in `$FINCOPILOT_HOME/adapters/`."
        ),
        "",
        "## Training data",
        f"- {card.examples} examples ({', '.join(f'{k}: {v}' for k, v in card.corpus_sources.items())}), "
        f"data hash `{card.data_hash}`"
        + (f", eval-set version `{card.dataset_version}`" if card.dataset_version else ""),
        "- prompts are the production prompts of the skill; targets are the exact JSON the constrained decoder emits",
        "",
        "## Hyperparameters",
        f"- LoRA rank {hp.rank}, alpha {hp.alpha}, dropout {hp.dropout}, modules {', '.join(hp.target_modules)}"
        + (f", top {hp.lora_layers} layers" if hp.lora_layers else ", all layers"),
        (
            f"- AdamW lr {hp.learning_rate}, weight decay {hp.weight_decay}, warm-up {hp.warmup_steps} steps, "
            f"linear decay; batch {hp.batch_size}; max sequence {hp.max_seq_len}; seed {hp.seed}"
        ),
        (
            f"- {card.steps} steps ({card.epochs_done} epochs) in {card.train_seconds:.0f} s; final loss "
            f"{card.final_loss if card.final_loss is not None else '-'}"
        ),
        "",
        "![training loss](loss.png)",
        "",
        "## Held-out scores",
    ]
    if held is None:
        lines.append("Not evaluated (run with evaluation on, or use `fincopilot arena run --split heldout`).")
    else:
        lines += [
            (
                f"{held.items} held-out items of the `{card.skill}` eval set, constrained decoding, "
                f"greedy ({held.seconds:.0f} s). Headline metric: `{held.headline}`."
            ),
            "",
            scores_table(held),
        ]
    lines += ["", "## Reproduce", "", "```", card.command, "```", ""]
    return "\n".join(lines)


# --- the whole step ------------------------------------------------------------------------------


def finetune(
    opts: FinetuneOptions,
    *,
    task: SkillTask,
    corpus: Corpus,
    heldout: Sequence[Any] = (),
    command: str | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """`corpus` → LoRA training → scores on the `heldout` items → adapter folder with card.

    `task` says how the skill is prompted and scored; the corpus and the held-out items are built by the
    caller (`fincopilot.evals.corpus`). See the module docstring.
    """
    spec = resolve_base(opts.base)
    backend_id = adapter_backend_id(opts.base, opts.skill)
    out = Path(opts.out) if opts.out is not None else adapters_dir() / backend_id
    log.info(
        "finetune_start",
        skill=opts.skill,
        base=opts.base,
        examples=len(corpus.examples),
        data_hash=corpus.data_hash,
        out=str(out),
    )
    remove_card(out)  # an unfinished adapter must not register as a backend
    record = train_adapter(opts, spec, corpus, out, task=task, progress=progress)
    plot_loss(record["losses"], out / "loss.png", f"{backend_id}: training loss")
    check_adapter_base(out, spec)
    scores = _score_adapter(opts, spec, out, task, heldout, corpus, progress) if opts.evaluate else None
    card = _card(opts, spec, corpus, record, scores, command)
    (out / "README.md").write_text(model_card(card), encoding="utf-8")
    write_card(out, card)  # last: the card's presence means "a finished adapter"
    log.info("finetune_done", out=str(out), steps=card.steps, seconds=card.train_seconds)
    return FinetuneResult(out=out, card=card, resumed_from=record["resumed_from"])


def _score_adapter(
    opts: FinetuneOptions,
    spec: BackendSpec,
    out: Path,
    task: SkillTask,
    heldout: Sequence[Any],
    corpus: Corpus,
    progress: bool,
) -> HeldoutScores:
    """Base and adapter on the held-out items, through the real backend (constrained decoding)."""
    base_backend = build_backend(spec)
    tuned = build_backend(
        spec.model_copy(update={"id": adapter_backend_id(opts.base, opts.skill), "adapter": str(out)})
    )
    try:
        return evaluate_heldout(
            task,
            [base_backend, tuned],
            items=heldout,
            limit=opts.eval_limit,
            batch_size=opts.eval_batch_size,
            progress=progress,
            dataset_version=corpus.dataset_version,
        )
    finally:
        tuned.close()


def _card(
    opts: FinetuneOptions,
    spec: BackendSpec,
    corpus: Corpus,
    record: dict[str, Any],
    heldout: HeldoutScores | None,
    command: str | None,
) -> AdapterCard:
    return AdapterCard(
        backend_id=adapter_backend_id(opts.base, opts.skill),
        skill=opts.skill,
        base_backend=opts.base,
        base_model=spec.model,
        data_hash=corpus.data_hash,
        dataset_version=corpus.dataset_version,
        corpus_sources=corpus.sources,
        examples=len(corpus.examples),
        hyperparameters=opts.hyper,
        steps=record["steps"],
        epochs_done=record["epochs_done"],
        train_seconds=record["seconds"],
        final_loss=record["losses"][-1][1] if record["losses"] else None,
        loss_curve=record["losses"],
        heldout=heldout,
        command=command or _command_line(opts),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=_versions(),
    )


def _command_line(opts: FinetuneOptions) -> str:
    hp, defaults = opts.hyper, Hyperparameters()
    parts = ["fincopilot", "finetune", "--skill", opts.skill, "--base", opts.base]
    if opts.data:
        parts += ["--data", str(opts.data)]
    if opts.teacher:
        parts += ["--teacher", opts.teacher]
    for flag, value, default in (
        ("--epochs", hp.epochs, defaults.epochs),
        ("--max-steps", hp.max_steps, None),
        ("--lr", hp.learning_rate, defaults.learning_rate),
        ("--rank", hp.rank, defaults.rank),
        ("--batch-size", hp.batch_size, defaults.batch_size),
        ("--seed", hp.seed, defaults.seed),
        ("--max-seq-len", hp.max_seq_len, defaults.max_seq_len),
        ("--lora-layers", hp.lora_layers, None),
        ("--eval-limit", opts.eval_limit, None),
        ("--eval-batch-size", opts.eval_batch_size, 4),
    ):
        if value is not None and value != default:
            parts += [flag, str(value)]
    return " ".join(parts)


# --- a chosen step as the adapter ------------------------------------------------------------------


def export_checkpoint(run: Path, step: int, out: Path) -> AdapterCard:
    """The step-`step` checkpoint of the finished run in `run` as an adapter folder `out` (weights, peft config,
    card, model card, loss plot): what the same command with `--max-steps step` writes, because `--max-steps`
    only stops the run's schedule early. The card is the run's, cut at that step, without held-out scores."""
    if not (run / CARD).is_file():
        raise InputError(f"{run} holds no finished fine-tuning run (no {CARD})")
    checkpoint = run / "checkpoints" / f"step-{step:06d}"
    if not (checkpoint / "state.json").is_file():
        kept = ", ".join(str(int(c.name.split("-")[1])) for c in _checkpoints(run)) or "none"
        raise InputError(
            f"{run} has no checkpoint of step {step} (kept: {kept}; train with --keep-checkpoints)"
        )
    card = AdapterCard.model_validate_json((run / CARD).read_text(encoding="utf-8"))
    state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
    command = re.sub(r" --max-steps \d+", "", card.command) + f" --max-steps {step}"
    hyper = card.hyperparameters.model_copy(update={"max_steps": step})
    card = AdapterCard.model_validate(
        card.model_dump()
        | {
            "hyperparameters": hyper,
            "steps": step,
            "epochs_done": round(card.epochs_done * step / card.steps, 3),
            "train_seconds": state["seconds"],
            "final_loss": state["losses"][-1][1] if state["losses"] else None,
            "loss_curve": state["losses"],
            "heldout": None,
            "command": command,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    remove_card(out)
    for stale in ("adapter.gguf", "adapter.gguf.sha256"):  # derived from the old weights
        (out / stale).unlink(missing_ok=True)
    shutil.copyfile(checkpoint / "adapter_model.safetensors", out / "adapter_model.safetensors")
    shutil.copyfile(run / "adapter_config.json", out / "adapter_config.json")
    plot_loss(card.loss_curve, out / "loss.png", f"{card.backend_id}: training loss")
    (out / "README.md").write_text(model_card(card), encoding="utf-8")
    write_card(out, card)
    return card
