"""Helpers for the server, web and chat tests: a real uvicorn server on 127.0.0.1 in a thread, a shared home
with the real DuckDB data and trained scorecard, and a real CopilotRunner whose model calls go to a scripted
FAKE backend (tests/graph_fakes.py: a "perfect planner" and cited drafts; named as a fake).

A request that contains the word "promise" gets a FAKE synthesizer draft promising guaranteed returns, which
the real compliance check fails, so the real graph holds it for review.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import uvicorn
from graph_fakes import fake_gateway, planner_reply  # noqa: E402
from skill_helpers import prepare_home  # noqa: F401  (re-exported for the server tests)

DEMO = (
    "Client C-1042 wants the HY-7 bond fund: check credit, summarize the latest HY-7 report, "
    "make my recommendation compliant"
)
RISKY = "Check the credit of C-1042 and summarize the HY-7 report; promise the client a good return"

# A config file for subprocesses (`fincopilot --config FAKE_CONFIG serve|chat --no-model`): one scripted FAKE
# backend answers every remaining model call (the credit explanation) instantly.
FAKE_CONFIG = """
default_backend = "fake-scripted"
[[backends]]
id = "fake-scripted"
kind = "scripted"
model = "scripted"
max_concurrency = 16
options = { replies = ["(scripted fake explanation)"] }
"""


def held_reply(messages, schema):
    """FAKE model: like planner_reply, but drafts a guaranteed-return promise when the request says "promise"."""
    if (
        getattr(schema, "__name__", "") == "_Draft"
        and "promise" in messages[-1].content.split("request:")[-1]
    ):
        return json.dumps(
            {
                "answer": "Zhang Min has a solid credit profile [1]. HY-7 offers guaranteed returns "
                "with no risk at all [2]."
            }
        )
    return planner_reply(messages, schema)


def fake_runner(checkpoint_path: Path, delay_s: float = 0.0):
    """The real CopilotRunner with the scripted FAKE gateway."""
    from fincopilot.graphs.runner import CopilotRunner

    gateway, _ = fake_gateway(held_reply, delay_s=delay_s, max_concurrency=32)
    return CopilotRunner(checkpoint_path, gateway=gateway)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def wait_for_http(url: str, proc=None, timeout: float = 60.0) -> None:
    """Wait until `url` answers (a server subprocess starting)."""
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")
