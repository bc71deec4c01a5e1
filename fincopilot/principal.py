"""Who is acting: the principal a request runs for, and what of the client book it may see.

A `Principal` is an id, a role and a display name. The server builds one from the caller's API key
(`principal_of_key`), the command line from the local operator (`local_operator()`); the advisor graph carries
it in its state and every skill receives it in `SkillContext.principal`. While a skill runs, `acting_as` makes
it the *current* principal, and the data layer (`fincopilot.tools.data`) checks every client read against it:

- `advisor`: only the clients of their own book (`clients.advisor` equals the advisor's display name, exactly);
- `compliance_officer`: every client;
- `operator`: the local operator of the command line, who holds the database file anyway: every client.

No current principal means trusted in-process code (the library, evals, tests); every interface sets one.
"""

from __future__ import annotations

import contextvars
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from fincopilot.errors import FinCopilotError

PrincipalRole = Literal["advisor", "compliance_officer", "operator"]


class PermissionDenied(FinCopilotError):
    """The current principal may not see what it asked for (a client outside an advisor's book)."""


class Principal(BaseModel):
    """The person (or operator) a request runs for."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: PrincipalRole
    name: str

    @property
    def sees_every_client(self) -> bool:
        return self.role in ("compliance_officer", "operator")

    def label(self) -> str:
        return f"{self.name} ({self.role}, {self.id})"


def local_operator() -> Principal:
    """The person at the command line of this machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(id=f"local:{user}", role="operator", name=user)


def principal_of_key(key: Any) -> Principal:
    """The principal behind a server API key: its stable principal id when the key record has one, else its
    key id (one accessor, so keys that gain a principal id need no change here)."""
    principal_id = getattr(key, "principal_id", None) or f"key:{key.key_id}"
    return Principal(id=principal_id, role=key.role, name=key.name)


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "fincopilot_principal", default=None
)


def current_principal() -> Principal | None:
    return _current.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Make `principal` the current one inside the block (None leaves the current one as it is)."""
    if principal is None:
        yield
        return
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)
