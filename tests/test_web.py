"""The web chat page in real headless Chromium (Playwright driving Debian's /usr/bin/chromium) against a real
uvicorn server on 127.0.0.1. The runner is the real CopilotRunner with scripted FAKE model calls
(tests/server_fakes.py). Set FINCOPILOT_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from server_fakes import DEMO, RISKY, LiveServer, fake_runner, prepare_home  # noqa: E402

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = prepare_home(tmp_path_factory.mktemp("web-home"))
    old = os.environ.get("FINCOPILOT_HOME")
    os.environ["FINCOPILOT_HOME"] = str(home)
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    store = KeyStore(home / "server.sqlite")
    keys = {
        "advisor": store.create("advisor", "Olivia Brandt")[1],
        "officer": store.create("compliance_officer", "Olga Officer")[1],
    }
    app = create_app(
        {"fincopilot-advisor": fake_runner(home / "checkpoints.sqlite", delay_s=0.3)}, keys=store
    )
    with LiveServer(app) as server:
        yield server, keys, home
    if old is None:
        os.environ.pop("FINCOPILOT_HOME", None)
    else:
        os.environ["FINCOPILOT_HOME"] = old


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def home(live, isolated_home, monkeypatch):
    monkeypatch.setenv("FINCOPILOT_HOME", str(live[2]))
    return live[2]


def shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("FINCOPILOT_SCREENSHOTS"):
        Path(os.environ["FINCOPILOT_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["FINCOPILOT_SCREENSHOTS"]) / path.name)
    return path


def sign_in(page, url: str, key: str) -> None:
    page.goto(url + "/")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#api-key", key)
    page.click("#save-key")
    page.wait_for_selector(".role")


def test_page_streams_plan_steps_and_cited_answer(home, live, browser, tmp_path):
    server, keys, _ = live
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, keys["advisor"])
    assert page.inner_text("#who").startswith("Olivia Brandt")
    page.fill("#prompt", DEMO)
    page.click("#send")
    page.wait_for_selector(".step.running", timeout=30_000)  # progress is visible while steps run
    page.wait_for_selector(".run .verdict", timeout=60_000)
    page.wait_for_selector(".run .meta:has-text('status: answered')", timeout=30_000)
    skills = page.locator(".run .step .skill").all_inner_texts()
    assert skills[:2] == ["credit_lookup", "report_summary"]
    assert page.locator(".run .step.ok").count() == len(skills)
    answer = page.inner_text(".run .answer")
    assert "585" in answer and "[1]" in answer
    assert page.inner_text(".run .verdict").startswith("✓ Compliance check passed")
    page.click(".run a.cite[data-step='2']")
    highlighted = page.locator(".run .step.highlight")
    assert highlighted.count() == 1 and highlighted.get_attribute("data-step") == "2"
    assert "HY-7" in page.inner_text(".run .step.highlight details pre")
    path = shot(page, tmp_path, "web-answer")
    assert path.stat().st_size > 10_000
    # the conversation is in the sidebar and reloads from the server (history)
    page.reload()
    page.wait_for_selector(".thread-item")
    page.click(".thread-item >> nth=0")
    page.wait_for_selector(".msg.user .bubble")
    assert page.inner_text(".msg.user .bubble") == DEMO
    assert "[1]" in page.inner_text(".answer")
    page.close()


def test_officer_reviews_a_held_answer_in_the_page(home, live, browser, tmp_path):
    server, keys, _ = live
    advisor = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {keys['advisor']}"}, timeout=60
    )
    with advisor.stream("POST", "/api/chat", json={"message": RISKY}) as resp:
        body = "".join(resp.iter_text())
    assert '"status":"held"' in body
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, keys["officer"])
    page.click(".thread-item:has(.badge.held) >> nth=0")
    page.wait_for_selector(".held-box button.approve")
    assert "guaranteed" in page.inner_text(".held-box .answer.draft")
    shot(page, tmp_path, "web-held")
    page.click(".held-box button.approve")
    page.wait_for_selector(".answer:not(.draft)", timeout=30_000)
    assert page.locator(".held-box").count() == 0
    page.wait_for_selector(".thread-item.active .badge.answered")
    page.close()


def test_page_without_or_with_a_bad_key(home, live, browser):
    server, _, _ = live
    page = browser.new_page()
    page.goto(server.url + "/")
    page.wait_for_selector("#key-dialog[open]")  # no key stored: the page asks for one
    page.fill("#api-key", "fck_00000000_wrongwrongwrongwrongwrong")
    page.click("#save-key")
    page.wait_for_selector("#key-error:has-text('refused')")
    page.close()


def test_sidebar_shows_a_thread_as_finished_when_it_finishes_elsewhere(home, live, browser):
    """The advisor's page: a held thread's badge says `held`; once an officer approves it (through the API,
    not this page) the badge says `answered` without a reload."""
    server, keys, _ = live
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server.url, keys["advisor"])
    page.fill("#prompt", RISKY)
    page.click("#send")
    page.wait_for_selector(".run .meta:has-text('status: held')", timeout=60_000)
    page.wait_for_selector(".thread-item.active .badge.held", timeout=10_000)
    thread = page.get_attribute(".thread-item.active", "data-thread")
    officer = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {keys['officer']}"}, timeout=60
    )
    resp = officer.post(f"/api/threads/{thread}/review", json={"decision": "approve"})
    assert resp.status_code == 200 and resp.json()["status"] == "answered"
    page.wait_for_selector(f".thread-item[data-thread='{thread}'] .badge.answered", timeout=25_000)
    assert page.inner_text(f".thread-item[data-thread='{thread}'] .badge") == "answered"
    page.close()
