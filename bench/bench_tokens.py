"""The embedded model's speed, llamacpp (llama.cpp in-process) vs transformers (PyTorch) on the same GGUF.

Measured in one run, on the same SmolLM2-135M GGUF and the same 8 prompts (EN + ZH), greedy, same max_tokens:
tokens/s at batch 1 (one prompt at a time) and at batch 8 (`complete_batch`), a cold `fincopilot plan`
end to end (a fresh process: import, model load, planning), and the resident memory of `fincopilot serve`
once it has loaded the default model. Throughput counts generated tokens over wall-clock time.

Run: `python -m bench.bench_tokens [--max-tokens N] [--repeats R] [--skip-transformers]`. Writes the
`tokens` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import write_section

PROMPTS = [
    "Explain in detail how a bond's price reacts when interest rates rise.",
    "Describe the main risks of a high-yield bond fund for a retired investor.",
    "Explain what a credit scorecard is and how banks use it.",
    "Describe how diversification reduces portfolio risk, step by step.",
    "请详细解释什么是违约概率，以及银行如何使用它。",
    "Explain the difference between a money market fund and a bond fund.",
    "Describe what a compliance officer checks in an investment recommendation.",
    "请说明债券久期的含义，并举例说明。",
]
PLAN_REQUEST = "Check the credit of client C-1042 and summarize the latest HY-7 report"
KINDS = ("transformers", "llamacpp")
PLAN_REPEATS = 3  # cold plans after the first
THREADS = (1, 2)  # the thread counts of the same-cores comparison
FINCOPILOT = str(Path(sys.executable).with_name("fincopilot"))


def tokens_per_second(
    kind: str, max_tokens: int, repeats: int, progress, task, threads: int | None = None
) -> dict[str, float]:
    """Generated tokens/s at batch 1 and 8; `threads` pins the kind's compute threads (default: its own)."""
    import torch

    from fincopilot.config import settings
    from fincopilot.models.registry import build_backend

    options = {"threads": threads} if threads and kind == "llamacpp" else {}
    spec = (
        settings()
        .backend("smollm2-135m")
        .model_copy(update={"id": f"bench-{kind}-{threads}", "kind": kind, "options": options})
    )
    before = torch.get_num_threads()
    if threads and kind == "transformers":
        torch.set_num_threads(threads)
    try:
        return _rates(build_backend(spec), max_tokens, repeats, progress, task)
    finally:
        torch.set_num_threads(before)


def _rates(backend, max_tokens: int, repeats: int, progress, task) -> dict[str, float]:
    from fincopilot.models.messages import messages

    chats = [messages(p) for p in PROMPTS]
    backend.complete(chats[0], max_tokens=4)  # load weights and warm up outside the timings
    out = {"b1_tokens": 0.0, "b1_time": 0.0, "b8_tokens": 0.0, "b8_time": 0.0}
    for _ in range(repeats):
        started = time.perf_counter()
        for chat in chats:
            out["b1_tokens"] += backend.complete(chat, max_tokens=max_tokens).usage.completion_tokens
            progress.advance(task)
        out["b1_time"] += time.perf_counter() - started
        started = time.perf_counter()
        done = backend.complete_batch(chats, max_tokens=max_tokens)
        out["b8_time"] += time.perf_counter() - started
        out["b8_tokens"] += sum(c.usage.completion_tokens for c in done)
        progress.advance(task)
    out["b1_rate"], out["b8_rate"] = out["b1_tokens"] / out["b1_time"], out["b8_tokens"] / out["b8_time"]
    return out


