"""`fincopilot models list | try` through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

FINCOPILOT = str(Path(sys.executable).with_name("fincopilot"))
REPO = Path(__file__).resolve().parents[1]

# A scripted FAKE backend (named as such) so the CLI plumbing is tested without a model; the real
# model goes through `models try` in test_models_try_real_model below.
FAKE_CONFIG = """
default_backend = "fake"

[[backends]]
id = "fake"
kind = "scripted"
model = "scripted-fake"
max_concurrency = 4
cost_per_1k_tokens = 0.5
options = { replies = ['{"label": "ok", "n": 3}'] }

[[backends]]
id = "fake-broken"
kind = "scripted"
model = "scripted-fake"
options = { replies = ['{"label": "ok", "n": "many"'] }
"""


def cli(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    pre = ["--config", str(config)] if config else []
    return subprocess.run(
        [FINCOPILOT, *pre, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.fixture()
def fake_config(tmp_path):
    path = tmp_path / "fake.toml"
    path.write_text(FAKE_CONFIG, encoding="utf-8")
    return path


class Small:  # not a pydantic model: `--schema tests.test_models_cli:Small` must be refused
    pass


class SmallModel(BaseModel):
    label: str = Field(max_length=10)
    n: int = Field(ge=0, le=9)


def test_models_list_table(fake_config):
    done = cli("models", "list", config=fake_config)
    assert done.returncode == 0, done.stderr
    for cell in ("fake (default)", "fake-broken", "scripted", "local", "0.5", "4"):
        assert cell in done.stdout


def test_models_try_plain_and_structured(fake_config):
    plain = cli("models", "try", "fake", "hello", "--json", config=fake_config)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["backend_id"] == "fake"
    structured = cli(
        "models",
        "try",
        "fake",
        "hello",
        "--schema",
        "tests.test_models_cli:SmallModel",
        "--json",
        config=fake_config,
    )
    assert structured.returncode == 0, structured.stderr
    assert json.loads(structured.stdout)["parsed"] == {"label": "ok", "n": 3}


@pytest.mark.parametrize(
    "args, message",
    [
        (["models", "try", "ghost", "hi"], "unknown backend 'ghost'"),
        (["models", "try", "fake", "   "], "the prompt is empty"),
        (["models", "try", "fake", "hi", "--schema", "nomodule"], "package.module:Model"),
        (["models", "try", "fake", "hi", "--schema", "json:Nothing"], "has no attribute 'Nothing'"),
        (["models", "try", "fake", "hi", "--schema", "tests.test_models_cli:Small"], "not a pydantic model"),
        (["models", "try", "fake-broken", "hi", "--schema", "tests.test_models_cli:SmallModel"], "not JSON"),
    ],
)
def test_models_try_errors_are_one_line(fake_config, args, message):
    done = cli(*args, config=fake_config)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.model
def test_models_try_real_model():
    done = cli(
        "models",
        "try",
        "smollm2-135m",
        "Rate the HY-7 bond fund.",
        "--schema",
        "tests.test_models_cli:SmallModel",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert SmallModel.model_validate(payload["parsed"]) and payload["usage"]["completion_tokens"] > 0
