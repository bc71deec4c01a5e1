"""Config files (TOML and YAML) validated by pydantic: errors name the field; --config and FINCOPILOT_CONFIG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fincopilot import config
from fincopilot.config import BackendSpec, load_settings
from fincopilot.errors import ConfigError, UnknownBackendError
from fincopilot.models.registry import build_backend, get_backend

FINCOPILOT = str(Path(sys.executable).with_name("fincopilot"))

GOOD_TOML = """
default_backend = "fake-a"

[[backends]]
id = "fake-a"
kind = "scripted"
model = "scripted"
max_concurrency = 3

[[backends]]
id = "cloud-b"
kind = "openai"
model = "gpt-4o-mini"
residency = "external"
cost_per_1k_tokens = 0.15
options = { base_url = "http://127.0.0.1:9/v1" }
"""

GOOD_YAML = """
default_backend: fake-y
backends:
  - id: fake-y
    kind: scripted
    model: scripted
    residency: local
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([FINCOPILOT, *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_builtin_default_needs_no_file():
    cfg = load_settings()
    assert cfg.default_backend == "smollm2-135m"
    spec = cfg.backend("smollm2-135m")
    assert (spec.kind, spec.model, spec.residency) == ("llamacpp", "embedded:smollm2-135m", "local")


def test_good_toml_and_yaml_load(tmp_path):
    toml_cfg = load_settings(write(tmp_path, "c.toml", GOOD_TOML))
    assert [b.id for b in toml_cfg.backends] == ["fake-a", "cloud-b"]
    assert toml_cfg.backend("cloud-b").cost_per_1k_tokens == 0.15
    yaml_cfg = load_settings(write(tmp_path, "c.yaml", GOOD_YAML))
    assert yaml_cfg.default_backend == "fake-y"


@pytest.mark.parametrize(
    "name, text, field",
    [
        (
            "zero.toml",
            GOOD_TOML.replace("max_concurrency = 3", "max_concurrency = 0"),
            "backends.0.max_concurrency",
        ),
        ("res.toml", GOOD_TOML.replace('"external"', '"cloudy"'), "backends.1.residency"),
        ("cost.toml", GOOD_TOML.replace("0.15", '"cheap"'), "backends.1.cost_per_1k_tokens"),
        ("extra.toml", GOOD_TOML + "\nbogus_setting = 1\n", "bogus_setting"),
        ("nokind.yaml", GOOD_YAML.replace("    kind: scripted\n", ""), "backends.0.kind"),
        (
            "badid.yaml",
            GOOD_YAML.replace("id: fake-y", "id: 'has space'").replace(
                "backend: fake-y", "backend: 'has space'"
            ),
            "backends.0.id",
        ),
        ("default.yaml", GOOD_YAML.replace("default_backend: fake-y", "default_backend: ghost"), "ghost"),
        ("dup.yaml", GOOD_YAML + GOOD_YAML.split("backends:\n", 1)[1], "duplicate backend id 'fake-y'"),
    ],
)
def test_bad_config_names_the_field(tmp_path, name, text, field):
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert field in str(info.value) and str(path) in str(info.value)


def test_unparseable_files_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not valid toml"):
        load_settings(write(tmp_path, "broken.toml", "backends = [[["))
    with pytest.raises(ConfigError, match="not valid yaml"):
        load_settings(write(tmp_path, "broken.yaml", "backends: [unclosed"))
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_settings(write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml")


def test_unknown_backend_id_and_unknown_kind(tmp_path):
    cfg = load_settings(write(tmp_path, "c.toml", GOOD_TOML))
    with pytest.raises(
        UnknownBackendError, match=r"unknown backend 'ghost'; configured backends: fake-a, cloud-b"
    ):
        get_backend("ghost", cfg)
    with pytest.raises(ConfigError, match=r"unknown backend kind 'quantum'; known kinds: .*transformers"):
        build_backend(BackendSpec(id="q", kind="quantum", model="m"))


def test_config_flag_and_env_var_pick_the_file(tmp_path):
    toml_path = write(tmp_path, "c.toml", GOOD_TOML)
    yaml_path = write(tmp_path, "c.yaml", GOOD_YAML)
    by_flag = cli("--config", str(toml_path), "models", "list", "--json")
    assert by_flag.returncode == 0, by_flag.stderr
    assert [b["id"] for b in json.loads(by_flag.stdout)] == ["fake-a", "cloud-b"]
    by_env = cli("models", "list", "--json", env={"FINCOPILOT_CONFIG": str(yaml_path)})
    assert by_env.returncode == 0, by_env.stderr
    assert [b["id"] for b in json.loads(by_env.stdout)] == ["fake-y"]
    # the flag wins over the environment
    both = cli(
        "--config", str(toml_path), "models", "list", "--json", env={"FINCOPILOT_CONFIG": str(yaml_path)}
    )
    assert [b["id"] for b in json.loads(both.stdout)] == ["fake-a", "cloud-b"]


def test_bad_config_through_the_cli_is_one_line(tmp_path):
    bad = write(tmp_path, "bad.yaml", GOOD_YAML.replace("residency: local", "residency: moon"))
    for args, env in ((["--config", str(bad)], None), ([], {"FINCOPILOT_CONFIG": str(bad)})):
        done = cli(*args, "models", "list", env=env)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: invalid config")
        assert "backends.0.residency" in lines[0] and "Traceback" not in done.stderr


def test_use_config_switches_process_settings(tmp_path):
    config.use_config(write(tmp_path, "c.yaml", GOOD_YAML))
    assert config.settings().default_backend == "fake-y"
    config.use_config(None)
    assert config.settings().default_backend == "smollm2-135m"
