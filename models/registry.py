"""Backend kinds registered by name; backend instances built from the config, one per id.

A kind lives in one file, `models/backends/<kind>.py`, decorated with `@register_kind`.
Third-party kinds register through the `fincopilot.backends` entry-point group.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points

from fincopilot.config import BackendSpec, Settings, settings
from fincopilot.errors import ConfigError
from fincopilot.models.base import BaseBackend, ProtocolBackend

_KINDS: dict[str, type[BaseBackend]] = {}
_INSTANCES: dict[str, BaseBackend] = {}
_LOCK = threading.Lock()


def register_kind(name: str):
    """Class decorator: make a backend class available as `kind = name` in config files."""

    def decorate(cls: type[BaseBackend]) -> type[BaseBackend]:
        cls.kind = name
        _KINDS[name] = cls
        return cls

    return decorate


def _load_kind(name: str) -> type[BaseBackend]:
    if name in _KINDS:
        return _KINDS[name]
    try:
        importlib.import_module(f"fincopilot.models.backends.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"fincopilot.models.backends.{name}":
            raise ConfigError(
                f"backend kind {name!r} needs a package that is not installed: {err.name}"
            ) from None
    if name not in _KINDS:
        for ep in entry_points(group="fincopilot.backends"):
            if ep.name == name:
                ep.load()
    if name not in _KINDS:
        raise ConfigError(f"unknown backend kind {name!r}; known kinds: {', '.join(list_kinds())}")
    return _KINDS[name]


def list_kinds() -> list[str]:
    """Names of the built-in and entry-point backend kinds."""
    from importlib import resources

    names = {
        p.name[:-3]
        for p in resources.files("fincopilot.models.backends").iterdir()
        if p.name.endswith(".py") and not p.name.startswith("_")
    }
    names |= {ep.name for ep in entry_points(group="fincopilot.backends")}
    return sorted(names | set(_KINDS))


def build_backend(spec: BackendSpec) -> BaseBackend:
    """A fresh backend instance for `spec` (not cached); its calls pass the outbound gate (models/outbound.py)."""
    return behind_gate(_load_kind(spec.kind)(spec))


def behind_gate(backend: object) -> BaseBackend:
    """`backend` itself when it is a BaseBackend, else a ProtocolBackend around it (same gate either way)."""
    return backend if isinstance(backend, BaseBackend) else ProtocolBackend(backend)


def get_backend(backend_id: str, config: Settings | None = None) -> BaseBackend:
    """The shared instance for `backend_id` (built on first use, then cached)."""
    cfg = config or settings()
    spec = cfg.backend(backend_id)
    with _LOCK:
        inst = _INSTANCES.get(backend_id)
        if inst is None or inst.spec != spec:
            inst = build_backend(spec)
            _INSTANCES[backend_id] = inst
        return inst


def register_instance(backend: BaseBackend) -> None:
    """Put a ready instance in the cache (tests, and adapters built at run time)."""
    backend = behind_gate(backend)
    with _LOCK:
        _INSTANCES[backend.id] = backend


def clear_instances() -> None:
    with _LOCK:
        for inst in _INSTANCES.values():
            inst.close()
        _INSTANCES.clear()
