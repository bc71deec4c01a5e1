"""A backend kind in a separately installed package (its own pyproject with a `fincopilot.backends` entry point,
built in a temporary folder outside the repository and pip-installed into this environment) is listed, built from
a config and called through the real router and gateway, outbound gate included: with no edit to the framework.
A kind whose module fails to import is a clear ConfigError naming it. Looking up one kind imports only that
kind's module (vLLM and PyTorch stay unimported on a llamacpp-only run)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fincopilot.errors import ConfigError
from fincopilot.models.messages import messages
from fincopilot.models.registry import build_backend, clear_instances, list_kinds
from tests.plugin_helpers import installed_package
from tests.safety_helpers import backend, gateway_for, settings_of

DIST = "fincopilot-echo-backend-test"
KIND = "echo_plugin_test"

PLUGIN = '''
"""A third-party FinCopilot backend kind: replies with what the last message said (a test fixture package)."""
from fincopilot.models.base import BaseBackend
from fincopilot.models.messages import Usage
from fincopilot.models.registry import register_kind

SEEN = []


@register_kind("echo_plugin_test")
class EchoBackend(BaseBackend):
    def _generate(self, messages, schema, max_tokens, temperature):
        SEEN.append(messages[-1].content)
        return "echo: " + messages[-1].content, Usage(prompt_tokens=1, completion_tokens=1), "stop"
'''

BROKEN = """
import fincopilot_no_such_dependency_xyz  # the plugin needs a package that is not installed
"""

PYPROJECT = """
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "fincopilot-echo-backend-test"
version = "0.0.1"

[project.entry-points."fincopilot.backends"]
echo_plugin_test = "fincopilot_echo_backend_test:EchoBackend"
broken_plugin_test = "fincopilot_echo_backend_test.broken:BrokenBackend"

[tool.setuptools]
packages = ["fincopilot_echo_backend_test"]
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """Build and install the plugin package (outside the repository tree); uninstall it afterwards."""
    src = tmp_path_factory.mktemp("echo-backend-plugin")
    files = {"__init__.py": PLUGIN, "broken.py": BROKEN}
    with installed_package(src, DIST, "fincopilot_echo_backend_test", PYPROJECT, files):
        try:
            yield KIND
        finally:
            clear_instances()


def test_the_installed_kind_is_listed_built_and_called_through_the_gateway(plugin):
    assert {KIND, "llamacpp", "vllm", "scripted"} <= set(list_kinds())
    cfg = settings_of(backend("echo", kind=KIND, residency="external"))
    out = gateway_for(cfg).complete(
        "planner", messages("call 13800138000 about the fund"), request_id="r-echo"
    )
    seen = sys.modules["fincopilot_echo_backend_test"].SEEN
    # the plugin kind sits behind the same outbound gate: an external backend never sees the raw phone number
    assert seen == ["call <PHONE_1> about the fund"]
    assert out.backend_id == "echo" and out.text == "echo: call 13800138000 about the fund"


def test_a_kind_that_fails_to_import_is_a_clear_error(plugin):
    cfg = settings_of(backend("broken", kind="broken_plugin_test"))
    with pytest.raises(
        ConfigError, match=r"'broken_plugin_test' could not be loaded: .*fincopilot_no_such_dep"
    ):
        build_backend(cfg.backend("broken"))


def test_looking_up_a_kind_imports_only_that_kind():
    code = (
        "import sys\n"
        "from fincopilot.models.registry import _load_kind, list_kinds\n"
        "assert 'vllm' in list_kinds()\n"
        "_load_kind('llamacpp')\n"
        "heavy = {'torch', 'vllm', 'fincopilot.models.backends.vllm', 'fincopilot.models.backends.openai'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
