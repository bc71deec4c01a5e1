"""`fincopilot models list | try`: see the configured backends and send one prompt to one of them."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Annotated

import typer
from pydantic import BaseModel

from fincopilot.errors import InputError

MAX_PROMPT_CHARS = 20_000


def load_schema(ref: str) -> type[BaseModel]:
    """`package.module:Model` → the pydantic model class; clear InputErrors otherwise."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"--schema must look like package.module:Model, got {ref!r}")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # like `python -m`: schemas in the current project import
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InputError(f"--schema: cannot import module {module_name!r}: {err}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"--schema: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise InputError(f"--schema: {ref} is not a pydantic model class")
    return obj


def list_backends(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the configured backends: id, kind, model, residency, cost per 1k tokens, concurrency, status."""
    from fincopilot.config import settings
    from fincopilot.models.status import backend_status

    cfg = settings()
    statuses = {b.id: backend_status(b) for b in cfg.backends}
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {**b.model_dump(), "status": statuses[b.id][0], "status_detail": statuses[b.id][1]}
                    for b in cfg.backends
                ],
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Model backends")
    for column in ("id", "kind", "model", "residency", "cost/1k", "concurrency", "status"):
        table.add_column(column, justify="right" if column in ("cost/1k", "concurrency") else "left")
    for spec in cfg.backends:
        name = f"{spec.id} (default)" if spec.id == cfg.default_backend else spec.id
        model = spec.model + (f" + {spec.adapter}" if spec.adapter else "")
        status, detail = statuses[spec.id]
        shown = {"ok": "[green]ok[/]", "remote": "remote"}.get(status, f"[red bold]{status}[/]: {detail}")
        table.add_row(
            name,
            spec.kind,
            model,
            spec.residency,
            f"{spec.cost_per_1k_tokens:g}",
            str(spec.max_concurrency),
            shown,
        )
    console = Console()
    if not console.is_terminal:
        console.width = 200  # piped output: never truncate ids and model paths
    console.print(table)


def try_backend(
    backend: Annotated[str, typer.Argument(help="Backend id (see `fincopilot models list`).")],
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="Constrain output to a pydantic model: package.module:Model."),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="A system message.")] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, max=8192, help="Most tokens to generate.")
    ] = 128,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0, help="0 = greedy.")] = 0.0,
    stream: Annotated[
        bool, typer.Option("--stream", help="Print text as it is generated (no schema).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole completion as JSON.")] = False,
) -> None:
    """Send one prompt to one backend and print the answer, usage and latency."""
    from fincopilot.config import settings
    from fincopilot.models.messages import messages
    from fincopilot.models.registry import get_backend

    if not prompt.strip():
        raise InputError("the prompt is empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    if stream and schema:
        raise InputError("--stream and --schema cannot be combined (structured output is parsed whole)")
    model_cls = load_schema(schema) if schema else None
    settings().backend(backend)  # unknown id → one clear line before anything loads
    if model_cls is not None and system is None:
        # small models follow the shape better when they can see it; the grammar enforces it anyway
        system = "Reply with one JSON object matching this JSON schema:\n" + json.dumps(
            model_cls.model_json_schema(), ensure_ascii=False
        )
    chat = messages(prompt, system=system)
    instance = get_backend(backend)
    if stream:
        for piece in instance.stream(chat, max_tokens=max_tokens, temperature=temperature):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return
    _print_completion(instance, chat, model_cls, max_tokens, temperature, as_json)


def _print_completion(instance, chat, model_cls, max_tokens: int, temperature: float, as_json: bool) -> None:
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"generating with {instance.id}…", spinner="dots"):
        done = instance.complete(chat, schema=model_cls, max_tokens=max_tokens, temperature=temperature)
    if as_json:
        payload = done.model_dump(mode="json")
        payload["parsed"] = done.parsed.model_dump(mode="json") if done.parsed is not None else None
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    out = Console()
    if done.parsed is not None:
        out.print_json(done.parsed.model_dump_json())
    else:
        out.print(done.text, markup=False, highlight=False)
    console.print(
        f"[dim]{done.backend_id} · {done.usage.prompt_tokens}+{done.usage.completion_tokens} tokens · "
        f"{done.latency_s:.2f} s · finish={done.finish_reason}[/dim]"
    )


def register(app: typer.Typer) -> None:
    """Add `fincopilot models list | try`."""
    models = typer.Typer(help="Model backends: list them, try one.", no_args_is_help=True)
    app.add_typer(models, name="models")
    models.command("list")(list_backends)
    models.command("try")(try_backend)
