"""Runs that survive their replica: leases with heartbeats, recorded events, idempotent retries, takeover.

Every run the server starts goes through `RunService.start`: it is entered in the run ledger (holding a
lease), each event is recorded as it happens, and a heartbeat renews the lease until the run ends. A client
that retries with the same `Idempotency-Key` (or `X-Request-Id`) gets the one run: `follow` replays its
recorded events, waits for a run still going on another replica, and when that replica's lease expires
(it died) takes the run over and continues it from its last checkpoint. Each replica also sweeps for
expired leases (`reap_once`, on a timer), so a run is finished even when nobody retries.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fincopilot.graphs.events import Event
from fincopilot.log import get_logger
from fincopilot.principal import Principal
from fincopilot.server.errors import ShuttingDown
from fincopilot.state.runs import RunLedger, RunRecord, ThreadBusy

log = get_logger(__name__)

POLL_S = 0.1
KEEPALIVE_S = 15.0


class LeaseKeeper:
    """Renews the leases of every run this replica holds, every lease/3 seconds, from one daemon thread.

    One thread and one transaction per beat for all runs (not one per run) keeps renewals on time under load.
    A run whose renewal fails (another replica took it over, or it finished) is marked lost.
    """

    def __init__(self, ledger: RunLedger):
        self.ledger = ledger
        self._held: set[str] = set()
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, request_id: str) -> None:
        with self._lock:
            self._held.add(request_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, daemon=True, name="lease-keeper")
                self._thread.start()

    def drop(self, request_id: str) -> None:
        with self._lock:
            self._held.discard(request_id)
            self._lost.discard(request_id)

    def held(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def lost(self, request_id: str) -> bool:
        with self._lock:
            return request_id in self._lost

    def _beat(self) -> None:
        while not self._stop.wait(self.ledger.lease_s / 3):
            try:
                gone = self.ledger.heartbeat_many(self.held())
            except Exception:  # noqa: BLE001 - a failed beat is retried; the lease covers a few misses
                log.warning("heartbeat_failed", replica=self.ledger.replica)
                continue
            with self._lock:
                self._lost |= gone & self._held

    def stop(self) -> None:
        self._stop.set()


def tracked(keeper: LeaseKeeper, request_id: str, events: Iterable[Event]) -> Iterator[Event]:
    """Pass `events` through, recording each and holding the lease; mark the run done/failed at the end."""
    ledger = keeper.ledger
    keeper.hold(request_id)
    status = "failed"
    try:
        for event in events:
            if keeper.lost(request_id):
                log.warning("lease_lost", request_id=request_id)
                return
            ledger.record_event(request_id, event.model_dump_json())
            if event.type == "done":
                status = "done"
            yield event
    finally:
        if not keeper.lost(request_id):
            ledger.finish(request_id, status)
        keeper.drop(request_id)


def run_principal(rec: RunRecord) -> Principal:
    """Who a run acts for: its principal id, with the role and name recorded when it started."""
    who = rec.input.get("as") or {}
    return Principal(
        id=rec.principal_id, role=who.get("role", "advisor"), name=who.get("name", rec.principal_id)
    )


def continuation(runner: Any, rec: RunRecord) -> Callable[[], Iterable[Event]]:
    """What continues `rec` on this replica: the runner's `continue_run` from the last checkpoint."""
    review = rec.input.get("review")

    def go() -> Iterable[Event]:
        cont = getattr(runner, "continue_run", None)
        if cont is None:
            raise RuntimeError(f"runner for {rec.model} cannot continue runs")
        return cont(
            rec.thread_id,
            rec.request_id,
            text=rec.input.get("text"),
            review=review,
            principal=run_principal(rec),
        )

    return go


