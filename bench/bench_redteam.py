"""Red-team replay (issue #14): hostile inputs per area, each counted as tried / held / failed.

- PII disguises: generated disguised values of every kind (tests/pii_disguise.py) plus the issue's own examples,
  sent through the gateway to an `external` backend (a real OpenAI-compatible HTTP server on 127.0.0.1);
  held = the raw value is not in what reached the wire.
- Client book: every advisor of the demo database reading a sample of clients (their own and others'), name
  variants of the owner, and a compliance officer; held = allowed exactly when the book says so.
- HTTP input: deeply nested JSON, out-of-range OpenAI parameters, seeded random JSON bodies and bytes, the
  schema pages without a key, clients hanging up mid-body, against a real uvicorn server (the runner is a FAKE
  that echoes: the HTTP layer is what is tested); held = a 4xx (never a 5xx) and no traceback in the log.
- CLI: invalid UTF-8 arguments, binary config files, state folders that cannot be created, an unknown thread
  to review, run as subprocesses of the real console command; held = exit 2 with one `error:` line.

Run: `python -m bench.bench_redteam`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
ISSUE_EXAMPLES = [
    ("id_card", "110101 1990 0307 1233"),
    ("id_card", "110-101-1990-0307-1233"),
    ("id_card", "110101199 003071233"),
    ("bank_card", "6222.0202.1234.5679"),
    ("bank_card", "6222\u00a00202\u00a01234\u00a05679"),
    ("bank_card", "62220 20212 345679"),
    ("phone", "8613513854740"),
    ("phone", "139.8765.4321"),
    ("phone", "1\u200b3\u200b9\u200b8765\u200b4321"),
]


def pii_area(progress: Progress) -> dict[str, list[int]]:
    from fincopilot.config import parse_settings
    from fincopilot.models.gateway import Gateway
    from fincopilot.models.messages import messages
    from fincopilot.models.router import Router
    from fincopilot.safety.pii import add_known_names
    from fincopilot.safety.resilience import HealthRegistry
    from tests.capture_server import CaptureServer
    from tests.pii_disguise import Variant, generate, known_names, leaks

    add_known_names(known_names())
    variants = generate(200, seed=99) + [
        Variant(
            k,
            v.replace("\u00a0", "").replace("\u200b", "").replace(" ", "").replace("-", "").replace(".", ""),
            f"ref {v}",
        )
        for k, v in ISSUE_EXAMPLES
    ]
    counts: dict[str, list[int]] = {}
    task = progress.add_task("PII disguises", total=len(variants))
    with CaptureServer() as srv:
        cfg = parse_settings(
            {
                "default_backend": "cloud",
                "backends": [
                    {
                        "id": "cloud",
                        "kind": "openai",
                        "model": "capture",
                        "residency": "external",
                        "max_retries": 0,
                        "options": {"base_url": srv.base_url},
                    }
                ],
            },
            "bench",
        )
        gw = Gateway(Router(cfg), health=HealthRegistry())
        for i in range(0, len(variants), 20):
            batch = variants[i : i + 20]
            gw.complete("report_summary", messages("\n".join(v.text for v in batch)), request_id=f"rt-{i}")
            sent = srv.bodies[-1]["messages"][-1]["content"]
            for v in batch:
                tried_held = counts.setdefault(f"PII: {v.kind}", [0, 0])
                tried_held[0] += 1
                tried_held[1] += not leaks(v.secret[-11:] if v.kind == "phone" else v.secret, v.kind, sent)
            progress.advance(task, len(batch))
    return counts


def book_area(progress: Progress) -> dict[str, list[int]]:
    from fincopilot.principal import PermissionDenied, Principal, acting_as
    from fincopilot.tools import data

    with data.connect() as con:
        clients = con.execute("SELECT client_id, advisor FROM clients ORDER BY client_id").fetchall()
    advisors = sorted({a for _, a in clients})
    sample = random.Random(4).sample(clients, 40)
    tried = held = 0
    task = progress.add_task("client book", total=len(advisors) * len(sample) * 2 + len(sample))
    cases = [(Principal(id=f"key:{a}", role="advisor", name=a), a) for a in advisors]
    cases += [
        (Principal(id=f"key:v{a}", role="advisor", name=a.lower()), None) for a in advisors
    ]  # name variants
    cases.append((Principal(id="key:officer", role="compliance_officer", name="Olga Officer"), "*"))
    for who, sees in cases:
        for cid, owner in sample:
            with acting_as(who):
                try:
                    allowed = data.get_client(cid).client_id == cid and bool(
                        data.get_holdings(cid) is not None
                    )
                except PermissionDenied:
                    allowed = False
            tried += 1
            held += allowed == (sees == "*" or sees == owner)
            progress.advance(task)
    return {"client book (advisors, name variants, officer)": [tried, held]}


class EchoRunner:
    """FAKE runner (no graph, no model): answers every request with its text, so only the HTTP layer is tested."""

    def run(self, text, *, thread_id=None, request_id=None, principal=None):
        from fincopilot.graphs.events import Event

        rid = request_id or "r"
        yield Event(type="answer", request_id=rid, thread_id=thread_id, data={"text": text})
        yield Event(type="compliance", request_id=rid, thread_id=thread_id, data={"passed": True})
        yield Event(type="done", request_id=rid, thread_id=thread_id, data={"status": "answered"})

    def resume(self, thread_id, review):
        return iter(())

    def thread(self, thread_id):
        return {"thread_id": thread_id, "status": "answered"}

    def threads(self):
        return []


def _random_json(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return rng.choice([None, True, -5, 3, 2.5, "hot", "", "user", "x" * rng.randint(0, 50), [], {}])
    if roll < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = [
        "model",
        "messages",
        "n",
        "max_tokens",
        "temperature",
        "top_p",
        "stream",
        "metadata",
        "role",
        "content",
        "message",
        "thread_id",
        "stop",
    ]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def http_area(progress: Progress, home: Path) -> dict[str, list[int]]:
    import httpx

    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore
    from tests.server_fakes import LiveServer

    store = KeyStore(home / "server.sqlite")
    _, token = store.create("advisor", "Ann Advisor")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    model = "fincopilot-advisor"
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    rng = random.Random(8)
    bodies: dict[str, list[bytes]] = {
        "HTTP: nested JSON": [
            json.dumps({**chat, "metadata": {"x": 0}}).replace("0}", "[" * d + "]" * d + "}").encode()
            for d in (33, 100, 1000, 10_000, 100_000, 300_000)
        ],
        "HTTP: OpenAI parameters": [
            json.dumps({**chat, k: v}).encode()
            for k, v in [
                ("n", 3),
                ("n", 0),
                ("max_tokens", -5),
                ("max_tokens", "many"),
                ("temperature", "hot"),
                ("temperature", 9),
                ("top_p", 2),
                ("stream", "yes?"),
                ("presence_penalty", 5),
                ("max_completion_tokens", 0),
            ]
        ],
        "HTTP: random JSON": [json.dumps(_random_json(rng)).encode() for _ in range(300)],
        "HTTP: random bytes": [
            bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))) for _ in range(100)
        ],
    }
    counts: dict[str, list[int]] = {}
    error_log = logging.getLogger("uvicorn.error")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    error_log.addHandler(handler)
    task = progress.add_task("HTTP input", total=sum(map(len, bodies.values())) + 12)
    with (
        LiveServer(create_app({model: EchoRunner()}, keys=store)) as server,
        httpx.Client(timeout=30) as http,
    ):
        for area, items in bodies.items():
            for raw in items:
                for path in ("/v1/chat/completions", "/api/chat"):
                    status = http.post(server.url + path, content=raw, headers=auth).status_code
                    c = counts.setdefault(area, [0, 0])
                    c[0] += 1
                    c[1] += status < 500 and (area == "HTTP: random JSON" or 400 <= status < 500)
                progress.advance(task)
        for path in ("/docs", "/openapi.json", "/redoc"):
            c = counts.setdefault("HTTP: schema pages without a key", [0, 0])
            c[0] += 1
            c[1] += http.get(server.url + path).status_code in (401, 404)
        host, port = server.url.removeprefix("http://").split(":")
        before = len(records)
        for _ in range(10):
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(
                    f"POST /api/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                    'Content-Length: 9000\r\n\r\n{"message": '.encode()
                )
            progress.advance(task)
        time.sleep(0.5)
        traced = sum(1 for r in records[before:] if r.exc_info)
        counts["HTTP: client hangs up mid-body"] = [10, 10 - min(10, traced)]
    error_log.removeHandler(handler)
    counts["HTTP: any 5xx traceback in the log"] = [1, int(not any(r.exc_info for r in records))]
    return counts


def cli_area(progress: Progress, home: Path) -> dict[str, list[int]]:
    exe = str(Path(sys.executable).parent / "fincopilot")
    blocker = home / "a-file"
    blocker.write_text("x")
    (home / "bin.toml").write_bytes(bytes(range(256)))
    (home / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    (home / "nul.toml").write_bytes(b"\x00" * 8)
    cases: list[tuple[str, list, dict]] = [
        ("CLI: invalid UTF-8 argument", [b"credit", b"C-10\xff42"], {}),
        ("CLI: invalid UTF-8 argument", [b"ask", b"\xc3\x28 client"], {}),
        ("CLI: invalid UTF-8 argument", [b"review", b"t-\xfe"], {}),
        ("CLI: binary config file", ["--config", str(home / "bin.toml"), "models", "list"], {}),
        ("CLI: binary config file", ["--config", str(home / "bin.yaml"), "models", "list"], {}),
        ("CLI: binary config file", ["--config", str(home / "nul.toml"), "models", "list"], {}),
        (
            "CLI: FINCOPILOT_HOME cannot be created",
            ["credit", "C-1042"],
            {"FINCOPILOT_HOME": str(blocker / "h")},
        ),
        (
            "CLI: FINCOPILOT_HOME cannot be created",
            ["credit", "C-1042"],
            {"FINCOPILOT_HOME": "/proc/fincopilot"},
        ),
        ("CLI: review of an unknown thread", ["review", "t-nope", "--approve"], {}),
    ]
    counts: dict[str, list[int]] = {}
    task = progress.add_task("CLI", total=len(cases))
    for area, args, env in cases:
        environ = {**os.environ, "FINCOPILOT_HOME": str(home / "cli-home"), **env}
        proc = subprocess.run(
            [exe, *args],
            check=False,
            capture_output=True,
            text=True,
            errors="replace",
            env=environ,
            timeout=300,
        )
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        ok = proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        c = counts.setdefault(area, [0, 0])
        c[0] += 1
        c[1] += ok
        progress.advance(task)
    return counts


def main() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from bench.common import write_section

    counts: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["FINCOPILOT_HOME"] = str(home)
        os.environ.pop("FINCOPILOT_DB", None)
        from fincopilot.tools.data import init_db

        init_db()
        with Progress() as progress:
            counts.update(pii_area(progress))
            counts.update(book_area(progress))
            counts.update(http_area(progress, home))
            counts.update(cli_area(progress, home))
    rows = "\n".join(f"| {area} | {t} | {h} | {t - h} |" for area, (t, h) in counts.items())
    total_t, total_h = sum(t for t, _ in counts.values()), sum(h for _, h in counts.values())
    body = f"""
Hostile inputs replayed against the real components (gateway + HTTP capture server, DuckDB data layer, uvicorn
server, console command). *Held* means the defence did what it must: no raw value on the wire, access exactly as
the book allows, a 4xx (never a 5xx, never a traceback), one `error:` line with exit 2. The issue's red-team pass
found 14 of 26 disguised values, 1 cross-book read, 4 HTTP and 3 CLI failures before these fixes.

| area | tried | held | failed |
| --- | ---: | ---: | ---: |
{rows}
| **total** | **{total_t}** | **{total_h}** | **{total_t - total_h}** |
"""
    write_section(
        "redteam",
        "Red-team replay: inputs tried, held and failed per area (issue #14)",
        body,
        "python -m bench.bench_redteam",
    )
    print(body)


if __name__ == "__main__":
    main()
