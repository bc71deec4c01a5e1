"""The `fincopilot` console command. Each area adds its subcommands in its own `cli` module."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from fincopilot import __version__
from fincopilot.errors import InputError, run_main

# Command groups come from the `fincopilot.commands` entry-point group: each entry is a `register(app)`
# function (the built-ins are registered the same way in pyproject.toml).
COMMANDS_GROUP = "fincopilot.commands"

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
        Path | None,
        typer.Option("--config", help="Config file (TOML/YAML); default: $FINCOPILOT_CONFIG or built-in."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")] = "warning",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    from fincopilot import config as config_module
    from fincopilot import log

    log.configure(log_level)
    if config is not None:
        config_module.use_config(config)
        config_module.settings()  # fail early, naming the bad field


def _register_commands() -> None:
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except ModuleNotFoundError as err:  # an optional extra that is not installed
            print(f"warning: command group {ep.name!r} is unavailable ({err})", file=sys.stderr)
            continue
        register(app)


_register_commands()


def _check_arguments(argv: list[str]) -> None:
    """Arguments the terminal could not decode as UTF-8 arrive with surrogate escapes: refuse them by name."""
    for position, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise InputError(f"argument {position} ('{shown}') is not valid UTF-8 text") from None


def _run() -> None:
    _check_arguments(sys.argv[1:])
    app()


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and exit code 2."""
    run_main(_run)


if __name__ == "__main__":
    main()
