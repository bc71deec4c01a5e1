"""Code shape, checked over the package source: short functions, imports at module top.

(a) No function is longer than 60 lines, except the data tables named in `DATA_TABLES` (each with its reason).
(b) No function imports a fincopilot module, except in CLI modules (`cli.py`, `*_cli.py`), whose command
    functions import lazily so that `fincopilot --help` stays fast.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("fincopilot", "agents", "tools", "graphs", "models", "evals")
MAX_LINES = 60

# (file, function) → why it may be longer: tables of data, not logic
DATA_TABLES: dict[tuple[str, str], str] = {
    ("evals/build_kb.py", "_product_templates"): "the knowledge base's product document templates (text)",
}


def source_files() -> list[Path]:
    return sorted(p for folder in PACKAGE_FOLDERS for p in (ROOT / folder).rglob("*.py"))


def _is_cli(path: Path) -> bool:
    return path.name == "cli.py" or path.name.endswith("_cli.py")


def _imports_fincopilot(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == "fincopilot" or a.name.startswith("fincopilot.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "fincopilot"
    return False


def findings(path: Path) -> list[str]:
    """What is wrong with one file, one line per finding."""
    rel = path.relative_to(ROOT).as_posix()
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - node.lineno + 1
        if length > MAX_LINES and (rel, node.name) not in DATA_TABLES:
            out.append(f"{rel}:{node.lineno} {node.name} is {length} lines (at most {MAX_LINES})")
        if not _is_cli(path):
            for inner in ast.walk(node):
                if _imports_fincopilot(inner):
                    out.append(
                        f"{rel}:{inner.lineno} {node.name} imports a fincopilot module inside a function"
                    )
    return sorted(set(out))


def test_functions_are_short_and_import_at_module_top():
    problems = [f for path in source_files() for f in findings(path)]
    assert not problems, "\n".join(problems)


def test_data_table_exceptions_are_still_needed():
    for (rel, name), _reason in DATA_TABLES.items():
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        lengths = [
            n.end_lineno - n.lineno + 1
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        ]
        assert lengths and max(lengths) > MAX_LINES, f"{rel} {name} is short now: remove it from DATA_TABLES"
