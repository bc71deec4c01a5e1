"""Declarative configuration: backends, per-skill routing constraints, overflow policy.

The file is TOML (or YAML) validated by pydantic. `--config PATH` or `FINCOPILOT_CONFIG`
picks it; without either the built-in `default.toml` is used.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fincopilot.errors import ConfigError

Residency = Literal["local", "external"]


class BackendSpec(BaseModel):
    """One model backend: what runs it, where the data goes, what it costs."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+:-]*$")
    kind: str = Field(description="registered backend kind: transformers, openai, vllm, scripted, ...")
    model: str = Field(description="model folder, GGUF file, `embedded:smollm2-135m`, or a served model name")
    residency: Residency = "local"
    cost_per_1k_tokens: float = Field(0.0, ge=0)
    max_concurrency: int = Field(1, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(2, ge=0)
    adapter: str | None = Field(
        None,
        description="LoRA adapter folder, or `embedded:NAME` for one shipped in "
        "fincopilot/models/adapters/ (e.g. the fine-tuned planner)",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="kind-specific settings")

    @field_validator("adapter")
    @classmethod
    def _shipped_adapter(cls, adapter: str | None) -> str | None:
        if adapter is None or not adapter.startswith("embedded:"):
            return adapter
        name = adapter.split(":", 1)[1]
        here = Path(__file__).resolve().parent
        for root in (here / "models", here.parent / "models"):  # installed wheel, then a source checkout
            if (root / "adapters" / name).is_dir():
                return str(root / "adapters" / name)
        raise ValueError(f"no shipped adapter named {name!r} (looked in fincopilot/models/adapters/)")


class SkillPolicy(BaseModel):
    """Constraints the router applies when choosing a backend for one skill."""

    model_config = ConfigDict(extra="forbid")

    min_score: float = 0.0
    max_p95_latency_s: float | None = None
    max_cost_per_1k_tokens: float | None = None
    residency: list[Residency] = Field(default_factory=lambda: ["local", "external"])
    pin: str | None = Field(None, description="always use this backend id for the skill")
    external_failover: bool = Field(
        False,
        description="after a local backend fails, may the call fail over to an external one? (opt-in: a "
        "local outage alone must not send the skill's text off premises; overflow on saturation is unaffected)",
    )


class OverflowPolicy(BaseModel):
    """What happens when every local backend for a skill is at its concurrency bound."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["overflow", "queue"] = "overflow"
    queue_size: int = Field(16, ge=0)
    queue_timeout_s: float = Field(60.0, gt=0)


class ResiliencePolicy(BaseModel):
    """Circuit breaker and retry back-off shared by all backends (timeouts and retry counts are per backend)."""

    model_config = ConfigDict(extra="forbid")

    breaker_failures: int = Field(3, ge=1, description="consecutive failures that open a backend's circuit")
    breaker_cooldown_s: float = Field(
        30.0, gt=0, description="seconds before an open circuit lets a trial call through"
    )
    retry_base_s: float = Field(
        0.2, ge=0, description="first retry back-off ceiling (doubles per retry, full jitter)"
    )
    retry_cap_s: float = Field(5.0, ge=0, description="largest retry back-off ceiling")


class Settings(BaseModel):
    """The whole configuration file."""

    model_config = ConfigDict(extra="forbid")

    default_backend: str = "smollm2-135m"
    backends: list[BackendSpec]
    routing: dict[str, SkillPolicy] = Field(default_factory=dict)
    overflow: OverflowPolicy = Field(default_factory=OverflowPolicy)
    resilience: ResiliencePolicy = Field(default_factory=ResiliencePolicy)
    database_url: str | None = Field(
        None,
        description="postgresql:// URL for shared state (replicas); "
        "unset: embedded SQLite/DuckDB files under home()",
    )

    @field_validator("backends")
    @classmethod
    def _unique_ids(cls, backends: list[BackendSpec]) -> list[BackendSpec]:
        seen: set[str] = set()
        for spec in backends:
            if spec.id in seen:
                raise ValueError(f"duplicate backend id {spec.id!r}")
            seen.add(spec.id)
        return backends

    @model_validator(mode="after")
    def _references_exist(self) -> Settings:
        ids = {b.id for b in self.backends}
        if self.default_backend not in ids:
            raise ValueError(
                f"default_backend {self.default_backend!r} is not among the backends {sorted(ids)}"
            )
        for skill, policy in self.routing.items():
            if policy.pin is not None and policy.pin not in ids:
                raise ValueError(f"routing.{skill}.pin names unknown backend {policy.pin!r}")
        return self

    def backend(self, backend_id: str) -> BackendSpec:
        """The spec for `backend_id`; raises UnknownBackendError naming the known ids."""
        from fincopilot.errors import UnknownBackendError

        for spec in self.backends:
            if spec.id == backend_id:
                return spec
        skipped = _ADAPTER_PROBLEMS.get(backend_id)  # a fine-tuned adapter found but not usable: say why
        raise UnknownBackendError(
            f"unknown backend {backend_id!r}; configured backends: {', '.join(b.id for b in self.backends)}"
            + (f" (adapter {backend_id!r} was found but skipped: {skipped})" if skipped else "")
        )

    def policy(self, skill: str) -> SkillPolicy:
        return self.routing.get(skill, SkillPolicy())


def _format_validation_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{where}: {e['msg']}")
    return f"invalid config {source}: " + "; ".join(lines)


def parse_settings(data: dict[str, Any], source: str = "<config>") -> Settings:
    """Validate an already-parsed mapping; errors name the offending field."""
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load `path`, else `$FINCOPILOT_CONFIG`, else the built-in default."""
    chosen = path or os.environ.get("FINCOPILOT_CONFIG")
    if chosen is None:
        text = resources.files("fincopilot").joinpath("default.toml").read_text(encoding="utf-8")
        return parse_settings(tomllib.loads(text), "built-in default.toml")
    file = Path(chosen)
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {file} is not UTF-8 text (byte {err.start} is 0x{err.object[err.start]:02x}); "
            "expected TOML or YAML"
        ) from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {file}: {err.strerror or err}") from None
    try:
        if file.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise ConfigError(
            f"config file {file} is not valid {file.suffix.lstrip('.') or 'TOML'}: {err}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {file} must hold a mapping at the top level")
    return parse_settings(data, str(file))


