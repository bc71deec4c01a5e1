"""The public API: `from fincopilot import …` gives the names the README and docs use, loaded lazily."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fincopilot

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_resolves_to_its_defining_object():
    assert set(fincopilot.__all__) == {"__version__", *fincopilot._EXPORTS}
    for name in fincopilot.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(fincopilot._EXPORTS[name])
        assert getattr(fincopilot, name) is getattr(module, name), name


def test_import_fincopilot_loads_no_submodule():
    code = "import sys, fincopilot; print(sorted(m for m in sys.modules if m.startswith('fincopilot.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fincopilot.nope  # noqa: B018


def test_public_names_are_listed_for_dir_and_star_imports():
    assert {"skill", "SkillContext", "tool", "skill_node", "build_advisor_graph", "BaseBackend"} <= set(
        fincopilot.__all__
    )
    assert set(fincopilot.__all__) <= set(dir(fincopilot))


def test_readme_and_docs_import_the_public_api_from_fincopilot():
    """The README and the developer guide show `from fincopilot import …`, and every name they import exists."""
    for doc in ("README.md", "docs/developer.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        imports = re.findall(r"^from fincopilot import (.+)$", text, re.M)
        assert imports, doc
        for line in imports:
            for name in (n.strip() for n in line.split(",")):
                assert name in fincopilot.__all__, (doc, name)
        assert "from fincopilot.agents.skills import" not in text, doc
