"""Decode speed of the embedded model, llamacpp vs transformers, each kind in its own fresh process.

`bench_tokens` times short answers end to end, prompt included, with both kinds in one process. This bench
isolates generation: per prompt it times a 1-token answer and a long answer through the production backend
(`complete`, greedy) and divides the extra tokens by the extra seconds, so prompt processing and call overhead
cancel out. Each (kind, threads) pair runs in a fresh subprocess, so no thread pool of the other kind is alive.

Run: `python -m bench.bench_decode [--max-tokens N]`. Writes the `decode` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench.bench_tokens import KINDS, PROMPTS, THREADS
from bench.common import write_section


def one(kind: str, threads: int, max_tokens: int) -> dict[str, float]:
    """Decode and end-to-end tokens/s of `kind` pinned to `threads`, summed over the prompts."""
    import torch

    from fincopilot.config import settings
    from fincopilot.models.messages import messages
    from fincopilot.models.registry import build_backend

    torch.set_num_threads(threads)
    options = {"threads": threads} if kind == "llamacpp" else {}
    spec = (
        settings()
        .backend("smollm2-135m")
        .model_copy(update={"id": f"decode-{kind}", "kind": kind, "options": options})
    )
    backend = build_backend(spec)
    backend.complete(messages(PROMPTS[0]), max_tokens=4)  # load and warm up outside the timings
    extra_tokens = extra_seconds = long_tokens = long_seconds = 0.0
    for prompt in PROMPTS:
        chat = messages(prompt)
        started = time.perf_counter()
        short = backend.complete(chat, max_tokens=1).usage.completion_tokens
        short_s = time.perf_counter() - started
        started = time.perf_counter()
        n = backend.complete(chat, max_tokens=max_tokens).usage.completion_tokens
        long_s = time.perf_counter() - started
        extra_tokens, extra_seconds = extra_tokens + n - short, extra_seconds + long_s - short_s
        long_tokens, long_seconds = long_tokens + n, long_seconds + long_s
    return {
        "decode": extra_tokens / extra_seconds,
        "end_to_end": long_tokens / long_seconds,
        "tokens": long_tokens / len(PROMPTS),
    }


def measure(max_tokens: int) -> dict[tuple[str, int], dict[str, float]]:
    out = {}
    for kind in KINDS:
        for threads in THREADS:
            cmd = [
                sys.executable,
                "-m",
                "bench.bench_decode",
                "--one",
                kind,
                str(threads),
                "--max-tokens",
                str(max_tokens),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            out[(kind, threads)] = json.loads(done.stdout.strip().splitlines()[-1])
            print(kind, threads, out[(kind, threads)], file=sys.stderr)
    return out


def report(r: dict[tuple[str, int], dict[str, float]], max_tokens: int, loads: tuple[float, float]) -> str:
    lines = [
        f"SmolLM2-135M-Instruct, the embedded GGUF (Q4_1) for both kinds (transformers de-quantizes it to float32), "
        f"greedy, the 8 prompts of `bench_tokens`, answers of up to {max_tokens} tokens; each (kind, threads) in a "
        f"fresh process. Load average (1 min) at the start {loads[0]:.2f}, at the end {loads[1]:.2f}.",
        "",
        "| threads | transformers decode tokens/s | llamacpp decode tokens/s | ratio | transformers end to end "
        "| llamacpp end to end | ratio | mean answer tokens (tf / llama) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for threads in THREADS:
        tf, ll = r.get(("transformers", threads)), r.get(("llamacpp", threads))
        if tf is None or ll is None:
            continue
        lines.append(
            f"| {threads} | {tf['decode']:.1f} | {ll['decode']:.1f} | {ll['decode'] / tf['decode']:.1f}x "
            f"| {tf['end_to_end']:.1f} | {ll['end_to_end']:.1f} | {ll['end_to_end'] / tf['end_to_end']:.1f}x "
            f"| {tf['tokens']:.0f} / {ll['tokens']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument(
        "--one", nargs=2, metavar=("KIND", "THREADS"), help="measure one pair (the subprocess)"
    )
    args = parser.parse_args(argv if argv is not None else [])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.max_tokens)))
        return
    load_start = os.getloadavg()[0]
    r = measure(args.max_tokens)
    body = report(r, args.max_tokens, (load_start, os.getloadavg()[0]))
    write_section(
        "decode",
        "Embedded model: decode tokens/s, each kind in a fresh process",
        body,
        f"python -m bench.bench_decode --max-tokens {args.max_tokens}",
    )
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
