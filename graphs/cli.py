"""CLI for the planner and the executor: `plan`, `ask`, `review`, `demo`.

`plan --json` prints only the plan JSON on stdout (logs go to stderr); `ask` and `demo` show live progress
of the steps (Rich, on stderr) and then the answer, its citations, the per-step trace and the compliance
verdict.
"""

from __future__ import annotations

import itertools
import json
from typing import Annotated

import typer

DEMO_REQUEST = (
    "Client C-1042 wants the HY-7 bond fund: check credit, summarize the latest HY-7 report, "
    "make my recommendation compliant"
)


def _ensure_scorecard(out) -> None:
    """Train the scorecard before the demo's output starts, so no log line lands inside it."""
    from fincopilot.tools import scorecard

    if not (scorecard.models_dir() / scorecard.model_version() / "model.json").exists():
        with out.status("no scorecard artifact yet: training it (`fincopilot risk train`) …"):
            scorecard.train()


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


_STATE_LABELS = {"pending": "waiting", "ok": "done"}
_STATE_STYLES = {"running": "yellow", "done": "green", "failed": "red"}


def _state(step: dict) -> str:
    return _STATE_LABELS.get(step.get("state", "pending"), step.get("state", "pending"))


def _progress_table(view, title: str):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title or "steps", expand=False)
    for col in ("step", "skill", "args", "state", "produced by", "latency"):
        t.add_column(col)
    for sid, s in sorted(view.steps.items()):
        state = _state(s)
        t.add_row(
            str(sid),
            str(s.get("skill")),
            escape(json.dumps(s.get("args", {}), ensure_ascii=False))[:60],
            f"[{_STATE_STYLES.get(state, 'dim')}]{state}[/]",
            str(s.get("produced_by") or s.get("backend") or ""),
            f"{s['latency_s']:.2f} s" if s.get("latency_s") is not None else "",
        )
    return t


def _show_run(events, *, reviewer: bool = False, title: str = "") -> str:
    """Render a run live, as its viewer may see it (the asker never sees a held draft; a reviewer does);
    return the final status."""
    from rich.live import Live
    from rich.markup import escape

    from fincopilot.graphs.release import RunView, released

    out, err = _console(), _console(stderr=True)
    view = RunView()
    # the first event is taken before the live table is drawn: a run that cannot start (an unknown thread)
    # fails with its error line alone, not under an empty table
    events = released(events, reviewer=reviewer)
    first = next(events, None)
    with Live(_progress_table(view, title), console=err, refresh_per_second=4, transient=False) as live:
        for ev in itertools.chain([first] if first is not None else [], events):
            if ev.type == "planning" and ev.data.get("stage") == "rejected":
                problems = ev.data.get("problems") or ["invalid"]
                live.console.print(
                    f"[dim]plan attempt {ev.data.get('attempt')} rejected: {escape(problems[0])}[/]"
                )
            if ev.type == "plan":
                live.console.print(
                    f"[bold]plan[/] ({ev.data.get('source')}: {escape(ev.data.get('reason', ''))})"
                )
            view.add(ev)
            live.update(_progress_table(view, title))
    if not err.is_terminal:
        err.line()  # a redirected Live leaves its last line open
    _print_result(out, view)
    return view.status if view.finished else "failed"


def _print_answer(out, view) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    answer = view.answer
    title = "Draft answer (held, not released)" if answer.get("draft") else f"Answer ({answer.get('method')})"
    out.print(Panel(escape(answer.get("text", "")), title=title, expand=False))
    cites = answer.get("citations", [])
    if cites:
        out.print(
            "[bold]Citations[/]: "
            + ", ".join(
                f"[{c['n']}] step {c['step_id']} {view.steps.get(c['step_id'], {}).get('skill', '')}"
                for c in cites
            )
        )
    out.print(
        f"numbers checked: {answer.get('numbers_checked', 0)}; unsupported: "
        f"{answer.get('unsupported_numbers') or 'none'}"
    )


