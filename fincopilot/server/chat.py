"""`fincopilot chat`: a terminal chat. Rich shows the plan and each step live, then the cited answer.

It runs the copilot in this process (the same CopilotRunner and checkpoints as the server), or, with `--url`,
talks to a running server's `/api/chat` stream with an API key. Either way the events pass through the
server's compliance-first gate: a held answer is announced, not shown.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fincopilot.errors import FinCopilotError, InputError
from fincopilot.graphs.events import Event

HELP = "/new start a new thread · /thread show the thread id · /history show this thread · /quit (or Ctrl-D)"
_ICONS = {"pending": "·", "running": "…", "ok": "✓", "failed": "✗"}


class RunView:
    """The live state of one run, renderable by Rich."""

    def __init__(self) -> None:
        self.plan_source = ""
        self.steps: dict[int, dict[str, Any]] = {}
        self.answer: dict[str, Any] | None = None
        self.compliance: dict[str, Any] | None = None
        self.held: dict[str, Any] | None = None
        self.review: dict[str, Any] | None = None
        self.errors: list[str] = []
        self.status = "running"
        self.thread_id: str | None = None

    def feed(self, event: Event) -> None:
        d = event.data
        self.thread_id = event.thread_id or self.thread_id
        if event.type == "plan":
            self.plan_source = str(d.get("source", ""))
            for s in d.get("steps", []):
                self.steps[int(s["id"])] = {
                    "skill": s.get("skill"),
                    "args": s.get("args", {}),
                    "state": "pending",
                }
        elif event.type == "step_start":
            step = self.steps.setdefault(int(d["id"]), {"skill": d.get("skill"), "args": d.get("args", {})})
            step["state"] = "running"
        elif event.type == "step_finish":
            step = self.steps.setdefault(int(d["id"]), {"skill": d.get("skill"), "args": {}})
            step.update(
                state="ok" if d.get("ok", True) else "failed",
                backend=d.get("backend"),
                latency_s=d.get("latency_s"),
                output=d.get("output"),
                error=d.get("error"),
            )
        elif event.type == "answer":
            self.answer = d
        elif event.type == "compliance":
            self.compliance = d
        elif event.type == "held":
            self.held = d
        elif event.type == "review":
            self.review = d
        elif event.type == "error":
            self.errors.append(str(d.get("message", "")))
        elif event.type == "done":
            self.status = str(d.get("status", "failed"))

    def __rich__(self) -> Group:
        table = Table(title=f"Plan ({self.plan_source or 'planning…'})", title_justify="left", expand=False)
        table.add_column("#", justify="right")
        table.add_column("skill")
        table.add_column("args", overflow="fold", max_width=40)
        table.add_column("status")
        table.add_column("backend")
        table.add_column("time", justify="right")
        for sid, s in sorted(self.steps.items()):
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
        if (
            self.status == "running"
            and self.steps
            and all(s.get("state") in ("ok", "failed") for s in self.steps.values())
        ):
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
    from fincopilot.server.api import ReleaseGate

    gate = ReleaseGate("advisor")
    for event in runner.run(text, thread_id=thread_id):
        yield from gate.feed(event)


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
    view = RunView()
    with Live(view, console=console, refresh_per_second=8, transient=False):
        for event in events:
            view.feed(event)
    if not console.is_terminal:  # Live printed only its final frame, without a line break
        console.line()
    render_result(console, view)
    return view


def _show_history(console: Console, view: dict[str, Any]) -> None:
    for turn in view.get("turns", []):
        who = "you" if turn.get("role") == "user" else "copilot"
        console.print(f"[bold]{who}>[/] {turn.get('content', '')}")
    console.print(f"[dim]status: {view.get('status')}[/]")


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
    client = runner = None
    if url:
        import httpx

        if not key:
            raise InputError("--url needs an API key: --key KEY or $FINCOPILOT_API_KEY")
        client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(10.0, read=None),
        )
        me = client.get("/api/me")
        if me.status_code != 200:
            raise InputError(f"server at {url} refused the key ({me.status_code})")
        who = me.json()
        console.print(f"connected to {url} as {who['name']} ({who['role']})")
    else:
        from fincopilot.graphs.runner import CopilotRunner

        runner = CopilotRunner(use_model=use_model)
    thread_id = thread or ("t-" + uuid.uuid4().hex[:16] if runner is not None else None)
    console.print(f"[bold]FinCopilot chat[/] · thread {thread_id or '(new)'} · {HELP}")
    while True:
        console.print("[bold]you>[/] ", end="")
        line = stdin.readline()
        if not line:
            console.print()
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/help":
            console.print(HELP)
            continue
        if text == "/new":
            thread_id = "t-" + uuid.uuid4().hex[:16] if runner is not None else None
            console.print(f"new thread {thread_id or '(assigned by the server on the next request)'}")
            continue
        if text == "/thread":
            console.print(f"thread {thread_id}")
            continue
        try:
            if text == "/history":
                if thread_id is None:
                    console.print("no thread yet")
                elif runner is not None:
                    _show_history(console, runner.thread(thread_id).model_dump(mode="json"))
                else:
                    resp = client.get(f"/api/threads/{thread_id}")
                    _show_history(console, resp.json() if resp.status_code == 200 else {"turns": []})
                continue
            events = (
                _local_events(runner, text, thread_id)
                if runner is not None
                else _remote_events(client, text, thread_id)
            )
            view = _run_once(console, events)
            thread_id = view.thread_id or thread_id
        except FinCopilotError as err:
            console.print(f"[red]error:[/] {err}")
    if client is not None:
        client.close()
