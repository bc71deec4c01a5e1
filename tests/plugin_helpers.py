"""Helpers for the plugin tests: a third-party package built outside the repository and pip-installed into this
environment for the length of a test module."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pip(*args: str) -> None:
    """Run pip in this environment (quiet; a failure raises)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextmanager
def installed_package(
    src: Path, dist: str, package: str, pyproject: str, files: Mapping[str, str]
) -> Iterator[Path]:
    """The distribution `dist` (this pyproject, and `files` dedented into the import package `package`) built
    in `src`, outside the repository, and installed; uninstalled and forgotten by `sys.modules` afterwards.
    Yields the package folder."""
    assert ROOT not in src.parents
    pkg = src / package
    pkg.mkdir()
    (src / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
    for name, text in files.items():
        (pkg / name).write_text(textwrap.dedent(text), encoding="utf-8")
    pip("install", "--no-deps", "--no-build-isolation", str(src))
    try:
        importlib.invalidate_caches()
        yield pkg
    finally:
        pip("uninstall", "-y", dist)
        sys.modules.pop(package, None)
