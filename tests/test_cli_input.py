"""Hostile command-line input (red-team issue #14, item 9): the real `fincopilot` console command, run as a
subprocess, answers each with one `error:` line and exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FINCOPILOT = str(Path(sys.executable).parent / "fincopilot")


def run(*args: str | bytes, home: Path | str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "FINCOPILOT_HOME": str(home), **env}
    environ.pop("FINCOPILOT_CONFIG", None)
    return subprocess.run(
        [FINCOPILOT, *args],
        check=False,
        capture_output=True,
        text=True,
        errors="replace",
        env=environ,
        timeout=120,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("error: ") and expected in lines[0], lines


def test_invalid_utf8_argument(tmp_path):
    proc = run(b"credit", b"C-10\xff42", home=tmp_path)
    assert_one_error_line(proc, "argument 2 ('C-10\\xff42') is not valid UTF-8 text")


@pytest.mark.parametrize(
    "name, content",
    [("bin.toml", bytes(range(256))), ("bin.yaml", b"\x00\x01\xff\xfe"), ("nul.toml", b"\x00\x00\x00")],
)
def test_binary_config_file(tmp_path, name, content):
    config = tmp_path / name
    config.write_bytes(content)
    proc = run("--config", str(config), "models", "list", home=tmp_path)
    assert_one_error_line(proc, f"config file {config} is not")


def test_state_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run("credit", "C-1042", home=blocker / "home")
    assert_one_error_line(
        proc, f"cannot create the state folder {blocker / 'home'} (FINCOPILOT_HOME): Not a directory"
    )


def test_review_of_an_unknown_thread_prints_only_its_error(tmp_path):
    proc = run("review", "t-nope", "--approve", home=tmp_path)
    assert_one_error_line(proc, "unknown thread 't-nope'")


def test_an_eval_module_names_an_unknown_backend_in_one_line(tmp_path):
    environ = {**os.environ, "FINCOPILOT_HOME": str(tmp_path)}
    environ.pop("FINCOPILOT_CONFIG", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fincopilot.evals.planner_eval",
            "--model",
            "no-such-model",
            "--set",
            "drafts",
        ],
        check=False,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert_one_error_line(proc, "unknown backend 'no-such-model'")
