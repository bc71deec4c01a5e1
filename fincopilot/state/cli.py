"""`fincopilot db upgrade|status` (the state database's migrations) and `fincopilot threads prune` (retention)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="The state database (embedded SQLite, or PostgreSQL via database_url).",
                         no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
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

    @db_app.command("status")
    def status_cmd() -> None:
        """Show where the state lives and which migrations are applied."""
        from fincopilot.state.db import state_db
        from fincopilot.state.migrations import applied, latest

        db = state_db()
        rows = applied(db)
        typer.echo(f"{db.engine} state database {db.where}: schema version {rows[-1][0]} (latest {latest()})")
        for version, name, at in rows:
            typer.echo(f"  {version:>3}  {at}  {name}")
