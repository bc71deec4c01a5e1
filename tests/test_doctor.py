"""`fincopilot doctor`, the status column of `models list`, and the loud warning for a broken default model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from fincopilot import config
from fincopilot.cli import app

BROKEN = """
default_backend = "broken"

[[backends]]
id = "broken"
kind = "llamacpp"
model = "{path}"
"""


def broken_config(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN.format(path=tmp_path / "missing.gguf"), encoding="utf-8")
    config.use_config(path)
    return path


def test_models_list_reports_status(tmp_path):
    ok = json.loads(CliRunner().invoke(app, ["models", "list", "--json"]).stdout)
    assert [b["status"] for b in ok if b["id"] == "smollm2-135m"] == ["ok"]
    broken_config(tmp_path)
    rows = json.loads(CliRunner().invoke(app, ["models", "list", "--json"]).stdout)
    assert rows[0]["status"] == "missing" and "missing.gguf" in rows[0]["status_detail"]


def test_doctor_fails_loudly_on_a_missing_default_model(tmp_path):
    broken_config(tmp_path)
    result = CliRunner().invoke(app, ["doctor"], terminal_width=250)
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "missing.gguf" in result.stdout and "domain database" in result.stdout


def test_warm_default_names_the_problem(tmp_path):
    from fincopilot.models.status import warm_default

    broken_config(tmp_path)
    problem = warm_default()
    assert problem and "'broken' cannot load" in problem and "fincopilot doctor" in problem


def test_ask_with_a_broken_model_warns_and_does_not_exit_0(tmp_path):
    broken_config(tmp_path)
    result = CliRunner().invoke(app, ["ask", "--json", "hello"])
    assert result.exit_code == 3, result.output
    assert "WARNING: the default model backend 'broken' cannot load" in result.output
