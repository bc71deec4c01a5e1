"""`fincopilot arena run | report | promote`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

arena_app = typer.Typer(
    help="Model arena: measure backends and baselines per skill; promote a routing table.",
    no_args_is_help=True,
)


@arena_app.command("run")
def run_cmd(
    skill: Annotated[str, typer.Option("--skill", help="planner or any installed skill")],
    backends: Annotated[
        str,
        typer.Option(
            "--backends", help="comma-separated backend ids and/or baselines (each skill declares its own)"
        ),
    ],
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="JSONL eval set (default: the built-in one)")
    ] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", help="backend id that judges pairs (both orders)")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="item sampling under --limit and bootstrap seed")] = 0,
    split: Annotated[str, typer.Option("--split", help="train, heldout or all")] = "heldout",
    limit: Annotated[
        int | None, typer.Option("--limit", help="at most N items (sampled with --seed)")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="concurrent items per candidate")] = 2,
    baseline: Annotated[
        bool,
        typer.Option("--baseline/--no-baseline", help="add the skill's classical baseline if not listed"),
    ] = True,
) -> None:
    """Run candidates on a skill's eval set; prints the leaderboard."""
    from fincopilot.errors import InputError
    from fincopilot.evals.arena import default_baseline, run_arena
    from fincopilot.evals.report import collect, print_leaderboard

    if split not in ("train", "heldout", "all"):
        raise InputError(f"unknown split {split!r}; use train, heldout or all")
    if workers < 1 or workers > 32:
        raise InputError("--workers must be between 1 and 32")
    names = [b.strip() for b in backends.split(",") if b.strip()]
    declared = default_baseline(skill) if baseline else None
    if declared and declared not in names:
        names.append(declared)
    result = run_arena(
        skill,
        names,
        dataset=dataset,
        split=split,
        limit=limit,
        seed=seed,
        judge=judge,  # type: ignore[arg-type]
        workers=workers,
    )
    typer.echo(
        f"run {result.run_id}: {result.n_items} items, {result.model_calls} model calls "
        f"({'all cached' if result.model_calls == 0 else 'new'})"
    )
    print_leaderboard([d for d in collect(skill=skill) if d[0]["run_id"] == result.run_id])


@arena_app.command("report")
def report_cmd(
    skill: Annotated[
        str | None, typer.Option("--skill", help="only this skill (default: every skill)")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="write the HTML report here")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="write the PNG charts here")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="write the leaderboard as Markdown")
    ] = None,
) -> None:
    """Leaderboards of the latest run per skill; optional HTML/PNG/Markdown report."""
    from fincopilot.evals.report import (
        collect,
        markdown_leaderboard,
        print_leaderboard,
        write_html,
        write_png,
    )

    data = collect(skill=skill)
    print_leaderboard(data)
    if html:
        typer.echo(f"HTML report: {write_html(data, html)}")
    if png:
        typer.echo(f"PNG charts: {write_png(data, png)}")
    if markdown:
        markdown.write_text(markdown_leaderboard(data), encoding="utf-8")
        typer.echo(f"Markdown: {markdown}")


@arena_app.command("promote")
def promote_cmd() -> None:
    """Write home()/routing.json from the latest arena results; running routers reload it."""
    from fincopilot.evals.arena import promote

    table, path = promote()
    for skill, route in sorted(table.skills.items()):
        chain = " → ".join(route.chain) or "(none: the default chain applies)"
        typer.echo(f"{skill:18s} {chain}    {route.reason}")
        for line in route.evidence:
            typer.echo(f"{'':18s}   evidence {line}")
        for backend, why in route.excluded.items():
            typer.echo(f"{'':18s}   excluded {backend}: {why}")
    typer.echo(f"routing table written: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(arena_app, name="arena")
