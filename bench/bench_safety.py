"""Safety-layer benchmark: (1) desensitization overhead per request, (2) throughput with hybrid overflow.

1. A corpus of English and Chinese requests carrying personal data (ID cards, cards, phones, emails, client ids,
   names of the 300 clients `fincopilot data init` generates) is sent to a real OpenAI-compatible HTTP server
   on 127.0.0.1 (it echoes the prompt), once as a `local` backend (no desensitization) and once as an
   `external` one (mask before, restore after). We report mask+restore time per request on its own and the
   end-to-end overhead against the same call without it.
2. A saturated local backend (FAKE scripted model with a FIXED latency of 200 ms, 2 slots) alone, versus the same
   backend with overflow to an external backend (the HTTP server with a FIXED server-side latency of 200 ms,
   8 slots, desensitized). 16 concurrent clients send 80 requests; we report throughput and latency.

Fixed latencies isolate what the gateway adds (routing, limits, desensitization, audit) from model speed.
Run: `python -m bench.bench_safety`.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from rich.progress import Progress

CORPUS_SIZE = 200
DISGUISED_PER_KIND = 200  # 1,200 disguised values, 200 requests
REQUESTS = 80
CLIENT_THREADS = 16
LATENCY_S = 0.2


def _luhn_complete(prefix: str) -> str:
    from fincopilot.safety.pii import luhn_ok

    return next(prefix + c for c in "0123456789" if luhn_ok(prefix + c))


def _id_card(rng: random.Random) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    body = (
        f"{rng.choice(['110105', '440304', '310115', '510107'])}{rng.randint(1950, 2004)}"
        f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    return body + "10X98765432"[sum(int(d) * x for d, x in zip(body, w)) % 11]


def make_corpus(clients: list[tuple], n: int, seed: int = 7) -> list[str]:
    """Realistic advisor requests: a client's name, id and contact details, plus figures that are not PII."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        cid, en, zh, email, phone = rng.choice(clients)
        card = _luhn_complete("6222" + "".join(rng.choice("0123456789") for _ in range(14)))
        if i % 2:
            out.append(
                f"客户{zh}（{cid}）想申购HY-7高收益债券基金，身份证号{_id_card(rng)}，手机{phone}，"
                f"银行卡{card}，邮箱{email}。请核查信用评分、总结最新HY-7报告（收益率7.9%，久期3.1年），"
                f"并确保我的推荐合规。"
            )
        else:
            out.append(
                f"Client {cid} ({en}) wants the HY-7 bond fund. ID {_id_card(rng)}, phone {phone}, "
                f"card {card}, email {email}. Check credit, summarize the latest HY-7 report (yield 7.9%, "
                f"duration 3.1 years, AUM 1.2 billion) and make my recommendation compliant."
            )
    return out


def _clients() -> list[tuple]:
    import duckdb

    from fincopilot.paths import db_path
    from fincopilot.tools.data import init_db

    init_db()
    con = duckdb.connect(str(db_path()), read_only=True)
    rows = con.execute("SELECT client_id, name_en, name_zh, email, phone FROM clients").fetchall()
    con.close()
    return rows


def bench_overhead(corpus: list[str], base_url: str, progress: Progress) -> dict:
    from fincopilot.config import BackendSpec
    from fincopilot.models.backends.openai import OpenAIBackend
    from fincopilot.models.messages import messages
    from fincopilot.safety.desensitize import Pseudonymizer, pseudonym_scope
    from fincopilot.safety.pii import known_client_names

    names = known_client_names()
    # mask + restore alone
    task = progress.add_task("mask+restore", total=len(corpus))
    pure = []
    tokens = 0
    for text in corpus:
        msgs = messages(text, system="You help bank advisors.")
        t = time.perf_counter()
        p = Pseudonymizer(names)
        masked = p.mask_messages(msgs)
        p.restore("ECHO: " + masked[-1].content)
        pure.append(time.perf_counter() - t)
        tokens += sum(p.counts().values())
        progress.advance(task)
    # the same HTTP call, local (no guard) vs external (guard)
    spec = dict(kind="openai", model="capture", max_retries=0, timeout_s=20, options={"base_url": base_url})
    plain = OpenAIBackend(BackendSpec(id="bench-local", residency="local", **spec))
    guarded = OpenAIBackend(BackendSpec(id="bench-cloud", residency="external", **spec))
    for b in (plain, guarded):  # warm up the clients
        b.complete(messages("warm up"))
    timings: dict[str, list[float]] = {"plain": [], "guarded": []}
    task = progress.add_task("HTTP calls", total=2 * len(corpus))
    for i, text in enumerate(corpus):
        msgs = messages(text, system="You help bank advisors.")
        order = (
            (("plain", plain), ("guarded", guarded)) if i % 2 else (("guarded", guarded), ("plain", plain))
        )
        for name, b in order:
            with pseudonym_scope(f"bench-{i}"):
                t = time.perf_counter()
                b.complete(msgs, max_tokens=64)
                timings[name].append(time.perf_counter() - t)
            progress.advance(task)
    mean_plain, mean_guarded = statistics.mean(timings["plain"]), statistics.mean(timings["guarded"])
    adversarial = bench_disguised(names, progress)
    return {
        **adversarial,
        "n": len(corpus),
        "names": len(names),
        "replaced_per_request": tokens / len(corpus),
        "pure_ms_mean": 1000 * statistics.mean(pure),
        "pure_ms_p50": 1000 * statistics.median(pure),
        "pure_ms_p95": 1000 * sorted(pure)[int(0.95 * len(pure))],
        "plain_ms": 1000 * mean_plain,
        "guarded_ms": 1000 * mean_guarded,
        "overhead_ms": 1000 * (mean_guarded - mean_plain),
        "ratio": mean_guarded / mean_plain,
    }


