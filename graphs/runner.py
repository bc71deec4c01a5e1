"""`CopilotRunner`: the one entry point the CLI, the HTTP server, the web page and the terminal chat use.

    runner = CopilotRunner()                       # checkpoints in home()/checkpoints.sqlite
    for event in runner.run("Client C-1042 wants HY-7 ...", thread_id="t1"):
        print(event.type, event.data)
    runner.resume("t1", Review(decision="approve", reviewer="alice"))   # when the run ended `held`

A thread is a conversation: later requests on the same thread see earlier turns. State is checkpointed
after every step (LangGraph's SqliteSaver, or the official PostgresSaver when a database URL is set), so a
held answer can be reviewed after a restart or on another replica, and a run whose process died can be
continued from its last checkpoint (`continue_run`). Every thread has an owner from creation: the
principal passed to `run` (the server's caller), else the local operator of the CLI.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langgraph.types import Command
from pydantic import BaseModel, Field

from fincopilot.agents.planner import check_request
from fincopilot.errors import FinCopilotError, InputError, NotFoundError
from fincopilot.graphs import advisor
from fincopilot.graphs.events import Event
from fincopilot.graphs.state import Review
from fincopilot.log import get_logger, new_request_id, request_context
from fincopilot.paths import home
from fincopilot.principal import Principal, acting_as
from fincopilot.safety import audit
from fincopilot.state.db import checkpoint_saver, state_db
from fincopilot.state.principals import local_operator
from fincopilot.state.threads import CLI_KEY_ID, ThreadIndex, check_thread_id
from fincopilot.tools.data import check_client_mentions

log = get_logger(__name__)


class PruneReport(BaseModel):
    """What `CopilotRunner.prune` removed (or would remove, dry run)."""

    threads_deleted: list[str] = Field(default_factory=list)
    kept: int = 0
    checkpoints_deleted: int = 0
    runs_deleted: int = 0


class ThreadView(BaseModel):
    """A conversation as the interfaces show it."""

    thread_id: str
    status: str = Field(description="new | running | answered | held | rejected | failed")
    turns: list[dict[str, Any]] = Field(default_factory=list)
    held: dict[str, Any] | None = Field(None, description="what waits for review (answer, violations)")


class CopilotRunner:
    """Runs the advisor graph with a persistent checkpointer (SQLite or PostgreSQL); thread-safe."""

    def __init__(
        self,
        checkpoint_path: Path | None = None,
        gateway=None,
        *,
        use_model: bool = True,
        step_timeout_s: float | None = None,
        step_retries: int | None = None,
        graph_builder=None,
    ):
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else home() / "checkpoints.sqlite"
        self.saver, self.engine = checkpoint_saver(self.checkpoint_path)
        self.index = ThreadIndex()
        build = graph_builder or advisor.build_advisor_graph
        kwargs: dict[str, Any] = {"checkpointer": self.saver, "use_model": use_model}
        if step_timeout_s is not None:
            kwargs["step_timeout_s"] = step_timeout_s
        if step_retries is not None:
            kwargs["step_retries"] = step_retries
        self.graph = build(gateway, **kwargs)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # --- public ---------------------------------------------------------------------------------
    def run(
        self,
        text: str,
        *,
        thread_id: str | None = None,
        request_id: str | None = None,
        principal: Principal | None = None,
    ) -> Iterator[Event]:
        """Stream the events of one request until `done` (status answered | held | rejected | failed).

        `principal`: who asks (default: the local operator). It owns a new thread (a thread owned by someone
        else is refused as unknown), and its skills see only the clients it may see.
        """
        thread_id = check_thread_id(thread_id) if thread_id is not None else "t-" + uuid.uuid4().hex[:12]
        rid = request_id or new_request_id()
        text = check_request(text)
        principal = principal or self._local_operator()
        self._claim(thread_id, principal, text)
        lock = self._lock(thread_id)
        if not lock.acquire(blocking=False):
            raise InputError(f"thread {thread_id!r} is already running a request")
        try:
            with request_context(rid, thread_id=thread_id):
                if self._is_held(thread_id):
                    raise InputError(
                        f"thread {thread_id!r} has an answer waiting for review; resume it first"
                    )
                audit.record(
                    "request", request_id=rid, thread_id=thread_id, text=text, principal=principal.id
                )
                with acting_as(principal):
                    check_client_mentions(text)  # another advisor's client: a clear, audited refusal first
                yield Event(type="request", request_id=rid, thread_id=thread_id, data={"text": text})
                inputs = {
                    "request": text,
                    "request_id": rid,
                    "plan": None,
                    "results": None,
                    "answer": None,
                    "compliance": None,
                    "review": None,
                    "status": "running",
                    "principal": principal.model_dump(),
                }
                yield from self._stream(inputs, thread_id, rid)
        finally:
            lock.release()

    def resume(self, thread_id: str, review: Review) -> Iterator[Event]:
        """Continue a held thread with a human decision (works in a new process: state is in SQLite)."""
        check_thread_id(thread_id)
        review = review if isinstance(review, Review) else Review.model_validate(review)
        lock = self._lock(thread_id)
        if not lock.acquire(blocking=False):
            raise InputError(f"thread {thread_id!r} is already running")
        try:
            state = self.graph.get_state(self._config(thread_id))
            if not state.values:
                raise NotFoundError(f"unknown thread {thread_id!r}")
            if not self._is_held(thread_id):
                raise InputError(
                    f"thread {thread_id!r} has no answer waiting for review "
                    f"(status {state.values.get('status', 'unknown')})"
                )
            rid = state.values.get("request_id") or new_request_id()
            with request_context(rid, thread_id=thread_id):
                yield from self._stream(Command(resume=review.model_dump()), thread_id, rid)
        finally:
            lock.release()

    def thread(self, thread_id: str) -> ThreadView:
        """The conversation so far and what (if anything) waits for review."""
        check_thread_id(thread_id)
        state = self.graph.get_state(self._config(thread_id))
        if not state.values:
            raise NotFoundError(f"unknown thread {thread_id!r}")
        held = self._held_payload(state)
        turns = list(state.values.get("turns", []))
        status = "held" if held is not None else state.values.get("status", "new")
        if held is not None:  # show the pending request too
            turns.append(
                {
                    "role": "user",
                    "content": state.values.get("request", ""),
                    "request_id": state.values.get("request_id"),
                }
            )
        return ThreadView(thread_id=thread_id, status=status, turns=turns, held=held)

    def continue_run(
        self,
        thread_id: str,
        request_id: str,
        text: str | None = None,
        review: Review | dict | None = None,
        principal: Principal | None = None,
    ) -> Iterator[Event]:
        """Take over a run whose process died: continue request `request_id` from its last checkpoint.

        Not checkpointed yet: run `text` from the start (same request id). Stopped between steps: stream
        on from the checkpoint. A review (`review`) still waiting: apply it. Already finished: `done`.
        """
        state = self.graph.get_state(self._config(thread_id))
        audit.record(
            "run_continued",
            request_id=request_id,
            thread_id=thread_id,
            from_checkpoint=bool(state.values and state.values.get("request_id") == request_id),
        )
        if review is not None and self._is_held(thread_id):
            yield from self.resume(thread_id, review)
        elif review is None and (not state.values or state.values.get("request_id") != request_id):
            if text is None:
                raise NotFoundError(f"no checkpoint of request {request_id!r} in thread {thread_id!r}")
            yield from self.run(text, thread_id=thread_id, request_id=request_id, principal=principal)
        elif (state.next or state.tasks) and self._held_payload(state) is None:
            with self._lock(thread_id), request_context(request_id, thread_id=thread_id):
                yield from self._stream(None, thread_id, request_id)
        else:
            status = "held" if self._held_payload(state) is not None else state.values.get("status", "failed")
            yield Event(type="done", request_id=request_id, thread_id=thread_id, data={"status": status})

    def threads(self) -> list[str]:
        """Every thread id with checkpoints (oldest first)."""
        sql = "SELECT thread_id FROM checkpoints GROUP BY thread_id ORDER BY MIN(checkpoint_id)"
        if self.engine == "postgres":
            with self.saver.conn.connection() as conn:
                return [r["thread_id"] for r in conn.execute(sql).fetchall()]
        return [r[0] for r in self.saver.conn.execute(sql).fetchall()]

    def prune(
        self, older_than_s: float, keep_last: int | None = None, *, dry_run: bool = False
    ) -> PruneReport:
        """Retention: delete every checkpoint of finished threads idle for `older_than_s` (their owner, the
        conversation map and their run records too), and keep only the newest `keep_last` checkpoints of
        the others. Held threads (waiting for a human) and running ones are kept. The audit log is never
        touched."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        report = PruneReport()
        for tid in self.threads():
            latest = self.saver.get_tuple(self._config(tid))
            last = datetime.fromisoformat(latest.checkpoint["ts"]) if latest else cutoff
            if last >= cutoff or self.thread(tid).status in ("held", "running"):
                report.kept += 1
                if keep_last is not None and not dry_run:
                    report.checkpoints_deleted += self._trim(tid, keep_last)
                continue
            report.threads_deleted.append(tid)
            if not dry_run:
                self.saver.delete_thread(tid)
        if not dry_run and report.threads_deleted:
            self.index.forget(report.threads_deleted)
            report.runs_deleted = self.index.forget_runs(report.threads_deleted)
        return report

    def _trim(self, thread_id: str, keep_last: int) -> int:
        """Delete all but the newest `keep_last` checkpoints (and their pending writes) of a thread."""
        if keep_last < 1:
            raise InputError("--keep-last must be at least 1")
        if self.engine == "postgres":
            if keep_last != 1:
                raise InputError("on PostgreSQL, --keep-last supports 1 (LangGraph's keep_latest pruning)")
            self.saver.prune([thread_id], strategy="keep_latest")
            return 0
        conn = self.saver.conn
        old = conn.execute(
            "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id=? AND checkpoint_id "
            "NOT IN (SELECT checkpoint_id FROM checkpoints WHERE thread_id=? ORDER BY checkpoint_id "
            "DESC LIMIT ?)",
            (thread_id, thread_id, keep_last),
        ).fetchall()
        with self.saver.lock, conn:
            for ns, cid in old:
                conn.execute(
                    "DELETE FROM writes WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?",
                    (thread_id, ns, cid),
                )
                conn.execute(
                    "DELETE FROM checkpoints WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?",
                    (thread_id, ns, cid),
                )
        return len(old)

    def close(self) -> None:
        self.saver.conn.close()  # the SQLite connection or the PostgreSQL pool

    # --- internals ------------------------------------------------------------------------------
    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    @staticmethod
    def _local_operator() -> Principal:
        """The person at this machine's command line, as the principal the state database knows."""
        op = local_operator(state_db())
        return Principal(id=op.principal_id, role="operator", name=op.display_name)

    def _claim(self, thread_id: str, principal: Principal, text: str) -> None:
        owner = self.index.claim(
            thread_id, principal.id, CLI_KEY_ID, principal.name, "fincopilot-advisor", text
        )
        if owner.principal_id != principal.id:
            raise NotFoundError(f"unknown thread {thread_id!r} (it belongs to someone else)")

    def _lock(self, thread_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(thread_id, threading.Lock())

    @staticmethod
    def _held_payload(state) -> dict[str, Any] | None:
        for task in state.tasks or ():
            for intr in getattr(task, "interrupts", ()) or ():
                return dict(intr.value) if isinstance(intr.value, dict) else {"value": intr.value}
        return None

    def _is_held(self, thread_id: str) -> bool:
        state = self.graph.get_state(self._config(thread_id))
        return bool(state.values) and self._held_payload(state) is not None

    def _stream(self, inputs: Any, thread_id: str, rid: str) -> Iterator[Event]:
        config = self._config(thread_id)
        try:
            for mode, chunk in self.graph.stream(inputs, config, stream_mode=["custom", "updates"]):
                if mode == "custom" and isinstance(chunk, dict) and "type" in chunk:
                    data = dict(chunk.get("data", {}))
                    if chunk["type"] == "held":
                        data.setdefault("thread_id", thread_id)
                    yield Event(type=chunk["type"], request_id=rid, thread_id=thread_id, data=data)
        except FinCopilotError as err:
            yield from self._fail(rid, thread_id, str(err))
            return
        except Exception as err:  # noqa: BLE001 - the interfaces get an error event, the log the traceback
            log.exception("run_failed", thread_id=thread_id)
            yield from self._fail(rid, thread_id, f"internal error: {type(err).__name__}: {err}")
            return
        state = self.graph.get_state(config)
        status = "held" if self._held_payload(state) is not None else state.values.get("status", "failed")
        yield Event(type="done", request_id=rid, thread_id=thread_id, data={"status": status})

    def _fail(self, rid: str, thread_id: str, message: str) -> Iterator[Event]:
        audit.record("error", request_id=rid, thread_id=thread_id, message=message[:2000])
        try:  # record the failure in the thread so a later request starts clean
            self.graph.update_state(self._config(thread_id), {"status": "failed"}, as_node="finalize")
        except Exception:  # noqa: BLE001 - the failure is already reported; the thread state is best effort
            log.warning("could_not_mark_failed", thread_id=thread_id)
        yield Event(type="error", request_id=rid, thread_id=thread_id, data={"message": message})
        yield Event(type="done", request_id=rid, thread_id=thread_id, data={"status": "failed"})
