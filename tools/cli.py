"""CLI for the domain area: `data init|clients|products|reports`, `risk train`, `credit`, `compliance check`,
`summarize`. `--json` output goes to stdout; logs and progress go to stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fincopilot.errors import InputError


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _run_skill(name: str, args: dict[str, Any]):
    from fincopilot.agents.skills import SkillContext, get_skill
    from fincopilot.log import request_context
    from fincopilot.principal import local_operator

    s = get_skill(name)
    with request_context() as rid:
        return s.run(
            args, SkillContext(skill=name, request_id=rid, allowed_tools=s.tools, principal=local_operator())
        )


def data_init(
    db: Annotated[
        Path | None, typer.Option("--db", help="DuckDB file (default: $FINCOPILOT_DB or home)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-create the tables even if up to date.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    kb: Annotated[
        bool, typer.Option("--kb/--no-kb", help="Also write and ingest the seeded documents.")
    ] = True,
) -> None:
    """Create the demo bank's database and knowledge base (deterministic; safe to re-run)."""
    from fincopilot.tools.data import init_db
    from fincopilot.tools.kb_cli import seed_knowledge_base

    result = init_db(db, force=force)
    if kb:
        seed_knowledge_base()
    if as_json:
        _print_json(result.model_dump())
        return
    state = "created" if result.created else "already up to date"
    typer.echo(f"{result.path}: {state} (content {result.content_hash})")
    for table, n in result.counts.items():
        typer.echo(f"  {table:<15} {n:>6}")


def data_clients(
    search: Annotated[
        str, typer.Option("--search", help="Part of a client id or name (English or Chinese).")
    ],
    limit: Annotated[int, typer.Option("--limit")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Find client ids by name."""
    from fincopilot.tools.data import search_clients

    found = search_clients(search, limit=limit)
    if as_json:
        _print_json(
            [c.model_dump(include={"client_id", "name_en", "name_zh", "risk_profile"}) for c in found]
        )
        return
    for c in found:
        typer.echo(f"{c.client_id}  {c.name_en} ({c.name_zh})  risk profile {c.risk_profile}")
    if not found:
        typer.echo("no matching clients")


def data_products(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the products."""
    from fincopilot.tools.data import list_products

    products = list_products()
    if as_json:
        _print_json([p.model_dump() for p in products])
        return
    for p in products:
        typer.echo(f"{p.code:<6} {p.risk_level}  {p.product_type:<18} {p.name_en}")


def data_reports(
    product: Annotated[str, typer.Option("--product", help="Product code, e.g. HY-7.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a product's research reports (newest first)."""
    from fincopilot.tools.data import list_reports

    reports = list_reports(product)
    if as_json:
        _print_json([r.model_dump(exclude={"body"}) for r in reports])
        return
    for r in reports:
        typer.echo(f"{r.report_id}  {r.report_date}  {r.language}  {r.title}")


def risk_train(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Train the scorecard with 5-fold stratified CV; store the versioned artifact and its metrics."""
    from fincopilot.tools.scorecard import train

    result = train(progress=True)
    if as_json:
        _print_json(result.model_dump())
        return
    m = result.metrics
    typer.echo(f"scorecard {result.version} -> {result.path}")
    typer.echo(
        f"{m['cv_folds']}-fold stratified CV on {m['n_rows']} applicants (bad rate {m['bad_rate']:.1%}):"
    )
    typer.echo(f"  AUC   {m['cv_auc']:.4f} ± {m['cv_auc_std']:.4f}")
    typer.echo(f"  KS    {m['cv_ks']:.4f} ± {m['cv_ks_std']:.4f}")
    typer.echo(f"  Brier {m['cv_brier']:.4f} ± {m['cv_brier_std']:.4f}")


def credit(
    client: Annotated[str, typer.Argument(help="Client id (C-1042) or full name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Let the small model phrase the explanation.")
    ] = False,
) -> None:
    """Credit check: scorecard score, PD, grade and reason codes."""
    result = _run_skill("credit_lookup", {"client": client, "explain": explain})
    if as_json:
        _print_json(result.model_dump(mode="json"))
        return
    typer.echo(
        f"{result.client_name} ({result.client_id}): score {result.score}, PD {result.pd:.2%}, "
        f"grade {result.grade} [scorecard {result.model_version}]"
    )
    for r in result.reason_codes:
        typer.echo(f"  - {r.description}")
    typer.echo(result.explanation)


def compliance_check(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    client: Annotated[str | None, typer.Option("--client", help="Client, to check suitability.")] = None,
    product: Annotated[str | None, typer.Option("--product", help="Product, to check suitability.")] = None,
    assist: Annotated[bool, typer.Option("--assist", help="Also ask the small model.")] = False,
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Rules only: skip the learned classifier.")
    ] = False,
) -> None:
    """Check the text on stdin (rules + the learned classifier); exit code 1 when it fails."""
    text = sys.stdin.read()
    if not text.strip():
        raise InputError("no text on stdin (pipe the text to check into this command)")
    result = _run_skill(
        "compliance_check",
        {"text": text, "client": client, "product": product, "assist": assist, "learned": not rules_only},
    )
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        typer.echo("PASSED" if result.passed else f"FAILED ({len(result.violations)} violations)")
        for v in result.violations:
            typer.echo(f"  [{v.category}] {v.rule}: {v.span!r} - {v.reason}")
    if not result.passed:
        raise typer.Exit(1)


def summarize(
    product: Annotated[str | None, typer.Option("--product", help="Product code, e.g. HY-7.")] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="Report date YYYY-MM-DD (default latest).")
    ] = None,
    text_file: Annotated[
        Path | None, typer.Option("--file", help="Summarize this text file instead.")
    ] = None,
    extractive: Annotated[bool, typer.Option("--extractive", help="No model: extractive summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Summarize a product's research report; every number is checked against the report."""
    text = None
    if text_file is not None:
        try:
            text = text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read {text_file}: {err}") from None
    if product is None and text is None:
        raise InputError("give --product CODE or --file PATH")
    result = _run_skill(
        "report_summary", {"product": product, "date": date, "text": text, "use_model": not extractive}
    )
    if as_json:
        _print_json(result.model_dump(mode="json"))
        return
    typer.echo(
        f"{result.report_id or 'text'} ({result.report_date or '-'}) [{result.method}, "
        f"faithfulness {result.faithfulness:.2f}]"
    )
    typer.echo(result.summary)
    for f in result.key_figures:
        typer.echo(f"  - {f}")
    for why in result.rejected:
        typer.echo(f"  (a model attempt was rejected: {why})", err=True)


def register(app: typer.Typer) -> None:
    """Add `data`, `risk`, `compliance`, `credit` and `summarize` to the root CLI."""
    data = typer.Typer(
        help="The domain database (DuckDB): clients, products, holdings, reports.", no_args_is_help=True
    )
    risk = typer.Typer(help="Traditional risk models (the German-credit PD scorecard).", no_args_is_help=True)
    compliance = typer.Typer(help="Compliance checks of outgoing text.", no_args_is_help=True)
    app.add_typer(data, name="data")
    app.add_typer(risk, name="risk")
    app.add_typer(compliance, name="compliance")
    data.command("init")(data_init)
    data.command("clients")(data_clients)
    data.command("products")(data_products)
    data.command("reports")(data_reports)
    risk.command("train")(risk_train)
    app.command("credit")(credit)
    compliance.command("check")(compliance_check)
    app.command("summarize")(summarize)
