"""Run one worker skill against one backend: the real embedded model, or a scripted FAKE."""

from __future__ import annotations

import os
from pathlib import Path

from fincopilot.agents.skills import SkillContext, get_skill


class BackendGateway:
    """Sends every call of a skill to one backend (the real embedded model, or a scripted fake)."""

    def __init__(self, backend):
        self.backend = backend

    def complete(
        self, skill, messages, *, schema=None, max_tokens=256, temperature=0.0, seed=None, request_id=None
    ):
        return self.backend.complete(
            messages, schema=schema, max_tokens=max_tokens, temperature=temperature, seed=seed
        )


def scripted_fake(reply: str) -> BackendGateway:
    """A gateway whose scripted FAKE model always answers `reply`."""
    from fincopilot.models.backends.scripted import ScriptedBackend

    return BackendGateway(ScriptedBackend.from_function("scripted-fake", lambda messages, schema: reply))


def run_skill(name: str, args, gateway=None):
    s = get_skill(name)
    return s.run(args, SkillContext(skill=s.name, allowed_tools=s.tools, gateway=gateway))


def prepare_home(home: Path) -> Path:
    """Create the domain database and train the scorecard in `home` (seconds; once per module)."""
    old = os.environ.get("FINCOPILOT_HOME")
    os.environ["FINCOPILOT_HOME"] = str(home)
    try:
        from fincopilot.tools.data import init_db

        init_db()
        s = get_skill("credit_lookup")
        s.run({"client": "C-1042", "explain": False}, SkillContext(skill=s.name, allowed_tools=s.tools))
    finally:
        if old is None:
            os.environ.pop("FINCOPILOT_HOME", None)
        else:
            os.environ["FINCOPILOT_HOME"] = old
    return home
