"""`scripted`: a fake backend that replays scripted replies. For unit tests and offline examples only.

Replies come from `options.replies` (a list, cycled) or from a Python callable given to
`ScriptedBackend.from_function`. It can also simulate latency (`options.delay_s`) and
failures (`options.fail_times`), which the router and resilience tests use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from fincopilot.config import BackendSpec
from fincopilot.errors import BackendError
from fincopilot.models.base import BaseBackend
from fincopilot.models.messages import Message, Usage
from fincopilot.models.registry import register_kind

Reply = Callable[[Sequence[Message], type[BaseModel] | None], str]


@register_kind("scripted")
class ScriptedBackend(BaseBackend):
    def __init__(self, spec: BackendSpec, reply: Reply | None = None):
        super().__init__(spec)
        self._replies: list[str] = list(spec.options.get("replies", []))
        self._reply = reply
        self._delay_s = float(spec.options.get("delay_s", 0.0))
        self._fail_times = int(spec.options.get("fail_times", 0))
        self._lock = threading.Lock()
        self.calls: list[list[Message]] = []
        self.sampling: list[tuple[float, int | None]] = []  # (temperature, seed) of each call

    @classmethod
    def from_function(cls, backend_id: str, reply: Reply, **spec_fields) -> ScriptedBackend:
        spec = BackendSpec(id=backend_id, kind="scripted", model="scripted", **spec_fields)
        return cls(spec, reply)

    def _generate(self, messages, schema, max_tokens, temperature, seed=None):
        with self._lock:
            self.calls.append(list(messages))
            self.sampling.append((temperature, seed))
            n = len(self.calls)
            fail = n <= self._fail_times
        if self._delay_s:
            time.sleep(self._delay_s)
        if fail:
            raise BackendError(f"scripted failure {n} of {self._fail_times}", backend_id=self.id)
        if self._reply is not None:
            text = self._reply(messages, schema)
        elif self._replies:
            text = self._replies[(n - 1) % len(self._replies)]
        else:
            text = messages[-1].content
        prompt_tokens = sum(len(m.content.split()) for m in messages)
        return text, Usage(prompt_tokens=prompt_tokens, completion_tokens=len(text.split())), "stop"
