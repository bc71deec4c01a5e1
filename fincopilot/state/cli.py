"""`fincopilot db upgrade|status` (the state database's migrations) and `fincopilot threads prune` (retention)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from fincopilot.errors import InputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """`30d`, `12h`, `90m`, `45s`, `2w` → seconds; InputError naming the value otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not match:
        raise InputError(f"invalid duration {text!r}: use a number and a unit s, m, h, d or w (e.g. 30d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def upgrade_cmd() -> None:
    """Apply the schema migrations the state database lacks (also done when a process opens it)."""
    from fincopilot.state.db import state_db
    from fincopilot.state.migrations import applied, upgrade

    db = state_db()  # opening applies pending migrations; report what this database holds
    done = upgrade(db)
    for m in done:
        typer.echo(f"applied migration {m.version}: {m.name}")
    versions = applied(db)
    typer.echo(f"{db.engine} state database {db.where}: up to date at schema version {versions[-1][0]}")


def status_cmd() -> None:
    """Show where the state lives and which migrations are applied."""
    from fincopilot.state.db import state_db
    from fincopilot.state.migrations import applied, latest

    db = state_db()
    rows = applied(db)
    typer.echo(f"{db.engine} state database {db.where}: schema version {rows[-1][0]} (latest {latest()})")
    for version, name, at in rows:
        typer.echo(f"  {version:>3}  {at}  {name}")


def prune_cmd(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Delete finished threads idle this long (e.g. 30d, 12h).")
    ],
    keep_last: Annotated[
        int | None,
        typer.Option(
            "--keep-last", min=1, help="Keep only the newest N checkpoints of the threads that stay."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be deleted.")] = False,
) -> None:
    """Retention for checkpoints: finished threads idle longer than --older-than are deleted (held ones
    wait for their review); the audit log is never touched."""
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.state.db import state_db

    seconds = parse_duration(older_than)
    runner = CopilotRunner(use_model=False)
    before = state_db().size_bytes()
    report = runner.prune(seconds, keep_last, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {len(report.threads_deleted)} threads idle for over {older_than} "
        f"({report.runs_deleted} run records); kept {report.kept}; "
        f"trimmed {report.checkpoints_deleted} older checkpoints. State database: {before} bytes before."
    )


def register(app: typer.Typer) -> None:
    """Add `fincopilot db upgrade | status` and `fincopilot threads prune`."""
    db_app = typer.Typer(
        help="The state database (embedded SQLite, or PostgreSQL via database_url).", no_args_is_help=True
    )
    app.add_typer(db_app, name="db")

    threads_app = typer.Typer(help="Conversation threads: retention.", no_args_is_help=True)
    app.add_typer(threads_app, name="threads")
    db_app.command("upgrade")(upgrade_cmd)
    db_app.command("status")(status_cmd)
    threads_app.command("prune")(prune_cmd)
