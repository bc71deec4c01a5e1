"""Server throughput: 16 concurrent chat sessions vs one session, against `fincopilot serve` on 127.0.0.1.

`python -m bench.bench_server` (or `python -m bench bench_server`). It starts a real `fincopilot serve
--no-model` subprocess on a fresh home (real DuckDB data, scorecard, LangGraph graph, SQLite checkpoints, audit
log) whose remaining model calls go to a scripted FAKE backend that answers instantly, so the numbers measure
the server and the graph machinery, not a model. Each session is a conversation: every request resends the
history through the official OpenAI wire format (`/v1/chat/completions`, non-streaming) and continues its thread.
httpx's async client with a bounded pool (16 connections) drives the load; loopback only.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import write_section

SESSIONS = 16
TURNS_PER_SESSION = 4
BASELINE_REQUESTS = 12
FAKE_CONFIG = """
default_backend = "bench-scripted"
[[backends]]
id = "bench-scripted"
kind = "scripted"
model = "scripted"
max_concurrency = 64
options = { replies = ["(scripted fake explanation)"] }
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(home: Path) -> list[str]:
    """Domain data and scorecard in `home`; returns client ids to ask about."""
    os.environ["FINCOPILOT_HOME"] = str(home)
    from fincopilot.agents.skills import SkillContext, get_skill
    from fincopilot.tools.data import init_db

    init_db()
    s = get_skill("credit_lookup")
    s.run({"client": "C-1042", "explain": False}, SkillContext(skill=s.name, allowed_tools=s.tools))
    import duckdb

    from fincopilot.paths import db_path

    with duckdb.connect(str(db_path()), read_only=True) as con:
        return [r[0] for r in con.sql("SELECT client_id FROM clients ORDER BY client_id LIMIT 64").fetchall()]


async def _session(
    client: httpx.AsyncClient, clients: list[str], turns: int, latencies: list[float], offset: int
) -> None:
    history: list[dict[str, str]] = []
    for t in range(turns):
        cid = clients[(offset + t) % len(clients)]
        history.append({"role": "user", "content": f"What is the credit grade of client {cid}?"})
        start = time.perf_counter()
        resp = await client.post(
            "/v1/chat/completions", json={"model": "fincopilot-advisor", "messages": history}
        )
        latencies.append(time.perf_counter() - start)
        resp.raise_for_status()
        history.append({"role": "assistant", "content": resp.json()["choices"][0]["message"]["content"]})


async def _load(
    url: str, key: str, clients: list[str], sessions: int, turns: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=sessions, max_keepalive_connections=sessions)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=300
    ) as client:
        start = time.perf_counter()
        await asyncio.gather(
            *(_session(client, clients, turns, latencies, i * turns) for i in range(sessions))
        )
        return time.perf_counter() - start, latencies


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        home = Path(tmp)
        clients = _prepare(home)
        config = home / "bench.toml"
        config.write_text(FAKE_CONFIG)
        exe = str(Path(sys.executable).with_name("fincopilot"))
        env = {**os.environ, "FINCOPILOT_HOME": str(home)}
        key = subprocess.run(
            [exe, "keys", "create", "--role", "advisor", "--name", "Olivia Brandt"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [
                exe,
                "--log-level",
                "error",
                "--config",
                str(config),
                "serve",
                "--no-model",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.time() + 120
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError("fincopilot serve did not start") from None
                    time.sleep(0.3)
            asyncio.run(_load(url, key, clients, 2, 1))  # warm-up: imports, graph compile, caches
            base_wall, base_lat = asyncio.run(_load(url, key, clients, 1, BASELINE_REQUESTS))
            conc_wall, conc_lat = asyncio.run(_load(url, key, clients, SESSIONS, TURNS_PER_SESSION))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    base_rps, conc_rps = len(base_lat) / base_wall, len(conc_lat) / conc_wall
    rows = [
        ("1 session (baseline)", len(base_lat), base_rps, base_lat),
        (f"{SESSIONS} concurrent sessions", len(conc_lat), conc_rps, conc_lat),
    ]
    table = [
        "| load | requests | requests/s | p50 latency (s) | p95 latency (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, n, rps, lat in rows:
        table.append(f"| {name} | {n} | {rps:.2f} | {_pct(lat, 50):.3f} | {_pct(lat, 95):.3f} |")
    body = "\n".join(
        [
            "16 concurrent chat sessions (each a 4-turn conversation resending its history) against `fincopilot serve "
            "--no-model` on 127.0.0.1, vs one session sending 12 requests in a row; OpenAI-format non-streaming "
            "requests via httpx (async, 16 connections). Each request runs the real advisor graph (rules planner, "
            "credit_lookup on the real DuckDB data and scorecard, template answer, compliance rules, SQLite "
            "checkpoints, audit log); the only model call (the credit explanation) goes to a scripted FAKE backend "
            "that answers instantly, so this measures the server and graph machinery, not a model.",
            "",
            *table,
            "",
            f"Throughput ratio, 16 sessions / 1 session: **{conc_rps / base_rps:.2f}x**; p50 latency ratio "
            f"{_pct(conc_lat, 50) / _pct(base_lat, 50):.2f}x. The graph work is CPU-bound Python on a shared "
            "machine, so concurrency mostly overlaps I/O (SQLite, DuckDB) and queueing shows up as latency.",
        ]
    )
    print(body)
    write_section("server", "Server: 16 concurrent chat sessions", body, "python -m bench.bench_server")


if __name__ == "__main__":
    main()
