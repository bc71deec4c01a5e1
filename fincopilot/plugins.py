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
    """

    def __init__(self, group: str):
        self.group = group
        self._lock = threading.RLock()
        self._loaded = False
        self._loading = False

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

    def _import(self, ep) -> bool:
        try:
            ep.load()
            return True
        except Exception as err:  # noqa: BLE001 - a broken plugin must not take the built-ins down
            log.warning(
                "plugin_failed", group=self.group, entry_point=ep.name, target=ep.value, error=str(err)[:300]
            )
            return False