def bench_disguised(names: tuple[str, ...], progress: Progress) -> dict:
    """mask + restore on requests made of disguised values (tests/pii_disguise.py: separators in any grouping,
    zero-width characters, full-width forms, names reordered...), 6 values per request like the plain corpus."""
    from fincopilot.safety.desensitize import Pseudonymizer
    from tests.pii_disguise import generate, known_names, leaks

    every = tuple(sorted({*names, *known_names()}))
    variants = generate(DISGUISED_PER_KIND, seed=2026)
    random.Random(3).shuffle(variants)
    requests = [variants[i : i + 6] for i in range(0, len(variants), 6)]
    task = progress.add_task("disguised mask+restore", total=len(requests))
    times, missed = [], 0
    for req in requests:
        text = " ".join(v.text for v in req)
        t = time.perf_counter()
        p = Pseudonymizer(every)
        masked = p.mask(text)
        p.restore("ECHO: " + masked)
        times.append(time.perf_counter() - t)
        missed += sum(leaks(v.secret, v.kind, masked) for v in req)
        progress.advance(task)
    times.sort()
    return {
        "adv_requests": len(requests),
        "adv_values": len(variants),
        "adv_missed": missed,
        "adv_ms_mean": 1000 * statistics.mean(times),
        "adv_ms_p50": 1000 * statistics.median(times),
        "adv_ms_p95": 1000 * times[int(0.95 * len(times))],
    }


