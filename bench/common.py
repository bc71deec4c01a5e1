"""Shared benchmark plumbing: machine description and section-wise updates of bench/RESULTS.md."""

from __future__ import annotations

import fcntl
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by its benchmark (`python -m bench.NAME`, or `make bench` for all) and states the\n"
    "machine it ran on. Targets are ratios against a baseline measured in the same run.\n"
)


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, Python, torch."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        import torch

        torch_v = torch.__version__
    except ImportError:
        torch_v = "n/a"
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, Python {platform.python_version()}, "
        f"torch {torch_v}, {platform.system()} {platform.release()}"
    )


def git_rev() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                cwd=Path(__file__).parent,
                check=False,
            ).stdout.strip()
            or "unknown"
        )
    except OSError:
        return "unknown"


def write_section(name: str, title: str, body: str, command: str) -> None:
    """Replace (or append) the section `name` of RESULTS.md; safe against concurrent writers."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Command: `{command}` · run {stamp} at commit {git_rev()}  \n"
        f"Machine: {machine()}\n\n{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    RESULTS.touch()
    with open(RESULTS, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read() or HEADER
        pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.S)
        text = (
            pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
        )
        fh.seek(0)
        fh.truncate()
        fh.write(text)
