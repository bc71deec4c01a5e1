"""PluginGroup: every caller sees a fully loaded group, even when parallel steps ask at the same moment."""

from __future__ import annotations

import threading
import time

from fincopilot import plugins


class SlowEntryPoint:
    """A FAKE entry point whose import takes a while and records that it ran."""

    def __init__(self, name: str, loaded: list[str], fail: bool = False):
        self.name, self.value, self._loaded, self._fail = name, f"fake:{name}", loaded, fail

    def load(self):
        time.sleep(0.05)
        if self._fail:
            raise RuntimeError("broken plugin")
        self._loaded.append(self.name)


def test_parallel_lookups_wait_for_the_whole_group(monkeypatch):
    loaded: list[str] = []
    eps = [SlowEntryPoint(n, loaded) for n in ("a", "b", "c")]
    monkeypatch.setattr(plugins, "entry_points", lambda group: eps)
    group = plugins.PluginGroup("fake.group")
    seen: list[int] = []

    def lookup():
        group.load()
        seen.append(len(loaded))  # what a registry lookup would find right after load() returns

    threads = [threading.Thread(target=lookup) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [3] * 6 and sorted(loaded) == ["a", "b", "c"]  # imported once, seen whole by everyone


def test_a_broken_plugin_is_skipped_and_reload_imports_again(monkeypatch):
    loaded: list[str] = []
    eps = [SlowEntryPoint("ok", loaded), SlowEntryPoint("bad", loaded, fail=True)]
    monkeypatch.setattr(plugins, "entry_points", lambda group: eps)
    group = plugins.PluginGroup("fake.group")
    assert group.load() == ["ok"] and group.load() == []
    assert group.load(reload=True) == ["ok"] and loaded == ["ok", "ok"]


def test_load_name_imports_one_entry_point_once_and_remembers_a_failure(monkeypatch):
    loaded: list[str] = []
    eps = [
        SlowEntryPoint("light", loaded),
        SlowEntryPoint("heavy", loaded),
        SlowEntryPoint("bad", loaded, True),
    ]
    monkeypatch.setattr(plugins, "entry_points", lambda group: eps)
    group = plugins.PluginGroup("fake.group")
    assert group.names() == ["bad", "heavy", "light"] and loaded == []  # listing imports nothing
    assert group.load_name("light") and group.load_name("light") and loaded == ["light"]
    assert not group.load_name("bad") and "broken plugin" in group.failures["bad"]
    assert not group.load_name("missing") and "missing" not in group.failures
    assert loaded == ["light"]  # "heavy" was never asked for, so never imported