def bench_overflow(corpus: list[str], base_url: str, progress: Progress) -> dict:
    from fincopilot.config import parse_settings
    from fincopilot.errors import BackendError
    from fincopilot.models.gateway import Gateway
    from fincopilot.models.messages import messages
    from fincopilot.models.registry import clear_instances
    from fincopilot.models.router import Router
    from fincopilot.safety.resilience import HealthRegistry

    local = {
        "id": "local",
        "kind": "scripted",
        "model": "scripted",
        "residency": "local",
        "max_concurrency": 2,
        "options": {"delay_s": LATENCY_S, "replies": ["local answer"]},
    }
    cloud = {
        "id": "cloud",
        "kind": "openai",
        "model": "capture",
        "residency": "external",
        "max_concurrency": 8,
        "max_retries": 0,
        "timeout_s": 30,
        "options": {"base_url": base_url},
    }
    results = {}
    for label, backends in (
        ("local only (saturated, queue)", [local]),
        ("local + overflow to external", [local, cloud]),
    ):
        clear_instances()
        cfg = parse_settings(
            {
                "default_backend": "local",
                "backends": backends,
                "overflow": {"mode": "overflow", "queue_size": 256, "queue_timeout_s": 120},
            }
        )
        gw = Gateway(Router(cfg), health=HealthRegistry())
        task = progress.add_task(label, total=REQUESTS)
        lat: list[float] = []
        served: dict[str, int] = {}

        def one(i: int, gw=gw, served=served, lat=lat, task=task) -> None:
            t = time.perf_counter()
            try:
                out = gw.complete(
                    "report_summary", messages(corpus[i % len(corpus)]), request_id=f"bench-o{i}"
                )
                served[out.backend_id] = served.get(out.backend_id, 0) + 1
            except BackendError:
                served["failed"] = served.get("failed", 0) + 1
            lat.append(time.perf_counter() - t)
            progress.advance(task)

        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            list(pool.map(one, range(REQUESTS)))
        wall = time.perf_counter() - start
        lat.sort()
        results[label] = {
            "throughput": REQUESTS / wall,
            "p50": lat[len(lat) // 2],
            "p95": lat[int(0.95 * len(lat))],
            "served": served,
            "wall": wall,
        }
    clear_instances()
    return results


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.common import write_section
    from tests.capture_server import CaptureServer  # the same capturing server the tests use

    with tempfile.TemporaryDirectory() as home:
        os.environ["FINCOPILOT_HOME"] = home
        os.environ.pop("FINCOPILOT_DB", None)
        corpus = make_corpus(_clients(), CORPUS_SIZE)
        with Progress() as progress:
            with CaptureServer() as fast:
                ov = bench_overhead(corpus, fast.base_url, progress)
            with CaptureServer(delay_s=LATENCY_S) as slow:
                tp = bench_overflow(corpus, slow.base_url, progress)
        from fincopilot.safety import audit

        audit_ok = audit.verify()
        audit.flush()
    load = os.getloadavg()
    rows = "\n".join(
        f"| {label} | {r['throughput']:.1f} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(r['served'].items()))} |"
        for label, r in tp.items()
    )
    base, over = tp["local only (saturated, queue)"], tp["local + overflow to external"]
    body = f"""
**1. Desensitization overhead per request** ({ov["n"]} requests, English and Chinese, each with a client name, client id,
ID-card number, phone, bank card and email; {ov["names"]} known client names from `fincopilot data init`;
{ov["replaced_per_request"]:.1f} values replaced per request). The backend is a real OpenAI-compatible HTTP server on
127.0.0.1 that answers at once, so the ratio isolates our cost (a real model call takes hundreds of ms or more,
against which the same absolute overhead is small). The machine was shared with other jobs during the run
(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores at its end), which inflates means and
p95s; medians are the steadier figure.

| measure | value |
| --- | --- |
| mask + restore alone, mean (median, p95) | {ov["pure_ms_mean"]:.2f} ms ({ov["pure_ms_p50"]:.2f} ms, {ov["pure_ms_p95"]:.2f} ms) |
| HTTP call without desensitization (local residency), mean | {ov["plain_ms"]:.2f} ms |
| same call as an external backend (masked, audited, restored), mean | {ov["guarded_ms"]:.2f} ms |
| overhead per request | {ov["overhead_ms"]:.2f} ms (× {ov["ratio"]:.2f} of a call to an instant server) |

The overhead includes the `desensitize` audit event written to DuckDB for each external call.

Disguised values (red-team issue #14): {ov["adv_requests"]} requests of 6 disguised values each ({ov["adv_values"]} values,
generated by `tests/pii_disguise.py`: digits grouped any way with dots, NBSP, dashes, zero-width characters or
full-width forms; names spaced, reversed with a comma, hyphenated, tab-separated), against {ov["names"]} + 512
known names: mask + restore {ov["adv_ms_mean"]:.2f} ms mean ({ov["adv_ms_p50"]:.2f} ms median, {ov["adv_ms_p95"]:.2f} ms p95)
per request, against {ov["pure_ms_mean"]:.2f} ms ({ov["pure_ms_p50"]:.2f} ms median) for the plain corpus in the same run; raw values left after masking:
{ov["adv_missed"]} of {ov["adv_values"]}. Target: < 5 ms per request.

**2. Throughput: hybrid overflow vs a saturated local backend alone.** {REQUESTS} requests from {CLIENT_THREADS} concurrent
clients. Backends have FIXED latencies: the local one is a scripted fake with {LATENCY_S * 1000:.0f} ms per call and 2
slots; the external one is the HTTP server with {LATENCY_S * 1000:.0f} ms server-side delay and 8 slots (desensitized).

| configuration | requests/s | p50 latency ms | p95 latency ms | served by |
| --- | --- | --- | --- | --- |
{rows}

Overflow raises throughput × {over["throughput"] / base["throughput"]:.1f} and cuts p95 latency from
{base["p95"] * 1000:.0f} ms to {over["p95"] * 1000:.0f} ms; the ideal with 2 + 8 slots at {LATENCY_S * 1000:.0f} ms is
{10 / LATENCY_S:.0f} req/s vs {2 / LATENCY_S:.0f} req/s. Audit chain after the run: {"OK" if audit_ok.ok else "BROKEN"},
{audit_ok.count} rows.
"""
    write_section(
        "safety",
        "Safety layer: desensitization overhead and hybrid overflow",
        body,
        "python -m bench.bench_safety",
    )
    print(body)


if __name__ == "__main__":
    main()
