"""`fincopilot serve`, `fincopilot keys create|revoke|list`, `fincopilot chat`."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def _warm_model() -> None:
    """Load the default model now; a missing or broken one is a loud warning, not a silent downgrade."""
    from fincopilot.models.status import warm_default

    problem = warm_default()
    if problem:
        typer.secho(f"WARNING: {problem}", err=True, fg="red", bold=True)


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = 8000,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Rules-only planner and template answers (no model calls).")
    ] = False,
) -> None:
    """Serve the OpenAI-compatible API (/v1), the web chat page (/) and its JSON API (/api)."""
    import uvicorn

    from fincopilot.server.app import DEFAULT_MODEL, create_app
    from fincopilot.server.keys import KeyStore
    from fincopilot.state.runs import replica_name

    keys = KeyStore()
    runners = None
    if no_model:
        from fincopilot.graphs.runner import CopilotRunner

        runners = {DEFAULT_MODEL: CopilotRunner(use_model=False)}
    typer.echo(f"state: {keys.db.engine} {keys.db.where} (replica {replica_name()})", err=True)
    if not any(k.active for k in keys.list()):
        typer.echo("note: no API keys yet; create one with `fincopilot keys create --role advisor`", err=True)
    if not no_model:
        _warm_model()  # loaded once, kept warm for every request; a broken model is said at start
    app_ = create_app(runners, keys=keys)
    # The bound address (port 0 picks one) is printed by uvicorn: "Uvicorn running on http://HOST:PORT".
    uvicorn.run(app_, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=5)


def keys_create(
    role: Annotated[str, typer.Option("--role", help="advisor or compliance_officer")],
    name: Annotated[str | None, typer.Option("--name", help="Who holds the key (shown in audits).")] = None,
    principal: Annotated[
        str | None,
        typer.Option(
            "--principal",
            help="The person: a principal id (p-...) or a unique handle such as an e-mail; "
            "default: the normalized name",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    from fincopilot.server.keys import KeyStore

    record, plaintext = KeyStore().create(role, name, principal)
    if as_json:
        typer.echo(json.dumps({**record.model_dump(), "key": plaintext}))
        return
    typer.echo(plaintext)
    typer.echo(
        f"key id {record.key_id}, role {record.role}, name {record.name!r}, principal "
        f"{record.principal_id}. Store the key now: it is not shown again.",
        err=True,
    )


def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (8 hex digits; see `keys list`).")],
) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    from fincopilot.server.keys import KeyStore

    record = KeyStore().revoke(key_id)
    typer.echo(f"revoked key {record.key_id} ({record.role}, {record.name}) at {record.revoked_at}")


def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False) -> None:
    """List keys (ids, roles, names, dates; never the keys themselves)."""
    from rich.console import Console
    from rich.table import Table

    from fincopilot.server.keys import KeyStore

    records = KeyStore().list()
    if as_json:
        for r in records:
            typer.echo(r.model_dump_json())
        return
    table = Table("key id", "role", "name", "principal", "created", "last used", "status")
    for r in records:
        table.add_row(
            r.key_id,
            r.role,
            r.name,
            r.principal_id,
            r.created_at[:16].replace("T", " "),
            (r.last_used_at or "-")[:16].replace("T", " "),
            "active" if r.active else f"revoked {r.revoked_at[:16].replace('T', ' ')}",
        )
    Console().print(table if records else "no keys yet: `fincopilot keys create --role advisor`")


def doctor_cmd() -> None:
    """Check the set-up (model files, llama.cpp, database, test browser, fonts, PostgreSQL); say what to run."""
    from rich.console import Console
    from rich.table import Table

    from fincopilot.server.doctor import run_checks

    checks = run_checks()
    table = Table("check", "state", "detail", "to fix, run")
    for c in checks:
        state = "[green]ok[/]" if c.ok else ("[red bold]FAIL[/]" if c.required else "[yellow]missing[/]")
        table.add_row(c.name, state, c.detail, "" if c.ok else c.fix)
    console = Console()
    if not console.is_terminal:
        console.width = 200
    console.print(table)
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)


def chat_cmd(
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread.")] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Rules-only planner and template answers.")
    ] = False,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Talk to a running server instead (e.g. http://127.0.0.1:8000)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", envvar="FINCOPILOT_API_KEY", help="API key for --url (or $FINCOPILOT_API_KEY)."
        ),
    ] = None,
) -> None:
    """Terminal chat: the plan and steps live as they run, then the cited answer. /help for commands."""
    from fincopilot.server.chat import run_chat

    if not no_model and url is None:
        _warm_model()
    run_chat(thread=thread, use_model=not no_model, url=url, key=key)


def register(app: typer.Typer) -> None:
    keys_app = typer.Typer(
        help="API keys for the server (roles: advisor, compliance_officer).", no_args_is_help=True
    )
    app.add_typer(keys_app, name="keys")
    app.command("serve")(serve_cmd)
    keys_app.command("create")(keys_create)
    keys_app.command("revoke")(keys_revoke)
    keys_app.command("list")(keys_list)
    app.command("doctor")(doctor_cmd)
    app.command("chat")(chat_cmd)
