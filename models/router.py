"""The router: for each skill, an ordered chain of backend ids (best first, then fallbacks).

Order of precedence: a config pin, then the promoted routing table (from arena results),
then the default backend followed by the other configured backends.
"""

from __future__ import annotations

from pydantic import BaseModel

from fincopilot.config import Settings, settings


class RoutingDecision(BaseModel):
    skill: str
    chain: list[str]
    reason: str


class Router:
    def __init__(self, config: Settings | None = None):
        self._config = config

    @property
    def config(self) -> Settings:
        return self._config or settings()

    def route(self, skill: str) -> RoutingDecision:
        cfg = self.config
        policy = cfg.policy(skill)
        if policy.pin:
            return RoutingDecision(skill=skill, chain=[policy.pin], reason=f"pinned by config to {policy.pin}")
        others = [b.id for b in cfg.backends if b.id != cfg.default_backend and b.residency in policy.residency]
        return RoutingDecision(
            skill=skill, chain=[cfg.default_backend, *others], reason="no arena results: default backend first"
        )


_default: Router | None = None


def default_router() -> Router:
    global _default
    if _default is None:
        _default = Router()
    return _default
