"""Replicas on one PostgreSQL database: 1 vs 2 `fincopilot serve` replicas under 64 concurrent chat sessions, and
requests lost when one replica is SIGKILLed mid-load; database size before and after retention.

`python -m bench.bench_replicas`. A real PostgreSQL 15 server (Debian's binaries, as in the tests) on loopback,
real `fincopilot serve --no-model` processes whose only model call (the credit explanation) goes to a scripted
FAKE backend that answers instantly, so the numbers measure the replicas' machinery (HTTP, graph, PostgreSQL
checkpoints, ledger, leases, audit chain), not a model. Each session is a 2-turn conversation in the OpenAI wire
format; every request carries an `Idempotency-Key`. A client whose replica fails retries the same request on the
other replica (as nginx's `proxy_next_upstream` or a client SDK would), with the same key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from bench.common import write_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_helpers import PostgresServer  # the tests' real-server helper

SESSIONS = 64
TURNS = 2
KILL_AFTER_S = 1.5
LEASE_S = "10"
FAKE_CONFIG = """
default_backend = "bench-scripted"
[[backends]]
id = "bench-scripted"
kind = "scripted"
model = "scripted"
max_concurrency = 64
options = { replies = ["(scripted fake explanation)"] }
"""
EXE = str(Path(sys.executable).with_name("fincopilot"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict[str, str], config: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [EXE, "--log-level", "error", "--config", str(config), "serve", "--no-model", "--port", str(port)],
        env={**env, "FINCOPILOT_REPLICA": name},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.HTTPError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"replica {name} did not start") from None
            time.sleep(0.3)


class Load:
    """64 sessions spread over the replicas; retries on the other replica with the same Idempotency-Key."""

    def __init__(self, urls: list[str], key: str, clients: list[str]):
        self.urls, self.key, self.clients = urls, key, clients
        self.latencies: list[float] = []
        self.retried = self.lost = 0
        self.causes: Counter[str] = Counter()

    async def _request(self, client: httpx.AsyncClient, home: int, history: list[dict]) -> str | None:
        idem = uuid.uuid4().hex
        start = time.perf_counter()
        for attempt in range(6):
            url = self.urls[(home + attempt) % len(self.urls)]
            try:
                resp = await client.post(
                    url + "/v1/chat/completions",
                    headers={"Idempotency-Key": idem},
                    json={"model": "fincopilot-advisor", "messages": history},
                )
                if resp.status_code == 200:
                    self.latencies.append(time.perf_counter() - start)
                    return resp.json()["choices"][0]["message"]["content"]
                error = resp.json().get("error", {})
                cause = f"HTTP {resp.status_code} {error.get('code')}"
                if not self.causes[cause]:
                    print(f"{cause}: {error.get('message', '')[:300]}", file=sys.stderr)
                self.causes[cause] += 1
            except (httpx.HTTPError, ValueError) as err:
                self.causes[type(err).__name__] += 1
            self.retried += 1
            await asyncio.sleep(0.5)
        self.lost += 1
        return None

    async def _session(self, client: httpx.AsyncClient, i: int) -> None:
        history: list[dict] = []
        for t in range(TURNS):
            history.append(
                {
                    "role": "user",
                    "content": f"What is the credit grade of client {self.clients[(i + t) % len(self.clients)]}?",
                }
            )
            answer = await self._request(client, i, history)
            if answer is None:
                return
            history.append({"role": "assistant", "content": answer})

    async def run(self) -> float:
        limits = httpx.Limits(max_connections=SESSIONS * 2, max_keepalive_connections=SESSIONS)
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {self.key}"}, limits=limits, timeout=120
        ) as client:
            start = time.perf_counter()
            await asyncio.gather(*(self._session(client, i) for i in range(SESSIONS)))
            return time.perf_counter() - start


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def _load_with_kill(load: Load, victim: subprocess.Popen) -> float:
    async def killer() -> None:
        await asyncio.sleep(KILL_AFTER_S)
        victim.send_signal(signal.SIGKILL)

    wall, _ = await asyncio.gather(load.run(), killer())
    return wall


def _scenario(
    env: dict[str, str], config: Path, key: str, clients: list[str], replicas: int, kill: bool
) -> dict:
    procs = [_start(env, config, f"r{i}") for i in range(replicas)]
    try:
        urls = [u for _, u in procs]
        for u in urls:  # warm-up: imports, graph compile, pools
            httpx.post(
                u + "/v1/chat/completions",
                headers={"Authorization": f"Bearer {key}"},
                timeout=120,
                json={
                    "model": "fincopilot-advisor",
                    "messages": [{"role": "user", "content": "Credit of C-1042?"}],
                },
            )
        load = Load(urls, key, clients)
        wall = asyncio.run(_load_with_kill(load, procs[0][0])) if kill else asyncio.run(load.run())
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    n = len(load.latencies)
    print(f"{replicas} replicas, kill={kill}: retry causes {dict(load.causes)}", file=sys.stderr)
    return {
        "replicas": replicas,
        "kill": kill,
        "answered": n,
        "lost": load.lost,
        "retried": load.retried,
        "causes": dict(load.causes),
        "wall": wall,
        "rps": n / wall,
        "p50": _pct(load.latencies, 50),
        "p95": _pct(load.latencies, 95),
    }


def _client_ids(db: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.sql("SELECT client_id FROM clients ORDER BY client_id LIMIT 64").fetchall()]


def _sql(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def _sizes(url: str) -> tuple[int, int]:
    _sql(url, "VACUUM FULL")
    size = _sql(url, "SELECT pg_database_size(current_database())")[0][0]
    rows = _sql(url, "SELECT count(*) FROM checkpoints")[0][0]
    return int(size), int(rows)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    server, why = PostgresServer.start()
    if server is None:
        raise SystemExit(f"no PostgreSQL server: {why}")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
            results, prune = _run_all(server, Path(tmp))
    finally:
        server.stop()
    _report(results, prune)


def _run_all(server: PostgresServer, home: Path) -> tuple[list[dict], dict]:
    url = server.create_database()
    env = {
        **os.environ,
        "FINCOPILOT_HOME": str(home),
        "FINCOPILOT_DATABASE_URL": url,
        "FINCOPILOT_LEASE_S": LEASE_S,
    }
    config = home / "bench.toml"
    config.write_text(FAKE_CONFIG)

    def cli(*args: str) -> str:
        return subprocess.run([EXE, *args], env=env, check=True, capture_output=True, text=True).stdout

    cli("data", "init")
    cli("--config", str(config), "credit", "C-1042", "--json")  # trains the scorecard
    key = cli("keys", "create", "--role", "advisor", "--name", "bench").strip()
    clients = _client_ids(home / "fincopilot.duckdb")
    results = [
        _scenario(env, config, key, clients, 1, False),
        _scenario(env, config, key, clients, 2, False),
        _scenario(env, config, key, clients, 2, True),
    ]
    lost_runs = _sql(url, "SELECT count(*) FROM runs WHERE status = 'running'")[0][0]
    failed_runs = _sql(url, "SELECT count(*) FROM runs WHERE status = 'failed'")[0][0]
    taken_over = _sql(url, "SELECT count(*) FROM runs WHERE attempts > 1")[0][0]
    before = _sizes(url)
    cli("--config", str(config), "threads", "prune", "--older-than", "0s")
    after = _sizes(url)
    audit_ok = (
        subprocess.run([EXE, "audit", "verify"], env=env, check=False, capture_output=True).returncode == 0
    )
    return results, {
        "before": before,
        "after": after,
        "not_done": lost_runs,
        "failed": failed_runs,
        "taken_over": taken_over,
        "audit_ok": audit_ok,
    }


def _report(results: list[dict], prune: dict) -> None:
    base = results[0]
    table = [
        (
            "| replicas | SIGKILL one mid-load | requests answered | lost | client retries (why) | requests/s | "
            "p50 (s) | p95 (s) | throughput vs 1 replica |"
        ),
        "|---:|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(r["causes"].items())) or "-"
        table.append(
            f"| {r['replicas']} | {'yes' if r['kill'] else 'no'} | {r['answered']} | {r['lost']} | "
            f"{r['retried']} ({why}) | {r['rps']:.2f} | {r['p50']:.3f} | {r['p95']:.3f} | "
            f"{r['rps'] / base['rps']:.2f}x |"
        )
    mb = 1024 * 1024
    intro = (
        f"{SESSIONS} concurrent chat sessions ({TURNS} turns each, history resent, `Idempotency-Key` on every "
        "request) against 1 or 2 `fincopilot serve --no-model` replicas sharing one real PostgreSQL 15 server on "
        "127.0.0.1 (checkpoints, threads, runs and leases, audit chain); the only model call goes to a scripted "
        "FAKE backend that answers instantly, so this measures the replicas' machinery. In the third run replica 0 "
        f"is SIGKILLed {KILL_AFTER_S} s into the load; its clients retry on the other replica with the same key "
        f"(lease {LEASE_S} s, then takeover from the last checkpoint)."
    )
    ledger = (
        f"Runs never finished in the ledger after all scenarios: **{prune['not_done']}** (failed: "
        f"{prune['failed']}); runs taken over by another replica: {prune['taken_over']}; audit chain verifies after the kill: {'yes' if prune['audit_ok'] else 'NO'}. "
        "Both replicas and PostgreSQL share the same 2 cores here, so a second replica adds no CPU: the ratio shows "
        "the cost of coordination, not the scaling a second host gives."
    )
    retention = (
        f"Retention (`fincopilot threads prune --older-than 0s`, then `VACUUM FULL`): database "
        f"{prune['before'][0] / mb:.1f} MiB with {prune['before'][1]} checkpoints before, "
        f"{prune['after'][0] / mb:.1f} MiB with {prune['after'][1]} after; the audit log is untouched."
    )
    body = "\n".join([intro, "", *table, "", ledger, "", retention])
    print(body)
    write_section(
        "replicas",
        "Replicas on PostgreSQL: 1 vs 2, one killed mid-load, retention",
        body,
        "python -m bench.bench_replicas",
    )


if __name__ == "__main__":
    main()
