"""`fincopilot chat`: a terminal chat. Rich shows the plan and each step live, then the cited answer.

It runs the copilot in this process (the same CopilotRunner and checkpoints as the server), or, with `--url`,
talks to a running server's `/api/chat` stream with an API key. Either way the events pass through the one
release policy (`fincopilot.graphs.release`) for the asker: a held answer is announced, its draft not shown.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fincopilot.errors import FinCopilotError, InputError
from fincopilot.graphs.events import Event
from fincopilot.graphs.release import RunView, released
from fincopilot.graphs.runner import CopilotRunner

HELP = "/new start a new thread · /thread show the thread id · /history show this thread · /quit (or Ctrl-D)"
_ICONS = {"pending": "·", "running": "…", "ok": "✓", "failed": "✗"}


class LiveRun:
    """The live state of one run (a `RunView` folded from its released events), renderable by Rich."""

    def __init__(self) -> None:
        self.view = RunView()

    def feed(self, event: Event) -> None:
        self.view.add(event)

    def __rich__(self) -> Group:
        view = self.view
        table = Table(title=f"Plan ({view.plan_source or 'planning…'})", title_justify="left", expand=False)
        table.add_column("#", justify="right")
        table.add_column("skill")
        table.add_column("args", overflow="fold", max_width=40)
        table.add_column("status")
        table.add_column("backend")
        table.add_column("time", justify="right")
        for sid, s in sorted(view.steps.items()):
            state = s.get("state", "pending")
            style = {"ok": "green", "failed": "red", "running": "yellow"}.get(state, "dim")
            args = ", ".join(f"{k}={v}" for k, v in (s.get("args") or {}).items())
            secs = f"{float(s['latency_s']):.2f}s" if s.get("latency_s") is not None else ""
            table.add_row(
                str(sid),
                str(s.get("skill")),
                args,
                Text(f"{_ICONS.get(state, '?')} {state}", style=style),
                str(s.get("backend") or ""),
                secs,
            )
        parts: list[Any] = [table]
        if not view.finished and view.steps and len(view.finished_steps()) == len(view.steps):
            parts.append(Text("writing and checking the answer…", style="dim"))
        return Group(*parts)


def render_result(console: Console, view: RunView) -> None:
    """The answer with its numbered sources, the compliance verdict, a held notice, errors."""
    if view.answer:
        body = Text(str(view.answer.get("text", "")))
        body.highlight_regex(r"\[\d+\]", "bold cyan")
        console.print(
            Panel(
                body, title="answer" + (" (draft)" if view.answer.get("draft") else ""), border_style="green"
            )
        )
        for c in view.answer.get("citations", []):
            step = view.steps.get(int(c.get("step_id", c.get("n", 0))), {})
            out = step.get("output") if isinstance(step.get("output"), dict) else {}
            sources = ", ".join(str(s) for s in (out or {}).get("sources", [])[:3])
            console.print(
                f"  [cyan][{c.get('n')}][/] step {c.get('step_id')} {step.get('skill', '')}"
                + (f": {sources}" if sources else "")
            )
    if view.compliance is not None:
        if view.compliance.get("passed"):
            console.print("[green]compliance: passed[/]")
        else:
            console.print("[red]compliance: failed[/]")
            for v in view.compliance.get("violations", []):
                console.print(f"  [red]-[/] {v.get('category')}: {v.get('reason') or v.get('rule')}")
    if view.held is not None or view.status == "held":
        reason = (view.held or {}).get("reason", "the compliance check failed")
        console.print(
            Panel(
                f"This answer is held for compliance review: {reason}.\n"
                f"A compliance officer must approve, edit or reject it (web page, or "
                f"`fincopilot review {view.thread_id}`).",
                title="held",
                border_style="yellow",
            )
        )
    if view.review:
        console.print(f"review: {view.review.get('decision')} by {view.review.get('reviewer')}")
    for err in view.errors:
        console.print(f"[red]error:[/] {err}")
    if view.status == "rejected":
        console.print("[yellow]the answer was rejected by a reviewer[/]")


def _local_events(runner: Any, text: str, thread_id: str) -> Iterator[Event]:
    """The events of a run in this process, as its asker sees them (a held draft is not shown)."""
    return released(runner.run(text, thread_id=thread_id), reviewer=False)


def _remote_events(client: Any, text: str, thread_id: str | None) -> Iterator[Event]:
    """Events from a server's `/api/chat` SSE stream (already gated by the server)."""
    payload = {"message": text, **({"thread_id": thread_id} if thread_id else {})}
    with client.stream("POST", "/api/chat", json=payload) as resp:
        if resp.status_code != 200:
            resp.read()
            try:
                message = resp.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text[:200]
            raise InputError(f"server answered {resp.status_code}: {message}")
        name = ""
        for line in resp.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name and name != "start":
                yield Event.model_validate(json.loads(line[5:]))
            elif line.startswith("data:") and name == "start":
                start = json.loads(line[5:])
                yield Event(
                    type="request", request_id=start.get("request_id", ""), thread_id=start["thread_id"]
                )