@lru_cache(maxsize=1)
def _cached(path: str | None, env: str | None) -> Settings:
    return load_settings(path)


_explicit_path: str | None = None


def use_config(path: str | os.PathLike[str] | None) -> None:
    """Make `path` the config for this process (the CLI's `--config`)."""
    global _explicit_path
    _explicit_path = str(path) if path else None
    _cached.cache_clear()


def settings() -> Settings:
    """The process-wide settings (cached; honours `use_config` and `FINCOPILOT_CONFIG`).

    Fine-tuned LoRA adapters in `home()/adapters/*/card.json` are merged in as extra backends
    (`<base>+<skill>-lora`, see `adapter_backends`); the merge is redone only when a card changes.
    """
    base = _cached(_explicit_path, os.environ.get("FINCOPILOT_CONFIG"))
    return _with_adapters(base)


# --- fine-tuned adapters as backends -----------------------------------------------------
# Written by `fincopilot finetune`; each folder holds a peft adapter and a card.json naming its base.

_ADAPTER_PROBLEMS: dict[str, str] = {}
_ADAPTER_CACHE: dict[str, Any] = {"base": None, "key": None, "merged": None}


def adapters_dir() -> Path:
    """Where `fincopilot finetune` writes adapters by default: `home()/adapters`."""
    from fincopilot.paths import home

    return home() / "adapters"


def adapter_backends(base: Settings, folder: Path | None = None) -> tuple[list[BackendSpec], dict[str, str]]:
    """Backend specs for the adapters under `folder`, and the reasons others were skipped.

    A card names `backend_id`, `base_backend` and `base_model`; the adapter becomes a backend of the
    base's kind and model with `adapter` set to its folder. Skipped (never fatal, so one bad card
    cannot break every command): an unreadable card, a base that is not configured, a base whose
    model differs from the one the adapter was trained on, an id the config already defines.
    """
    import json

    folder = folder if folder is not None else adapters_dir()
    specs: list[BackendSpec] = []
    problems: dict[str, str] = {}
    known = {b.id: b for b in base.backends}
    for card_path in sorted(folder.glob("*/card.json")) if folder.is_dir() else []:
        name = card_path.parent.name
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            backend_id, base_id, base_model = card["backend_id"], card["base_backend"], card["base_model"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            problems[name] = f"unreadable card {card_path}: {err!r}"
            continue
        if backend_id in known:
            problems[backend_id] = f"the config already defines a backend {backend_id!r}"
            continue
        parent = known.get(base_id)
        if parent is None:
            problems[backend_id] = f"its base backend {base_id!r} is not configured"
            continue
        if parent.model != base_model:
            problems[backend_id] = (
                f"it was trained on model {base_model!r} but backend {base_id!r} now runs {parent.model!r}"
            )
            continue
        try:
            specs.append(
                BackendSpec.model_validate(
                    {**parent.model_dump(), "id": backend_id, "adapter": str(card_path.parent)}
                )
            )
        except ValidationError as err:
            problems[backend_id] = _format_validation_error(str(card_path), err)
    return specs, problems


def _with_adapters(base: Settings) -> Settings:
    folder = adapters_dir()
    cards = sorted(folder.glob("*/card.json")) if folder.is_dir() else []
    key = tuple((str(p), p.stat().st_mtime_ns) for p in cards)
    cache = _ADAPTER_CACHE
    if cache["base"] is base and cache["key"] == key:
        return cache["merged"]
    specs, problems = adapter_backends(base, folder)
    merged = base.model_copy(update={"backends": [*base.backends, *specs]}) if specs else base
    _ADAPTER_PROBLEMS.clear()
    _ADAPTER_PROBLEMS.update(problems)
    cache.update(base=base, key=key, merged=merged)
    return merged