def config_for(kind: str, folder: Path) -> Path:
    """A copy of the built-in config whose backends (the embedded model and the planner's LoRA) run on `kind`."""
    from importlib import resources

    text = resources.files("fincopilot").joinpath("default.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^kind = "(transformers|llamacpp)"', f'kind = "{kind}"', text)
    path = folder / f"{kind}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _logged(stderr: str, event: str) -> list[dict]:
    """The JSON log lines of `event` on a run's stderr."""
    return [json.loads(line) for line in stderr.splitlines() if f'"event": "{event}"' in line]


def _total(calls: list[dict], field: str) -> float:
    return sum(c.get(field) or 0 for c in calls) if calls else float("nan")


def cold_plan(kind: str, folder: Path) -> dict[str, float | str]:
    """`fincopilot plan REQUEST` in a fresh process: seconds, the plan's source line, and where the time went
    (model load, and for llamacpp the prompt tokens computed and reused and their times, from its logs)."""
    env = {
        **os.environ,
        "FINCOPILOT_CONFIG": str(config_for(kind, folder)),
        "FINCOPILOT_HOME": str(folder / f"home-{kind}"),
    }
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(
        [FINCOPILOT, "--log-level", "debug", "plan", PLAN_REQUEST],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    source = next(
        (ln for ln in done.stdout.splitlines() if ln.startswith("source:")), f"exit {done.returncode}"
    )
    calls = _logged(done.stderr, "llamacpp_call")  # the prompt prefix's own call too, when it was computed
    return {
        "s": seconds,
        "source": source[:90],
        "load_avg": load,
        "model_load_s": _total(_logged(done.stderr, "model_loaded"), "seconds"),
        "prompt_s": _total(calls, "prompt_ms") / 1000,
        "gen_s": _total(calls, "generation_ms") / 1000,
        "prompt_tokens": sum(c.get("prompt_tokens") or 0 for c in calls),
        "cached_tokens": sum(c.get("cached_tokens") or 0 for c in calls),
        "generated_tokens": sum(c.get("generated_tokens") or 0 for c in calls),
    }


def serve_rss_mib(kind: str, folder: Path) -> float:
    """Resident memory of `fincopilot serve` once it is listening (it loads the default model at start)."""
    env = {
        **os.environ,
        "FINCOPILOT_CONFIG": str(config_for(kind, folder)),
        "FINCOPILOT_HOME": str(folder / f"home-{kind}"),
    }
    proc = subprocess.Popen(
        [FINCOPILOT, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 600
        for line in proc.stdout:  # type: ignore[union-attr]
            if "Uvicorn running" in line or time.monotonic() > deadline:
                break
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(kinds: tuple[str, ...], max_tokens: int, repeats: int) -> dict[str, dict[str, float | str]]:
    from rich.progress import Progress

    results: dict[str, dict[str, float | str]] = {}
    with Progress() as progress, tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            task = progress.add_task(f"{kind}: tokens/s, cold plan, serve memory", total=repeats * 9 + 2)
            results[kind] = dict(tokens_per_second(kind, max_tokens, repeats, progress, task))
            # the first plan of a fresh state folder computes the whole prompt (and saves its fixed part);
            # the next fresh processes restore that part (`prompt_cache`), as every later plan on a machine does
            plans = [
                cold_plan(kind, Path(tmp)) for _ in range(1 + (PLAN_REPEATS if kind == "llamacpp" else 0))
            ]
            results[kind]["plans"] = plans  # type: ignore[assignment]
            results[kind]["plan_s"] = statistics.median(float(p["s"]) for p in plans[1:] or plans)
            results[kind]["plan_first_s"] = float(plans[0]["s"])
            results[kind]["plan_source"] = str(plans[-1]["source"])
            progress.advance(task)
            results[kind]["rss_mib"] = serve_rss_mib(kind, Path(tmp))
            progress.advance(task)
    return results


def thread_sweep(kinds: tuple[str, ...], max_tokens: int, repeats: int) -> dict[tuple[str, int], dict]:
    """Tokens/s of each kind pinned to each thread count, so both kinds are compared on the same cores."""
    from rich.progress import Progress

    sweep = {}
    with Progress() as progress:
        for kind in kinds:
            for n in THREADS:
                task = progress.add_task(f"{kind}, {n} thread(s): tokens/s", total=repeats * 9)
                sweep[(kind, n)] = tokens_per_second(kind, max_tokens, repeats, progress, task, threads=n)
    return sweep


def sweep_rows(sweep: dict[tuple[str, int], dict]) -> str:
    """One row per thread count: both kinds' tokens/s and llamacpp's ratio on the same number of threads."""
    rows = []
    for n in THREADS:
        t, g = sweep.get(("transformers", n)), sweep.get(("llamacpp", n))
        if not (t and g):
            continue
        rows.append(
            f"| {n} | {t['b1_rate']:.1f} | {g['b1_rate']:.1f} ({g['b1_rate'] / t['b1_rate']:.1f}x) "
            f"| {t['b8_rate']:.1f} | {g['b8_rate']:.1f} ({g['b8_rate'] / t['b8_rate']:.1f}x) |"
        )
    return (
        "| threads (both kinds) | transformers, batch 1 | llamacpp, batch 1 | transformers, batch 8 "
        "| llamacpp, batch 8 |\n|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def _secs(value: float | str) -> str:
    return "-" if value != value else f"{float(value):.2f}"  # NaN: not logged by this kind


def _tokens(p: dict) -> str:
    return "-" if p["prompt_s"] != p["prompt_s"] else f"{p['prompt_tokens']} / {p['cached_tokens']}"


def plan_rows(r: dict[str, dict]) -> str:
    """One row per cold plan: where its seconds went (the rest: Python start, imports, planning code, exit)."""
    rows = []
    for kind, m in r.items():
        for n, p in enumerate(m["plans"]):
            known = [float(p[k]) for k in ("model_load_s", "prompt_s", "gen_s") if p[k] == p[k]]
            rows.append(
                f"| {kind} | {'first (no saved prefix)' if n == 0 else f'fresh process {n}'} | {p['load_avg']:.2f} "
                f"| {p['s']:.2f} | {_secs(p['model_load_s'])} | {_tokens(p)} "
                f"| {_secs(p['prompt_s'])} | {p['generated_tokens']} | {_secs(p['gen_s'])} "
                f"| {p['s'] - sum(known):.2f} |"
            )
    return (
        "| kind | run | load avg (1 min) | total (s) | model load (s) | prompt tokens computed / reused "
        "| prompt (s) | generated tokens | generation (s) | rest (s) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def report(r: dict[str, dict], sweep: dict, max_tokens: int, repeats: int, loads: tuple[float, float]) -> str:
    base = r.get("transformers")

    def vs_base(m: dict[str, float | str], key: str, faster: bool = False) -> str:
        if not base or m is base:
            return ""
        return f" ({base[key] / m[key]:.1f}x faster)" if faster else f" ({m[key] / base[key]:.1f}x)"  # type: ignore[operator]

    rows = [
        f"| {kind} | {m['b1_rate']:.1f}{vs_base(m, 'b1_rate')} | {m['b8_rate']:.1f}{vs_base(m, 'b8_rate')} "
        f"| {m['plan_first_s']:.1f} | {m['plan_s']:.1f}{vs_base(m, 'plan_s', True)} | {m['plan_source']} "
        f"| {m['rss_mib']:.0f} |"
        for kind, m in r.items()
    ]
    busy = max(loads) > 1.5
    return (
        f"SmolLM2-135M-Instruct, the embedded GGUF (Q4_1) for both kinds (transformers de-quantizes it to "
        f"float32), greedy, max_tokens={max_tokens}, the same {len(PROMPTS)} prompts (EN + ZH), {repeats} "
        f"repeat(s); ratios are against transformers in this run. Load average (1 min) at the start "
        f"{loads[0]:.2f}, at the end {loads[1]:.2f}.\n\n"
        + (
            "**The machine was shared with other jobs during this run (2 cores, load above 1.5):** absolute "
            "numbers are lower than on an idle machine and noisy; the ratios are from the same minutes.\n\n"
            if busy
            else ""
        )
        + "Cold `plan`: `fincopilot plan REQUEST` in a fresh process, first in a new state folder with no "
        f"saved prompt prefix, then (llamacpp) the median of {PLAN_REPEATS} more fresh processes, which restore the "
        "planner prompt's fixed part saved by the first (`prompt_cache`, models/backends/llamacpp.py).\n\n"
        "| kind | tokens/s, batch 1 | tokens/s, batch 8 | cold `plan`, first (s) | cold `plan` (s) "
        "| plan source | `serve` RSS (MiB) |\n|---|---:|---:|---:|---:|---|---:|\n" + "\n".join(rows) + "\n\n"
        "Where each cold plan's seconds went (model load, prompt and generation as the logs report them):\n\n"
        + plan_rows(r)
        + "\nThe first table runs each kind with its own default threads (llamacpp: half the cores, so 1 here; "
        "PyTorch: every core). Pinned to the same number of threads:\n\n"
        + sweep_rows(sweep)
        + "\nTargets (issue #11): llamacpp >= 5x transformers tokens/s at batch 1; cold `plan` <= 5 s on an idle "
        "2-core machine; `serve` RSS <= 1 GB with the default models.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-transformers", action="store_true", help="llamacpp only (no baseline column)")
    args = parser.parse_args(argv if argv is not None else [])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    kinds = KINDS[1:] if args.skip_transformers else KINDS
    load_start = os.getloadavg()[0]
    r = measure(kinds, args.max_tokens, args.repeats)
    sweep = thread_sweep(kinds, args.max_tokens, args.repeats)
    body = report(r, sweep, args.max_tokens, args.repeats, (load_start, os.getloadavg()[0]))
    write_section(
        "tokens",
        "Embedded model: llamacpp vs transformers (tokens/s, cold plan, serve memory)",
        body,
        f"python -m bench.bench_tokens --max-tokens {args.max_tokens} --repeats {args.repeats}",
    )
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
