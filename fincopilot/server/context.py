"""The server's shared state, one object per app (`app.state.ctx`, a route's `Context` dependency): the graph
runners by model name, the key store, thread ownership, and starting or following runs under a lease.

Each graph is an OpenAI "model". A run is started under a lease in the run ledger (`fincopilot/server/runs.py`),
so a retry with the same Idempotency-Key (or the `X-Request-Id` the server returned) follows the one run.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from pydantic import BaseModel

from fincopilot.errors import FinCopilotError, NotFoundError
from fincopilot.graphs.events import Event
from fincopilot.graphs.runner import CopilotRunner
from fincopilot.log import new_request_id
from fincopilot.principal import Principal, principal_of_key
from fincopilot.server.bodies import DEFAULT_MODEL
from fincopilot.server.errors import (
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    ModelNotFound,
    ThreadForbidden,
    ThreadNotFound,
)
from fincopilot.server.keys import ApiKey, KeyStore
from fincopilot.server.runs import RunPool, RunService, tracked
from fincopilot.state.runs import RunLedger, RunRecord
from fincopilot.state.threads import ThreadIndex, check_thread_id

IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")

Events = AsyncIterator[Event | None]  # a run's events; None is a keep-alive tick


class RunnerLike(Protocol):
    """What the server needs from a graph runner (`fincopilot.graphs.runner.CopilotRunner`)."""

    def run(
        self,
        text: str,
        *,
        thread_id: str | None = None,
        request_id: str | None = None,
        principal: Principal | None = None,
    ) -> Iterator[Event]: ...
    def resume(self, thread_id: str, review: Any) -> Iterator[Event]: ...
    def thread(self, thread_id: str) -> Any: ...
    def threads(self) -> list[str]: ...


class Runners:
    """Model name → runner; the default runner (the real graph stack) is built on first use."""

    def __init__(self, runners: Mapping[str, RunnerLike] | None):
        self._runners: dict[str, RunnerLike] | None = dict(runners) if runners is not None else None
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._runners) if self._runners is not None else [DEFAULT_MODEL]

    def get(self, model: str) -> RunnerLike:
        if model not in self.names():
            raise ModelNotFound(
                f"The model `{model}` does not exist; available models: {', '.join(self.names())}"
            )
        with self._lock:
            if self._runners is None:
                self._runners = {DEFAULT_MODEL: CopilotRunner()}
        return self._runners[model]


def view_dict(view: Any) -> dict[str, Any]:
    """A runner's thread view as a plain dict."""
    return view.model_dump(mode="json") if isinstance(view, BaseModel) else dict(view)


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key (or X-Request-Id), checked; None when it sends neither."""
    value = (request.headers.get("idempotency-key") or request.headers.get("x-request-id") or "").strip()
    if value and not IDEMPOTENCY_KEY_RE.fullmatch(value):
        raise InvalidIdempotencyKey("Idempotency-Key must be 1-200 printable ASCII characters")
    return value or None


def _acting(key: ApiKey) -> dict[str, str]:
    """The role and name a run acts with, recorded so a replica that takes it over acts the same."""
    return {"role": key.role, "name": key.name}


@dataclass
class ServerContext:
    """Everything the routes share."""

    models: Runners
    keys: KeyStore
    index: ThreadIndex
    pool: RunPool
    ledger: RunLedger
    service: RunService

    @classmethod
    def build(
        cls,
        runners: Mapping[str, RunnerLike] | None,
        keys: KeyStore | None,
        index: ThreadIndex | None,
        max_workers: int,
    ) -> ServerContext:
        models, key_store = Runners(runners), keys or KeyStore()
        index = index or ThreadIndex(key_store.path)
        pool, ledger = RunPool(max_workers), RunLedger(index.db)
        return cls(models, key_store, index, pool, ledger, RunService(ledger, pool.executor, models.get))

    # --- threads ---------------------------------------------------------------------------------------
    def runner_for_thread(self, thread_id: str) -> RunnerLike:
        owner = self.index.owner(thread_id)
        return self.models.get(owner.model if owner else DEFAULT_MODEL)

    def visible(self, key: ApiKey, thread_id: str) -> dict[str, Any]:
        """The owner record of a thread the caller may see (advisors: their own principal's; officers: all)."""
        check_thread_id(thread_id)
        owner = self.index.owner(thread_id)
        if key.role != "compliance_officer" and (owner is None or owner.principal_id != key.principal_id):
            raise ThreadNotFound(f"no thread {thread_id} for this key")
        if owner is not None:
            return owner.model_dump()
        return {
            "thread_id": thread_id,
            "key_id": None,
            "principal_id": None,
            "name": "(no owner)",
            "model": DEFAULT_MODEL,
            "title": thread_id,
        }

    async def own_thread(self, key: ApiKey, thread_id: str, model: str, title: str) -> str:
        """Claim `thread_id` for the caller's principal, or refuse (403) a thread someone else owns, and a
        thread that has checkpoints but no owner record (started before owners were recorded)."""
        check_thread_id(thread_id)
        if self.index.owner(thread_id) is None and await self._has_checkpoints(model, thread_id):
            raise ThreadForbidden(f"thread {thread_id} has no recorded owner; start a new thread")
        owner = self.index.claim(thread_id, key.principal_id, key.key_id, key.name, model, title)
        if owner.principal_id != key.principal_id:
            raise ThreadForbidden(f"thread {thread_id} belongs to someone else")
        return thread_id

    async def _has_checkpoints(self, model: str, thread_id: str) -> bool:
        try:
            await asyncio.to_thread(self.models.get(model).thread, thread_id)
        except NotFoundError:
            return False
        return True

    async def thread_view(self, thread_id: str, model: str | None = None) -> dict[str, Any]:
        """The runner's view of a thread (status, turns, held payload) as a dict."""
        runner = self.models.get(model) if model else self.runner_for_thread(thread_id)
        return view_dict(await asyncio.to_thread(runner.thread, thread_id))

    async def thread_status(self, thread_id: str, model: str) -> str:
        """A thread's status, or `unknown` when its runner cannot say."""
        try:
            return str((await self.thread_view(thread_id, model)).get("status", "unknown"))
        except FinCopilotError:
            return "unknown"

    # --- runs: leases, idempotent retries ---------------------------------------------------------------
    async def replay(
        self, key: ApiKey, idem: str | None, model: str, payload: dict[str, Any]
    ) -> tuple[Events, RunRecord] | None:
        """The run a retry refers to (its events from the first), or None for a new request. The key is the
        client's Idempotency-Key, or the request id the server returned (`X-Request-Id`) sent back."""
        if not idem:
            return None
        rec = await asyncio.to_thread(self.ledger.by_key, key.principal_id, idem)
        if rec is None:
            by_id = await asyncio.to_thread(self.ledger.get, idem)
            rec = by_id if by_id is not None and by_id.principal_id == key.principal_id else None
        if rec is None:
            return None
        if rec.input != {**payload, "as": _acting(key)} or rec.model != model:
            raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
        return self.service.follow(rec), rec

    async def launch(
        self,
        key: ApiKey,
        idem: str | None,
        thread_id: str,
        model: str,
        kind: str,
        payload: dict[str, Any],
        factory: Callable[[str], Iterable[Event]],
    ) -> tuple[Events, str]:
        """Start a run under a lease in the ledger (or follow the one a concurrent retry started)."""
        request_id = new_request_id()
        self.pool.claim(thread_id)
        try:
            rec, new = await asyncio.to_thread(
                self.ledger.begin,
                request_id=request_id,
                principal_id=key.principal_id,
                idempotency_key=idem,
                thread_id=thread_id,
                model=model,
                kind=kind,
                input={**payload, "as": _acting(key)},
            )
        except BaseException:  # ThreadBusy (another replica runs it) included
            self.pool.release(thread_id)
            raise
        if not new:
            self.pool.release(thread_id)
            return self.service.follow(rec), rec.request_id

        def work() -> Iterable[Event]:
            return tracked(self.service.keeper, request_id, factory(request_id))

        return self.pool.start(work, thread_id), request_id

    async def start_or_replay(
        self, key: ApiKey, request: Request, model: str, text: str, thread_ref: Callable[[], str]
    ) -> tuple[Events, str, str]:
        """(events, thread id, request id) of the run this request starts, or of the one a retry with the same
        Idempotency-Key already started. `thread_ref` names the thread, asked only for a new run."""
        runner = self.models.get(model)
        idem = idempotency_key(request)
        found = await self.replay(key, idem, model, {"text": text})
        if found is not None:
            return found[0], found[1].thread_id, found[1].request_id
        thread_id = await self.own_thread(key, thread_ref(), model, text)
        principal = principal_of_key(key)
        events, request_id = await self.launch(
            key,
            idem,
            thread_id,
            model,
            "run",
            {"text": text},
            lambda rid: runner.run(text, thread_id=thread_id, request_id=rid, principal=principal),
        )
        return events, thread_id, request_id

    def shutdown(self) -> None:
        self.service.stop()
        self.pool.shutdown()


def server_context(request: Request) -> ServerContext:
    return request.app.state.ctx


Context = Annotated[ServerContext, Depends(server_context)]
