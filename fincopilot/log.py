"""structlog set-up: JSON lines when not on a terminal, a request id on every line of a request."""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

_configured = False


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at write time (test runners swap and close it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str | None = None, *, json: bool | None = None) -> None:
    """Configure structlog once; logs go to stderr so stdout stays machine-readable."""
    global _configured
    level_name = (level or os.environ.get("FINCOPILOT_LOG_LEVEL", "WARNING")).upper()
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level_name, logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    if not _configured:
        configure()
    return structlog.get_logger(name)


def new_request_id() -> str:
    return "req-" + uuid.uuid4().hex[:12]


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


@contextmanager
def request_context(request_id: str | None = None, **fields: object) -> Iterator[str]:
    """Bind a request id (new unless given) to every log line inside the block."""
    rid = request_id or new_request_id()
    tokens = structlog.contextvars.bind_contextvars(request_id=rid, **fields)
    try:
        yield rid
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
