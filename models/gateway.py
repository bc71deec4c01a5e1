"""The gateway: every model call goes through here.

It asks the router for the skill's chain and tries each backend in order until one answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from fincopilot.errors import BackendError
from fincopilot.log import get_logger
from fincopilot.models.base import Completion, Message
from fincopilot.models.registry import get_backend
from fincopilot.models.router import Router, default_router

log = get_logger(__name__)


class Gateway:
    def __init__(self, router: Router | None = None):
        self.router = router or default_router()

    def complete(
        self,
        skill: str,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        request_id: str | None = None,
    ) -> Completion:
        decision = self.router.route(skill)
        log.info("route", skill=skill, chain=decision.chain, reason=decision.reason)
        failures: list[str] = []
        for backend_id in decision.chain:
            try:
                backend = get_backend(backend_id, self.router.config)
                return backend.complete(messages, schema=schema, max_tokens=max_tokens, temperature=temperature)
            except BackendError as err:
                log.warning("backend_failed", skill=skill, backend=backend_id, error=str(err))
                failures.append(f"{backend_id}: {err}")
        raise BackendError(f"every backend for skill {skill!r} failed: " + " | ".join(failures))


_default: Gateway | None = None


def default_gateway() -> Gateway:
    global _default
    if _default is None:
        _default = Gateway()
    return _default


def set_default_gateway(gateway: Gateway | None) -> None:
    global _default
    _default = gateway
