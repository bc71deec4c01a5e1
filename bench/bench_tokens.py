"""Tokens/s of the transformers backend: the same 8 prompts one at a time vs as one batch of 8.

Run: `python -m bench.bench_tokens [--max-tokens N] [--repeats R]`. Both modes use greedy decoding and
the same max_tokens; throughput counts generated tokens (each row up to its own end of sequence, no
padding) over wall-clock time. Writes the `tokens` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time

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


def measure(max_tokens: int, repeats: int) -> dict[str, float]:
    from rich.progress import Progress

    from fincopilot.config import settings
    from fincopilot.models.base import messages
    from fincopilot.models.registry import build_backend

    backend = build_backend(settings().backend("smollm2-135m"))
    chats = [messages(p) for p in PROMPTS]
    backend.complete(chats[0], max_tokens=4)  # load weights and warm up outside the timings
    seq_tokens = seq_time = batch_tokens = batch_time = 0.0
    with Progress() as progress:
        task = progress.add_task("tokens/s: sequential then batched", total=repeats * (len(chats) + 1))
        for _ in range(repeats):
            started = time.perf_counter()
            for chat in chats:
                seq_tokens += backend.complete(chat, max_tokens=max_tokens).usage.completion_tokens
                progress.advance(task)
            seq_time += time.perf_counter() - started
            started = time.perf_counter()
            done = backend.complete_batch(chats, max_tokens=max_tokens)
            batch_time += time.perf_counter() - started
            batch_tokens += sum(c.usage.completion_tokens for c in done)
            progress.advance(task)
    seq_rate, batch_rate = seq_tokens / seq_time, batch_tokens / batch_time
    return {
        "seq_tokens": seq_tokens, "seq_time": seq_time, "seq_rate": seq_rate,
        "batch_tokens": batch_tokens, "batch_time": batch_time, "batch_rate": batch_rate,
        "ratio": batch_rate / seq_rate,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv if argv is not None else [])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    r = measure(args.max_tokens, args.repeats)
    load = os.getloadavg()[0]
    body = (
        f"SmolLM2-135M-Instruct (embedded GGUF, de-quantized to float32, CPU), greedy, max_tokens={args.max_tokens}, "
        f"the same {len(PROMPTS)} prompts (EN + ZH), {args.repeats} repeat(s). Load average at the end: {load:.2f}.\n\n"
        "| mode | generated tokens | seconds | tokens/s |\n|---|---:|---:|---:|\n"
        f"| one prompt at a time | {r['seq_tokens']:.0f} | {r['seq_time']:.1f} | {r['seq_rate']:.1f} |\n"
        f"| one batch of {len(PROMPTS)} | {r['batch_tokens']:.0f} | {r['batch_time']:.1f} | {r['batch_rate']:.1f} |\n\n"
        f"**Batch / sequential throughput: {r['ratio']:.2f}x**\n"
    )
    write_section("tokens", "Transformers backend: tokens/s, sequential vs batch of 8", body,
                  f"python -m bench.bench_tokens --max-tokens {args.max_tokens} --repeats {args.repeats}")
    print(body)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
