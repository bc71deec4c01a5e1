"""`fincopilot audit verify`, `fincopilot audit anchor` and `fincopilot audit show REQUEST_ID`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

ANCHORS_HELP = "Anchors file (default: $FINCOPILOT_AUDIT_ANCHORS or FINCOPILOT_HOME/audit-anchors.jsonl)."


def verify_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    anchors: Annotated[Path | None, typer.Option("--anchors", help=ANCHORS_HELP)] = None,
) -> None:
    """Walk the keyed chain and check it against the signed anchors: OK with the row count, or the first
    edited, deleted, reordered or forged row, or a log holding less than an anchor says (exit 1)."""
    from fincopilot.safety import audit

    report = audit.verify(anchors=anchors)
    if as_json:
        typer.echo(report.model_dump_json())
    elif report.ok:
        head = f", head {report.head_hash[:16]}…" if report.head_hash else ""
        typer.echo(
            f"OK: {report.count} rows, hash chain intact{head}, {report.anchors_checked} anchors "
            f"checked ({audit._store().where})"
        )
        if report.warning:
            typer.echo(f"warning: {report.warning}", err=True)
    else:
        where = f" at row {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        typer.echo(f"TAMPERED{where}: {report.problem} ({report.count} rows verified before it)")
    if not report.ok:
        raise typer.Exit(1)


def anchor_cmd(out: Annotated[Path | None, typer.Option("--out", help=ANCHORS_HELP)] = None) -> None:
    """Verify the log, sign its head (row count + head hash) and append the anchor to the anchors file;
    the line is printed too: keep a copy outside this machine (WORM storage, a ticket, an e-mail)."""
    from fincopilot.safety import audit

    typer.echo(audit.anchor(out).model_dump_json())


def show_cmd(
    request_id: Annotated[str, typer.Argument(help="The request id (e.g. req-1a2b3c4d5e6f).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Print a request's full trail: request, plan, steps, tool calls, routes, compliance, review."""
    from fincopilot.safety import audit

    trail = audit.trail(request_id)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in trail], ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"audit trail of {request_id}", show_lines=False)
    table.add_column("seq", justify="right")
    table.add_column("time (UTC)")
    table.add_column("event", style="bold")
    table.add_column("details", overflow="fold")
    for row in trail:
        details = "  ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in row.payload.items())
        table.add_row(str(row.seq), row.ts[11:23], row.event, details[:400])
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `fincopilot audit verify | anchor | show`."""
    audit_app = typer.Typer(
        help="The tamper-evident audit log (keyed hash chain, signed anchors).", no_args_is_help=True
    )

    app.add_typer(audit_app, name="audit")
    audit_app.command("verify")(verify_cmd)
    audit_app.command("anchor")(anchor_cmd)
    audit_app.command("show")(show_cmd)