def _print_draft(held: dict | None) -> None:
    """The draft of a held answer, for its reviewer."""
    from rich.markup import escape
    from rich.panel import Panel

    from fincopilot.graphs.release import held_for

    draft = (held_for(held, reviewer=True) or {}).get("answer")
    if draft:
        _console().print(Panel(escape(str(draft)), title="Draft answer (held, not released)", expand=False))


def _print_result(out, view) -> None:
    """The plan, errors, the released answer, the per-step trace, the verdict and the final status."""
    from rich.markup import escape

    if view.plan:
        out.print("[bold]Plan[/]")
        out.print_json(json.dumps({"steps": view.plan}, ensure_ascii=False))
    for e in view.errors:
        out.print(f"[red]error:[/] {escape(e)}")
    if view.answer:
        _print_answer(out, view)
    if view.steps:
        out.print("[bold]Trace[/]")
        for sid, s in sorted(view.steps.items()):
            extra = f"  error: {escape(str(s['error']))[:160]}" if s.get("error") else ""
            lat = f"{s['latency_s']:.2f} s" if s.get("latency_s") is not None else "-"
            state = _state(s) if s.get("state") != "pending" else "not run"
            out.print(
                f"  [{sid}] {s.get('skill')!s:<17} {state:<8} backend={s.get('backend') or '-'}"
                f"  produced_by={s.get('produced_by') or '-'}  latency={lat}{extra}"
            )
    if view.compliance is not None:
        verdict = "[green]passed[/]" if view.compliance.get("passed") else "[red]failed[/]"
        out.print(f"[bold]Compliance[/]: {verdict}")
        for v in view.compliance.get("violations", []):
            out.print(f"  - {v.get('category')} ({v.get('rule')}): {escape(str(v.get('reason')))}")
    if view.status == "held":
        out.print(
            f"[yellow bold]Held for human review[/] (thread {view.thread_id}). {escape(view.held_reason or '')}"
        )
        out.print(f"Approve with: fincopilot review {view.thread_id} --approve --reviewer YOUR_NAME")
    else:
        status = view.status if view.finished else "failed"
        out.print(f"status: [bold]{status}[/]" + (f" (thread {view.thread_id})" if view.thread_id else ""))


def plan_cmd(
    request: Annotated[str, typer.Argument(help="The advisor's request.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {steps, direct_answer, source, backend}.")
    ] = False,
    no_model: Annotated[bool, typer.Option("--no-model", help="Rules-only planner (no model call).")] = False,
    no_rules: Annotated[
        bool, typer.Option("--no-rules", help="The model alone: an invalid plan exits 1.")
    ] = False,
    repairs: Annotated[int, typer.Option("--repairs", min=0, max=5, help="Repair rounds.")] = 1,
) -> None:
    """Turn a request into a validated plan (a DAG of skill steps), or a direct answer."""
    from fincopilot.agents.planner import ensure_valid, plan_request
    from fincopilot.errors import PlanValidationError
    from fincopilot.log import request_context

    if no_model and no_rules:
        raise typer.BadParameter("--no-model and --no-rules leave nothing to plan with; drop one")
    try:
        with request_context() as rid:
            outcome = plan_request(
                request,
                max_repairs=repairs,
                request_id=rid,
                use_model=not no_model,
                use_rules=not no_rules,
            )
    except PlanValidationError as err:
        typer.echo("the model's plan is invalid: " + "; ".join(err.problems[:8]), err=True)
        raise typer.Exit(1) from None
    plan = outcome.plan
    if plan.steps:
        ensure_valid(plan)  # never print an invalid plan
    if as_json:
        typer.echo(
            json.dumps(
                {
                    **plan.plan_json(),
                    "direct_answer": plan.direct_answer,
                    "source": outcome.source,
                    "backend": outcome.backend,
                },
                ensure_ascii=False,
            )
        )
        return
    _print_plan(outcome)


