"""Backend kinds registered by name; backend instances built from the config, one per id.

A kind is one class decorated with `@register_kind(name)` and listed under that name in the
`fincopilot.backends` entry-point group; the built-ins (`models/backends/<kind>.py`) are listed there exactly
as a third-party package's kinds are. A kind's module is imported only when a config names that kind.
"""

from __future__ import annotations

import threading

from fincopilot.config import BackendSpec, Settings, settings
from fincopilot.errors import ConfigError
from fincopilot.models.base import BaseBackend, ProtocolBackend
from fincopilot.plugins import PluginGroup

ENTRY_POINT_GROUP = "fincopilot.backends"
_PLUGINS = PluginGroup(ENTRY_POINT_GROUP)
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
    if name not in _KINDS:
        _PLUGINS.load_name(name)
    if name in _KINDS:
        return _KINDS[name]
    if name in _PLUGINS.failures:
        raise ConfigError(f"backend kind {name!r} could not be loaded: {_PLUGINS.failures[name]}")
    if name in _PLUGINS.names():
        raise ConfigError(
            f"backend kind {name!r}: its `{ENTRY_POINT_GROUP}` entry point registers no class "
            f"with @register_kind({name!r})"
        )
    raise ConfigError(f"unknown backend kind {name!r}; known kinds: {', '.join(list_kinds())}")


def list_kinds() -> list[str]:
    """Names of the backend kinds: the `fincopilot.backends` entry points and any registered in this process."""
    return sorted(set(_PLUGINS.names()) | set(_KINDS))


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
