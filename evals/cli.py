"""`fincopilot arena run | report | promote` and `fincopilot finetune`."""

from __future__ import annotations

import json
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


def finetune_cmd(
    skill: Annotated[str, typer.Option("--skill", help="planner, or a skill that declares a finetune task")],
    base: Annotated[str, typer.Option("--base", help="base backend id (transformers kind)")] = "smollm2-135m",
    data: Annotated[Path | None, typer.Option("--data", help="JSONL corpus instead of the built one")] = None,
    teacher: Annotated[str | None, typer.Option("--teacher", help="labels unlabelled inputs")] = None,
    epochs: Annotated[float | None, typer.Option("--epochs", min=0.01, help="default 2")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="stop after N steps")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="adapter folder (default home()/adapters/<id>)")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume/--no-resume", help="continue from the last checkpoint")
    ] = True,
    lr: Annotated[float | None, typer.Option("--lr", min=0.0, help="default 1e-3")] = None,
    rank: Annotated[
        int | None, typer.Option("--rank", min=1, help="default 16 (alpha is twice the rank)")
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="default 4")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    lora_layers: Annotated[
        int | None,
        typer.Option("--lora-layers", min=1, help="adapt only the top N layers (cheaper backward on a CPU)"),
    ] = None,
    save_every: Annotated[int, typer.Option("--save-every", min=1, help="checkpoint every N steps")] = 10,
    keep_checkpoints: Annotated[bool, typer.Option("--keep-checkpoints", help="keep them all")] = False,
    max_seq_len: Annotated[
        int | None, typer.Option("--max-seq-len", min=64, help="default 1024 tokens")
    ] = None,
    evaluate: Annotated[
        bool, typer.Option("--eval/--no-eval", help="score base vs adapter on held-out items")
    ] = True,
    eval_limit: Annotated[int | None, typer.Option("--eval-limit", min=1)] = None,
    eval_batch_size: Annotated[
        int, typer.Option("--eval-batch-size", min=1, help="prompts per generate call")
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="print the card as JSON")] = False,
) -> None:
    """Fine-tune a LoRA adapter for SKILL on BASE; it registers as backend BASE+SKILL-lora."""
    from fincopilot.evals.corpus import run_finetune
    from fincopilot.models.adapter_card import Hyperparameters
    from fincopilot.models.finetune import FinetuneOptions

    given = dict(epochs=epochs, learning_rate=lr, rank=rank, batch_size=batch_size, max_seq_len=max_seq_len)
    hyper = {k: v for k, v in given.items() if v is not None} | ({"alpha": 2 * rank} if rank else {})
    hyper |= {"max_steps": max_steps, "seed": seed, "save_every": save_every, "lora_layers": lora_layers}
    opts = FinetuneOptions(
        skill=skill,
        base=base,
        data=data,
        teacher=teacher,
        out=out,
        resume=resume,
        evaluate=evaluate,
        eval_limit=eval_limit,
        eval_batch_size=eval_batch_size,
        keep_checkpoints=keep_checkpoints,
        hyper=Hyperparameters(**hyper),
    )
    _print_finetune(run_finetune(opts, progress=not as_json), as_json)


def _print_finetune(result, as_json: bool) -> None:
    from rich.console import Console

    from fincopilot.models.finetune import scores_table

    card = result.card
    if as_json:
        typer.echo(card.model_dump_json(indent=2))
        return
    console = Console()
    console.print(f"adapter [bold]{card.backend_id}[/] → {result.out}")
    console.print(
        f"{card.examples} examples (data {card.data_hash}), {card.steps} steps in "
        f"{card.train_seconds:.0f} s, final loss {card.final_loss}"
    )
    if result.resumed_from:
        console.print(f"resumed from step {result.resumed_from}")
    if card.heldout is not None:
        console.print(scores_table(card.heldout))


def finetune_export_cmd(
    run: Annotated[Path, typer.Argument(help="the --out folder of a finished `fincopilot finetune` run")],
    step: Annotated[int, typer.Option("--step", min=1, help="the checkpoint chosen (on validation)")],
    out: Annotated[Path, typer.Option("--out", help="the adapter folder to write")],
) -> None:
    """Write the run's step-N checkpoint as an adapter (weights, card, model card, loss plot), as the run's
    command with --max-steps N would have."""
    from fincopilot.models.finetune import export_checkpoint

    card = export_checkpoint(run, step, out)
    typer.echo(f"adapter {card.backend_id} (step {card.steps} of {run}) -> {out}\nreproduce: {card.command}")


def register_finetune(app: typer.Typer) -> None:
    """Add `fincopilot finetune` and `fincopilot finetune-export` to the root CLI."""
    app.command("finetune")(finetune_cmd)
    app.command("finetune-export")(finetune_export_cmd)


def kb_eval_cmd(
    split: Annotated[str, typer.Option("--split", help="train, heldout or all")] = "heldout",
    modes: Annotated[
        str, typer.Option("--modes", help="comma-separated: lexical, dense, hybrid")
    ] = "lexical,dense,hybrid",
    do_sweep: Annotated[
        bool, typer.Option("--sweep", help="choose the abstention threshold on the train split")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="write the Markdown table (and a .json beside it)")
    ] = None,
) -> None:
    """Recall@5, MRR, exactness and abstention accuracy per retrieval mode and language, with 95% CIs."""
    from rich.progress import track

    from fincopilot.evals.datasets import load_items
    from fincopilot.evals.kb_eval import markdown, run_mode, summarize, sweep

    if do_sweep:
        best, scores = sweep(load_items("knowledge_qa", "train"))
        typer.echo(
            "threshold sweep (train split, hybrid): "
            + ", ".join(f"{t}: {s:.3f}" for t, s in scores.items())
            + f" → best {best}"
        )
    items = load_items("knowledge_qa", split)  # type: ignore[arg-type]
    results = {}
    for mode in track([m.strip() for m in modes.split(",") if m.strip()], description="retrieval modes"):
        results[mode] = summarize(run_mode(items, mode))
    table = markdown(results, split)
    typer.echo(table)
    if out:
        out.write_text(table, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")


def register_kb_eval(app: typer.Typer) -> None:
    """Add `fincopilot kb eval` to the knowledge-base command group."""
    from fincopilot.tools.kb_cli import kb_app

    kb_app.command("eval")(kb_eval_cmd)