class RunService:
    """Starts tracked runs, follows existing ones, and takes over runs whose replica died."""

    def __init__(self, ledger: RunLedger, executor: Any, runner_for: Callable[[str], Any]):
        self.ledger, self.executor, self.runner_for = ledger, executor, runner_for
        self.keeper = LeaseKeeper(ledger)
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def begin(self, **fields: Any) -> tuple[RunRecord, bool]:
        return self.ledger.begin(**fields)

    def run_in_background(self, rec: RunRecord) -> None:
        """Continue a taken-over run on this replica with nobody listening (its events are recorded)."""
        factory = continuation(self.runner_for(rec.model), rec)

        def drain() -> None:
            try:
                for _ in tracked(self.keeper, rec.request_id, factory()):
                    pass
            except Exception:  # recorded as a failed run; the log has the traceback
                log.exception("continued_run_failed", request_id=rec.request_id)
                self.ledger.finish(rec.request_id, "failed")

        self.executor.submit(drain)

    async def follow(self, rec: RunRecord) -> AsyncIterator[Event | None]:
        """The run's events from its first, as recorded; waits while it runs elsewhere and takes it over
        when that replica's lease expires. `None` is a keep-alive tick."""
        seen, quiet_since = -1, time.monotonic()
        while True:
            for n, body in await asyncio.to_thread(self.ledger.events, rec.request_id, seen):
                seen, quiet_since = n, time.monotonic()
                yield Event.model_validate_json(body)
            current = await asyncio.to_thread(self.ledger.get, rec.request_id)
            if current is None or current.status != "running":
                for n, body in await asyncio.to_thread(self.ledger.events, rec.request_id, seen):
                    seen = n
                    yield Event.model_validate_json(body)
                return
            if (
                current.lease_until < time.time()
                and rec.request_id not in self.keeper.held()
                and await asyncio.to_thread(self.ledger.take_over, rec.request_id)
            ):
                log.info("run_taken_over", request_id=rec.request_id, replica=self.ledger.replica)
                self.run_in_background(current)
            if time.monotonic() - quiet_since > KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield None
            await asyncio.sleep(POLL_S)

    def reap_once(self) -> int:
        """Take over every run whose lease expired and continue it here; returns how many."""
        taken = 0
        mine = self.keeper.held()
        for rec in self.ledger.expired():
            if rec.request_id not in mine and self.ledger.take_over(rec.request_id):
                log.info("run_taken_over", request_id=rec.request_id, replica=self.ledger.replica)
                self.run_in_background(rec)
                taken += 1
        return taken

    def start_reaper(self) -> None:
        def loop() -> None:
            while not self._stop.wait(max(self.ledger.lease_s / 2, 0.2)):
                try:
                    self.reap_once()
                except Exception:  # noqa: BLE001 - the next sweep tries again
                    log.warning("reaper_failed")

        self._reaper = threading.Thread(target=loop, daemon=True, name="run-reaper")
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        self.keeper.stop()


# --- running a sync event iterator off the event loop ---------------------------------------------------
class RunPool:
    """Runs runner iterators in worker threads, one thread per run, and marks threads busy meanwhile.

    The runner is synchronous and may run a model for minutes: each run iterates in one worker thread
    (contextvars set inside the run stay in that thread) and hands events to the event loop through a queue.
    A run continues to completion when its client disconnects, so the thread stays consistent."""

    def __init__(self, max_workers: int = 32):
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fincopilot-run")
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, thread_id: str) -> None:
        with self._lock:
            if thread_id in self._busy:
                raise ThreadBusy(f"thread {thread_id} is already answering a request; wait for it to finish")
            self._busy.add(thread_id)

    def release(self, thread_id: str) -> None:
        with self._lock:
            self._busy.discard(thread_id)

    def start(self, factory: Callable[[], Iterable[Event]], thread_id: str) -> AsyncIterator[Event | None]:
        """Start the run now (in a worker thread) and return its events; `None` every KEEPALIVE_S seconds
        of silence. The worker releases `thread_id` when the run ends, whether or not anyone still listens."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone (server shutting down): nobody is listening
                pass

        def work() -> None:
            try:
                for event in factory():
                    put(("event", event))
            except BaseException as err:  # noqa: BLE001 - handed to the async side, which decides
                put(("error", err))
            finally:
                self.release(thread_id)
                put(("end", None))

        try:
            loop.run_in_executor(self.executor, work)
        except RuntimeError:
            self.release(thread_id)
            raise ShuttingDown("the server is shutting down") from None
        return _drain(queue)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


async def _drain(queue: asyncio.Queue[tuple[str, Any]]) -> AsyncIterator[Event | None]:
    """The events a worker puts on `queue` until its end; `None` after KEEPALIVE_S seconds of silence."""
    while True:
        try:
            kind, item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
        except TimeoutError:
            yield None
            continue
        if kind == "end":
            return
        if kind == "error":
            raise item
        yield item
