"""Layers read top-down: a module may import only its own layer and the layers below it.

core (fincopilot.config/errors/log/paths/principal, safety, state) → tools → models → agents → graphs → evals →
interfaces (fincopilot.cli, fincopilot.server, each area's `cli` module, and the public API in
fincopilot/__init__.py). Every import counts,
function-level ones included.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"agents": "agents", "tools": "tools", "graphs": "graphs", "models": "models", "evals": "evals"}
ORDER = ["core", "tools", "models", "agents", "graphs", "evals", "interfaces"]


def layer_of(module: str) -> str:
    parts = module.split(".")
    if module == "fincopilot":  # the package root is the public API: it names things from every layer
        return "interfaces"
    if parts[-1] == "cli":  # each area's command group is an interface that lives beside its area
        return "interfaces"
    if parts[0] != "fincopilot" or len(parts) < 2:
        return "core"
    top = parts[1]
    if top in FOLDERS:
        return top
    if top in ("cli", "server"):
        return "interfaces"
    return "core"


def source_modules() -> dict[str, Path]:
    out = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            out["fincopilot." + ".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    for path in (ROOT / "fincopilot").rglob("*.py"):
        out[".".join(path.relative_to(ROOT).with_suffix("").parts)] = path
    return out


def upward_imports() -> set[tuple[str, str]]:
    found = set()
    for module, path in source_modules().items():
        here = ORDER.index(layer_of(module.removesuffix(".__init__")))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and not node.level
                else []
            )
            for name in names:
                if name.startswith("fincopilot.") and ORDER.index(layer_of(name)) > here:
                    found.add((module.removesuffix(".__init__"), name))
    return found


def test_layers_are_known():
    assert layer_of("fincopilot.tools.data") == "tools" and layer_of("fincopilot.server.app") == "interfaces"
    assert layer_of("fincopilot.evals.cli") == "interfaces" and layer_of("fincopilot.config") == "core"


def test_no_upward_import():
    found = sorted(upward_imports())
    assert not found, "imports that go up the layers:\n" + "\n".join(f"{a} -> {b}" for a, b in found)
