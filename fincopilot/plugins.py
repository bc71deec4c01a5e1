"""Entry-point groups: the one way skills, tools and backend kinds are discovered (built-ins included)."""

from __future__ import annotations

import threading
from importlib.metadata import entry_points

from fincopilot.log import get_logger

log = get_logger(__name__)


class PluginGroup:
    """The modules registered under one entry-point group, imported once per process.

    Thread-safe: parallel graph steps that look up a skill or a tool at the same moment all wait until every
    module of the group is imported (a half-filled registry would answer "unknown tool"). A lookup made while
    a module of the group is being imported, by that import itself, returns at once.
    A group whose modules are heavy (backend kinds) imports one name at a time with `load_name`.
    """

    def __init__(self, group: str):
        self.group = group
        self._lock = threading.RLock()
        self._loaded = False
        self._loading = False
        self._by_name: dict[str, bool] = {}
        self.failures: dict[str, str] = {}

    def load(self, *, reload: bool = False) -> list[str]:
        """Import the group's modules (once, or again with `reload`); the entry-point names imported now.
        A module that fails to load is a loud warning naming it, never a silent absence."""
        if self._loaded and not reload:
            return []
        with self._lock:
            if (self._loaded and not reload) or self._loading:
                return []
            self._loading = True
            try:
                return [ep.name for ep in entry_points(group=self.group) if self._import(ep)]
            finally:
                self._loaded, self._loading = True, False

    def names(self) -> list[str]:
        """The entry-point names of the group, sorted, without importing anything."""
        return sorted({ep.name for ep in entry_points(group=self.group)})

    def load_name(self, name: str, *, reload: bool = False) -> bool:
        """Import the group's entry points called `name` (once, or again with `reload`); whether one imported.
        A failure is the same loud warning as in `load`; its message stays in `failures[name]`."""
        with self._lock:
            if name in self._by_name and not reload:
                return self._by_name[name]
            eps = [ep for ep in entry_points(group=self.group) if ep.name == name]
            if not eps:
                return False  # not remembered: a package installed later in this process is still found
            self.failures.pop(name, None)
            self._by_name[name] = any([self._import(ep) for ep in eps])
            return self._by_name[name]

    def _import(self, ep) -> bool:
        try:
            ep.load()
            return True
        except Exception as err:  # noqa: BLE001 - a broken plugin must not take the built-ins down
            self.failures[ep.name] = f"{type(err).__name__}: {err}"[:300]
            log.warning(
                "plugin_failed", group=self.group, entry_point=ep.name, target=ep.value, error=str(err)[:300]
            )
            return False