def _print_plan(outcome) -> None:
    """A planning outcome for a person: where the plan came from, rejected attempts, the plan."""
    from rich.markup import escape

    out, plan = _console(), outcome.plan
    out.print(
        f"source: {outcome.source} ({escape(outcome.reason)})"
        + (f", backend {outcome.backend}" if outcome.backend else "")
    )
    if outcome.problems:
        out.print("rejected model attempts: " + escape("; ".join(outcome.problems[:4])))
    if plan.steps:
        out.print_json(json.dumps(plan.plan_json(), ensure_ascii=False))
    else:
        out.print(
            "no skill needed: the copilot answers directly"
            + (f" ({escape(plan.direct_answer)})" if plan.direct_answer else "")
        )


def ask_cmd(
    request: Annotated[str, typer.Argument(help="The advisor's request.")],
    thread: Annotated[str | None, typer.Option("--thread", help="Conversation thread id.")] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Rules-only planner and template answer.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the events as JSON lines.")] = False,
) -> None:
    """Run the full copilot: plan, parallel steps, cited answer, compliance gate.

    Exit 1 when the run failed; exit 3 when it answered without the model because the model cannot load."""
    from fincopilot.graphs.release import released
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.models.status import warm_default

    model_problem = None if no_model else warm_default()
    if model_problem:
        typer.secho(f"WARNING: {model_problem}", err=True, fg="red", bold=True)
    runner = CopilotRunner(use_model=not no_model)
    events = runner.run(request, thread_id=thread)
    if as_json:  # the asker's view: a held draft is not printed
        for ev in released(events, reviewer=False):
            typer.echo(ev.model_dump_json())
        if model_problem:
            raise typer.Exit(3)
        return
    status = _show_run(events, title="ask")
    if status == "failed":
        raise typer.Exit(1)
    if model_problem:
        raise typer.Exit(3)  # answered by rules and templates only: never a silent exit 0


def review_cmd(
    thread: Annotated[str, typer.Argument(help="Thread id of the held answer.")],
    approve: Annotated[bool, typer.Option("--approve")] = False,
    reject: Annotated[bool, typer.Option("--reject")] = False,
    edit: Annotated[str | None, typer.Option("--edit", help="Replace the answer with this text.")] = None,
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who decides (audited).")] = "cli",
    show: Annotated[bool, typer.Option("--show", help="Only show what is held.")] = False,
) -> None:
    """Decide on an answer held by the compliance gate (works after a restart)."""
    from fincopilot.errors import InputError
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.graphs.state import Review

    runner = CopilotRunner()
    if show:
        view = runner.thread(thread)
        typer.echo(json.dumps(view.model_dump(), ensure_ascii=False, indent=2, default=str))
        return
    chosen = [
        name for name, on in (("approve", approve), ("reject", reject), ("edit", edit is not None)) if on
    ]
    if len(chosen) != 1:
        raise InputError("choose exactly one of --approve, --reject, --edit TEXT")
    try:
        review = Review(decision=chosen[0], reviewer=reviewer, text=edit)  # type: ignore[arg-type]
    except ValueError as err:
        raise InputError(f"invalid review: {err}") from None
    if _show_run(runner.resume(thread, review), reviewer=True, title="review") == "held":
        _print_draft(runner.thread(thread).held)  # an edit that failed the gate again: the reviewer's draft


def demo_cmd(
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Rules-only planner and template answer.")
    ] = False,
    thread: Annotated[str | None, typer.Option("--thread")] = None,
) -> None:
    """The main demo: one advisor request through the whole copilot on the embedded model."""
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.paths import db_path

    out = _console()
    if not db_path().exists():
        from fincopilot.tools.data import init_db

        out.print(f"no database at {db_path()}: running `fincopilot data init` …")
        res = init_db()
        out.print(f"created {res.path} ({sum(res.counts.values())} rows)")
    _ensure_scorecard(out)
    out.print(f"[bold]Advisor request[/]: {DEMO_REQUEST}")
    out.print(
        "[dim]Backends: the router's choice per skill (embedded SmolLM2-135M by default, on CPU: "
        "expect a minute or two).[/]"
    )
    runner = CopilotRunner(use_model=not no_model)
    status = _show_run(runner.run(DEMO_REQUEST, thread_id=thread), title="demo")
    if status == "failed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
    app.command("ask")(ask_cmd)
    app.command("review")(review_cmd)
    app.command("demo")(demo_cmd)
