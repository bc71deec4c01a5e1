"""`fincopilot chat` driven through stdin in a subprocess: the real CopilotRunner (--no-model, scripted FAKE
config for the remaining model call), the real DuckDB data and checkpoints; and `--url` against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from server_fakes import FAKE_CONFIG, RISKY, LiveServer, fake_runner, prepare_home  # noqa: E402

EXE = str(Path(sys.executable).with_name("fincopilot"))


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    return prepare_home(tmp_path_factory.mktemp("chat-home"))


def chat(args: list[str], stdin: str, home: Path, config: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, "--config", str(config), "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FINCOPILOT_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "160", **env},
    )


def test_terminal_chat_shows_plan_steps_answer_and_history(module_home, tmp_path):
    config = tmp_path / "fake.toml"
    config.write_text(FAKE_CONFIG)
    out = chat(
        ["--no-model", "--thread", "tchat-1"],
        "Check the credit of client C-1042 and summarize the HY-7 report\n/thread\n/history\n/quit\n",
        module_home,
        config,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Plan (" in text and "credit_lookup" in text and "report_summary" in text
    assert text.count("✓ ok") >= 2  # each step finished, with its backend and time
    assert "answer" in text and "585" in text and "[1]" in text
    assert "[1] step 1 credit_lookup: clients:C-1042" in text  # the citation's sources
    assert "compliance: passed" in text
    assert "thread tchat-1" in text
    assert text.count("you> Check the credit of client C-1042") == 1  # /history replays the turn
    assert "status: answered" in text


def test_terminal_chat_announces_a_held_answer(module_home, tmp_path):
    """`--url` mode against a live server whose runner uses the scripted FAKE model (drafts a promise)."""
    os.environ["FINCOPILOT_HOME"] = str(module_home)
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    store = KeyStore(module_home / "server.sqlite")
    _, key = store.create("advisor", "Olivia Brandt")  # C-1042 is in her book
    app = create_app({"fincopilot-advisor": fake_runner(module_home / "checkpoints-url.sqlite")}, keys=store)
    config = tmp_path / "fake.toml"
    config.write_text(FAKE_CONFIG)
    with LiveServer(app) as server:
        out = chat(["--url", server.url], RISKY + "\n", module_home, config, FINCOPILOT_API_KEY=key)
        bad = chat(
            ["--url", server.url, "--key", "fck_00000000_nopenopenopenopenope"], "hi\n", module_home, config
        )
    assert out.returncode == 0, out.stderr
    assert "connected to" in out.stdout and "(advisor)" in out.stdout
    assert "held for compliance review" in out.stdout and "compliance: failed" in out.stdout
    assert "guaranteed returns with no risk" not in out.stdout  # the draft is not shown to the advisor
    assert bad.returncode == 2 and "refused the key (401)" in bad.stderr