def _run_once(console: Console, events: Iterable[Event]) -> RunView:
    live = LiveRun()
    with Live(live, console=console, refresh_per_second=8, transient=False):
        for event in events:
            live.feed(event)
    if not console.is_terminal:  # Live printed only its final frame, without a line break
        console.line()
    render_result(console, live.view)
    return live.view


def _show_history(console: Console, view: dict[str, Any]) -> None:
    for turn in view.get("turns", []):
        who = "you" if turn.get("role") == "user" else "copilot"
        console.print(f"[bold]{who}>[/] {turn.get('content', '')}")
    console.print(f"[dim]status: {view.get('status')}[/]")


class _Session:
    """One chat: a local runner or a server client, and the current thread."""

    def __init__(self, console: Console, runner: Any = None, client: Any = None, thread: str | None = None):
        self.console, self.runner, self.client = console, runner, client
        self.thread_id = thread or self.new_thread_id()

    def new_thread_id(self) -> str | None:
        """A new thread id (local), or None: the server names the thread on the next request."""
        return "t-" + uuid.uuid4().hex[:16] if self.runner is not None else None

    def command(self, text: str) -> bool:
        """Handle a /command; False when `text` is not one (it is a request)."""
        if text == "/help":
            self.console.print(HELP)
        elif text == "/new":
            self.thread_id = self.new_thread_id()
            self.console.print(
                f"new thread {self.thread_id or '(assigned by the server on the next request)'}"
            )
        elif text == "/thread":
            self.console.print(f"thread {self.thread_id}")
        elif text == "/history":
            self.history()
        else:
            return False
        return True

    def history(self) -> None:
        if self.thread_id is None:
            self.console.print("no thread yet")
        elif self.runner is not None:
            _show_history(self.console, self.runner.thread(self.thread_id).model_dump(mode="json"))
        else:
            resp = self.client.get(f"/api/threads/{self.thread_id}")
            _show_history(self.console, resp.json() if resp.status_code == 200 else {"turns": []})

    def ask(self, text: str) -> None:
        if self.runner is not None:
            events = _local_events(self.runner, text, self.thread_id)
        else:
            events = _remote_events(self.client, text, self.thread_id)
        self.thread_id = _run_once(self.console, events).thread_id or self.thread_id


def _connect(console: Console, url: str, key: str | None) -> httpx.Client:
    """A client for the server at `url`, once it accepts `key`."""
    if not key:
        raise InputError("--url needs an API key: --key KEY or $FINCOPILOT_API_KEY")
    client = httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(10.0, read=None),
    )
    me = client.get("/api/me")
    if me.status_code != 200:
        client.close()
        raise InputError(f"server at {url} refused the key ({me.status_code})")
    who = me.json()
    console.print(f"connected to {url} as {who['name']} ({who['role']})")
    return client


def run_chat(
    *,
    thread: str | None = None,
    use_model: bool = True,
    url: str | None = None,
    key: str | None = None,
    console: Console | None = None,
    stdin: Any = None,
) -> None:
    """The chat loop: one line per request until /quit or end of input."""
    console = console or Console()
    stdin = stdin or sys.stdin
    if url:
        session = _Session(console, client=_connect(console, url, key), thread=thread)
    else:
        session = _Session(console, runner=CopilotRunner(use_model=use_model), thread=thread)
    console.print(f"[bold]FinCopilot chat[/] · thread {session.thread_id or '(new)'} · {HELP}")
    try:
        _loop(session, stdin)
    finally:
        if session.client is not None:
            session.client.close()


def _loop(session: _Session, stdin: Any) -> None:
    console = session.console
    while True:
        console.print("[bold]you>[/] ", end="")
        line = stdin.readline()
        if not line:
            console.print()
            return
        text = line.strip()
        if text in ("/quit", "/exit"):
            return
        if not text:
            continue
        try:
            if not session.command(text):
                session.ask(text)
        except FinCopilotError as err:
            console.print(f"[red]error:[/] {err}")
