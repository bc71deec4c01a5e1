"""Every error FinCopilot raises on purpose derives from `FinCopilotError`.

The CLI and the server turn these into one clear line for the user; anything else is a bug.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class FinCopilotError(Exception):
    """Base class: an error whose message is meant for the user."""


class ConfigError(FinCopilotError):
    """A configuration file or value is invalid; the message names the field."""


class InputError(FinCopilotError):
    """User input was rejected (empty, too long, malformed, or unsafe)."""


class NotFoundError(FinCopilotError):
    """A named thing (client, product, report, backend, skill) does not exist."""


class UnknownBackendError(NotFoundError):
    """No backend with that id is configured."""


class BackendError(FinCopilotError):
    """A model backend failed to produce a usable answer."""

    def __init__(self, message: str, *, backend_id: str | None = None):
        super().__init__(message)
        self.backend_id = backend_id


class BackendTimeout(BackendError):
    """A backend did not answer within its timeout."""


class BackendUnavailable(BackendError):
    """A backend is refusing work (circuit open, saturated, or not installed)."""


class StructuredOutputError(BackendError):
    """A backend's output did not parse or validate against the requested schema."""

    def __init__(self, message: str, *, backend_id: str | None = None, raw: str = ""):
        super().__init__(message, backend_id=backend_id)
        self.raw = raw


class PlanValidationError(FinCopilotError):
    """A plan is malformed: unknown skill, bad arguments, missing or cyclic dependencies."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid plan: " + "; ".join(problems))
        self.problems = problems


def run_main(main: Callable[[], object]) -> None:
    """Run a command's entry point: a `FinCopilotError` becomes one line on stderr and exit code 2."""
    try:
        main()
    except FinCopilotError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
