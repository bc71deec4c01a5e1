"""`fincopilot kb add | list | remove | search | show`: the knowledge base from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fincopilot.errors import InputError

kb_app = typer.Typer(
    help="The knowledge base: prospectuses, fee schedules, research and policies, with cited search.",
    no_args_is_help=True,
)


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for the supported files inside it (recursively)."""
    from fincopilot.tools.kb_docs import SUFFIXES

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        else:
            out.append(p)
    return out


def ingest_with_progress(paths: list[Path], **meta):
    """`kb.add` with a Rich progress bar (files and embedded chunks) on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fincopilot.tools import kb

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        files = bar.add_task("files", total=len(paths))
        chunks = bar.add_task("chunks embedded", total=None)

        def progress(event: str, n: int, total: int) -> None:
            if event == "file":
                bar.update(files, completed=n)
            else:
                bar.update(chunks, advance=n)

        return kb.add(paths, progress=progress, **meta)


def seed_knowledge_base(products: list[str] | None = None) -> None:
    """Write the seeded document set under home()/documents and ingest it (what `data init` calls)."""
    from fincopilot.paths import home
    from fincopilot.tools.kb_seed import write_documents

    paths = write_documents(home() / "documents", products)
    result = ingest_with_progress(paths)
    typer.echo(
        f"knowledge base: {len(result.added)} documents added, {len(result.skipped)} already there"
        + (f", {len(result.failed)} failed" if result.failed else ""),
        err=True,
    )


@kb_app.command("add")
def add_cmd(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (Markdown, HTML, text, PDF)")],
    doc_type: Annotated[
        str | None, typer.Option("--type", help="prospectus, fee_schedule, research, policy, other")
    ] = None,
    product: Annotated[
        str | None, typer.Option("--product", help="product code the documents are about")
    ] = None,
    audience: Annotated[
        str | None,
        typer.Option(
            "--audience", help="client-facing or internal (default: internal, unless the file says)"
        ),
    ] = None,
    date: Annotated[str | None, typer.Option("--date", help="document date YYYY-MM-DD")] = None,
) -> None:
    """Add documents; each file goes in whole or not at all, and a file already there is skipped."""
    files = _expand(paths)
    if not files:
        raise InputError("no supported files to add (Markdown, HTML, text or PDF)")
    result = ingest_with_progress(files, doc_type=doc_type, product=product, audience=audience, doc_date=date)
    for d in result.added:
        typer.echo(f"added   {d.doc_id[:12]}  {d.name}  ({d.chunks} chunks, {d.pages} pages, {d.audience})")
    for p in result.skipped:
        typer.echo(f"skipped {p} (already in the knowledge base)")
    for why in result.failed.values():
        typer.echo(f"failed  {why}", err=True)
    if result.failed:
        raise typer.Exit(1)


@kb_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The documents in the knowledge base."""
    from fincopilot.tools.kb import list_documents

    docs = list_documents()
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in docs], ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "type", "product", "audience", "lang", "date", "chunks")
    for d in docs:
        table.add_row(
            d.doc_id[:12],
            d.name,
            d.doc_type,
            d.product or "",
            d.audience,
            d.language,
            str(d.doc_date or ""),
            str(d.chunks),
        )
    Console().print(table)
    typer.echo(f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks")


@kb_app.command("remove")
def remove_cmd(
    refs: Annotated[
        list[str], typer.Argument(help="document ids (or 6+ character prefixes), names or paths")
    ],
) -> None:
    """Remove documents and their chunks (one transaction)."""
    from fincopilot.tools.kb import remove

    for doc_id in remove(refs):
        typer.echo(f"removed {doc_id[:12]}")


@kb_app.command("search")
def search_cmd(
    query: Annotated[str, typer.Argument()],
    k: Annotated[int, typer.Option("--k")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, lexical or dense")] = "hybrid",
    product: Annotated[str | None, typer.Option("--product")] = None,
    doc_type: Annotated[str | None, typer.Option("--type")] = None,
) -> None:
    """Retrieve passages (no model): document, section, page and the text."""
    from fincopilot.tools.kb import search

    for h in search(query, k, mode=mode, product=product, doc_type=doc_type):  # type: ignore[arg-type]
        tag = " [internal]" if h.audience == "internal" else ""
        typer.echo(f"{h.score:.4f}  {h.title} § {h.section} p.{h.page}{tag}  ({h.chunk_id})")
        typer.echo("    " + h.text.replace("\n", "\n    ")[:400])


@kb_app.command("show")
def show_cmd(
    chunk_id: Annotated[str, typer.Argument(help="a passage id from a citation or `kb search`")],
) -> None:
    """One passage, as a citation link opens it."""
    from fincopilot.tools.kb import get_passage

    h = get_passage(chunk_id)
    typer.echo(f"{h.title} § {h.section} p.{h.page} ({h.audience})\n\n{h.text}")


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
