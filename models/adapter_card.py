"""Adapter model cards: `card.json` in each fine-tuned adapter folder, read and written here only.

`fincopilot finetune` writes the card last (its presence means a finished adapter). Each folder under
`home()/adapters/` whose card names a configured base becomes a backend, `<base>+<skill>-lora`, of the
base's kind and model with `adapter` set to the folder (`adapter_backends`); `fincopilot.models` adds
them to the process settings (`fincopilot.config.extend_settings`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fincopilot.config import BackendSpec, Settings, adapters_dir, extend_settings, format_validation_error
from fincopilot.errors import ConfigError

CARD = "card.json"
CARD_VERSION = 1
DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class Hyperparameters(BaseModel):
    """LoRA and optimizer settings (all recorded in the card)."""

    rank: int = Field(16, ge=1, le=256)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(2, ge=0)
    batch_size: int = Field(4, ge=1)
    epochs: float = Field(2.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps")
    max_seq_len: int = Field(1024, ge=16)
    seed: int = 0
    lora_layers: int | None = Field(
        None,
        ge=1,
        description="adapt only the top N transformer layers (the "
        "backward pass stops below them: cheaper on a CPU); None = all layers",
    )
    save_every: int = Field(10, ge=1)
    shared_prefix: bool = Field(True, description="run the prompt prefix all examples share once per step")


class HeldoutScores(BaseModel):
    split: str = "heldout"
    items: int
    dataset_version: str | None = None
    headline: str
    scores: dict[str, dict[str, float]] = Field(description="backend id → metric → value")
    seconds: float


class CardIdentity(BaseModel):
    """What every card names: the adapter's backend id, its skill, and the base it was trained on."""

    model_config = ConfigDict(extra="allow")  # the rest of an AdapterCard

    backend_id: str
    skill: str
    base_backend: str
    base_model: str


class AdapterCard(CardIdentity):
    """`card.json`: what the adapter is, what it was trained on, how well it does."""

    model_config = ConfigDict(extra="ignore")

    card_version: int = CARD_VERSION
    data_hash: str
    dataset_version: str | None = None
    corpus_sources: dict[str, int]
    examples: int
    hyperparameters: Hyperparameters
    steps: int
    epochs_done: float
    train_seconds: float
    final_loss: float | None
    loss_curve: list[tuple[int, float]]
    heldout: HeldoutScores | None = None
    command: str
    created_at: str
    versions: dict[str, str]


def load_card(folder: Path) -> CardIdentity:
    """The card in adapter `folder`; ConfigError naming the file when it is missing or malformed."""
    path = Path(folder) / CARD
    try:
        return CardIdentity.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read adapter card {path}: {err.strerror or err}") from None
    except ValidationError as err:
        raise ConfigError(format_validation_error(str(path), err)) from None


def has_card(folder: Path) -> bool:
    return (Path(folder) / CARD).is_file()


def write_card(folder: Path, card: AdapterCard) -> None:
    """`folder/card.json`, written whole and renamed (its presence means a finished adapter)."""
    tmp = Path(folder) / (CARD + ".tmp")
    tmp.write_text(card.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(Path(folder) / CARD)


def remove_card(folder: Path) -> None:
    """Unregister an unfinished adapter (training starts by removing its card)."""
    (Path(folder) / CARD).unlink(missing_ok=True)


# --- fine-tuned adapters as backends -------------------------------------------------------------------
_CACHE: dict[str, object] = {"base": None, "key": None, "merged": None}


def adapter_backends(base: Settings, folder: Path | None = None) -> tuple[list[BackendSpec], dict[str, str]]:
    """Backend specs for the adapters under `folder`, and the reasons others were skipped.

    Skipped (never fatal, so one bad card cannot break every command): an unreadable card, a base that is
    not configured, a base whose model differs from the one the adapter was trained on, an id the config
    already defines.
    """
    folder = folder if folder is not None else adapters_dir()
    specs: list[BackendSpec] = []
    problems: dict[str, str] = {}
    known = {b.id: b for b in base.backends}
    for card_path in sorted(folder.glob(f"*/{CARD}")) if folder.is_dir() else []:
        try:
            card = load_card(card_path.parent)
        except ConfigError as err:
            problems[card_path.parent.name] = f"unreadable card: {err}"
            continue
        problem = _problem(card, known)
        if problem:
            problems[card.backend_id] = problem
            continue
        parent = known[card.base_backend]
        try:
            specs.append(
                BackendSpec.model_validate(
                    {
                        **parent.model_dump(),
                        "id": card.backend_id,
                        "adapter": str(card_path.parent),
                        "skills": [card.skill],  # an adapter serves the skill it was trained for
                    }
                )
            )
        except ValidationError as err:
            problems[card.backend_id] = format_validation_error(str(card_path), err)
    return specs, problems


def _problem(card: CardIdentity, known: dict[str, BackendSpec]) -> str | None:
    if card.backend_id in known:
        return f"the config already defines a backend {card.backend_id!r}"
    parent = known.get(card.base_backend)
    if parent is None:
        return f"its base backend {card.base_backend!r} is not configured"
    if parent.model != card.base_model:
        return f"it was trained on model {card.base_model!r} but backend {card.base_backend!r} now runs {parent.model!r}"
    return None


def with_adapters(base: Settings) -> Settings:
    """`base` plus the adapters in `home()/adapters` (the merge is redone only when a card changes)."""
    folder = adapters_dir()
    cards = sorted(folder.glob(f"*/{CARD}")) if folder.is_dir() else []
    key = tuple((str(p), p.stat().st_mtime_ns) for p in cards)
    if _CACHE["base"] is base and _CACHE["key"] == key:
        return _CACHE["merged"]  # type: ignore[return-value]
    specs, problems = adapter_backends(base, folder)
    merged = base.model_copy(update={"backends": [*base.backends, *specs]}).skipping(problems)
    _CACHE.update(base=base, key=key, merged=merged)
    return merged


extend_settings(with_adapters)
