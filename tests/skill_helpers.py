"""Run one worker skill against one backend: the real embedded model, or a scripted FAKE."""

from __future__ import annotations

from fincopilot.agents.skills import SkillContext, get_skill


class BackendGateway:
    """Sends every call of a skill to one backend (the real embedded model, or a scripted fake)."""

    def __init__(self, backend):
        self.backend = backend

    def complete(self, skill, messages, *, schema=None, max_tokens=256, temperature=0.0, request_id=None):
        return self.backend.complete(messages, schema=schema, max_tokens=max_tokens, temperature=temperature)


def scripted_fake(reply: str) -> BackendGateway:
    """A gateway whose scripted FAKE model always answers `reply`."""
    from fincopilot.models.backends.scripted import ScriptedBackend

    return BackendGateway(ScriptedBackend.from_function("scripted-fake", lambda messages, schema: reply))


def run_skill(name: str, args, gateway=None):
    s = get_skill(name)
    return s.run(args, SkillContext(skill=s.name, allowed_tools=s.tools, gateway=gateway))
