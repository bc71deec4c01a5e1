"""Declarative configuration: backends, per-skill routing constraints, overflow policy.

The file is TOML (or YAML) validated by pydantic. `--config PATH` or `FINCOPILOT_CONFIG`
picks it; without either the built-in `default.toml` is used.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from fincopilot.errors import ConfigError, UnknownBackendError
from fincopilot.paths import home

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
    skills: list[str] | None = Field(
        None,
        description="the skills this backend serves (a fine-tuned adapter: the one it was trained for); "
        "None: every skill. The router never puts it in another skill's chain.",
    )

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
    prefer: list[str] = Field(
        default_factory=list,
        description="backend ids tried first, before the default backend, while no arena result routes the "
        "skill (e.g. a fine-tuned adapter that won its evaluation); the rest of the chain stays as failover",
    )
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
    _skipped: dict[str, str] = PrivateAttr(
        default_factory=dict
    )  # backend id → why it was found but not added

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
        for spec in self.backends:
            if spec.id == backend_id:
                return spec
        skipped = self._skipped.get(backend_id)  # a fine-tuned adapter found but not usable: say why
        raise UnknownBackendError(
            f"unknown backend {backend_id!r}; configured backends: {', '.join(b.id for b in self.backends)}"
            + (f" (adapter {backend_id!r} was found but skipped: {skipped})" if skipped else "")
        )

    def skipping(self, skipped: dict[str, str]) -> Settings:
        """These settings, noting backends that were found but not added (`backend()` says why)."""
        self._skipped = dict(skipped)
        return self

    def policy(self, skill: str) -> SkillPolicy:
        return self.routing.get(skill, SkillPolicy())


def format_validation_error(source: str, err: ValidationError) -> str:
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
        raise ConfigError(format_validation_error(source, err)) from None


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

    Registered extensions add to them: `fincopilot.models` merges in the fine-tuned LoRA adapters in
    `home()/adapters/` as extra backends (`fincopilot.models.adapter_card`).
    """
    merged = _cached(_explicit_path, os.environ.get("FINCOPILOT_CONFIG"))
    for extension in _EXTENSIONS:
        merged = extension(merged)
    return merged


# --- backends found outside the config (fine-tuned adapters) -------------------------------------------
_EXTENSIONS: list[Callable[[Settings], Settings]] = []


def extend_settings(extension: Callable[[Settings], Settings]) -> None:
    """Let `extension` add to the process settings (`fincopilot.models` adds the fine-tuned adapters)."""
    if extension not in _EXTENSIONS:
        _EXTENSIONS.append(extension)


def adapters_dir() -> Path:
    """Where `fincopilot finetune` writes adapters by default: `home()/adapters`."""
    return home() / "adapters"
