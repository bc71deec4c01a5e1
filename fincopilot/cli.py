"""The `fincopilot` console command. Each area adds its subcommands in its own `cli` module."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fincopilot import __version__
from fincopilot.errors import FinCopilotError, InputError

# Modules with a `register(app)` function; each owns its subcommands.
COMMAND_MODULES = (
    "fincopilot.models.cli",       # models list | try
    "fincopilot.tools.cli",        # data init, risk train, credit, compliance check, summarize
    "fincopilot.tools.kb_cli",     # kb add | list | remove | search | show
    "fincopilot.graphs.cli",       # plan, ask, demo
    "fincopilot.evals.cli",        # arena run | report | promote
    "fincopilot.evals.kb_eval",    # kb eval
    "fincopilot.models.finetune",  # finetune
    "fincopilot.server.cli",       # serve, keys, chat
    "fincopilot.safety.cli",       # audit verify | anchor | show
    "fincopilot.state.cli",        # db upgrade | status, threads prune
)

app = typer.Typer(
    name="fincopilot",
    help="FinCopilot: multi-agent financial copilot (planner, workers, risk tools, arena, router).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fincopilot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[
        Optional[Path], typer.Option("--config", help="Config file (TOML/YAML); default: $FINCOPILOT_CONFIG or built-in.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")] = "warning",
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    from fincopilot import config as config_module
    from fincopilot import log

    log.configure(log_level)
    if config is not None:
        config_module.use_config(config)
        config_module.settings()  # fail early, naming the bad field


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _err:
        if _err.name != _name:
            raise
        continue
    _module.register(app)


def _check_arguments(argv: list[str]) -> None:
    """Arguments the terminal could not decode as UTF-8 arrive with surrogate escapes: refuse them by name."""
    for position, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise InputError(f"argument {position} ('{shown}') is not valid UTF-8 text") from None


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and exit code 2."""
    try:
        _check_arguments(sys.argv[1:])
        app()
    except FinCopilotError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
