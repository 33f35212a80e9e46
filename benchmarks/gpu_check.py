"""One script for a GPU machine (under five minutes): build the dense index on the GPU and the CPU
over the same vectors, search both, compare results, time both.

    python benchmarks/gpu_check.py [--n 200000] [--queries 2000] [--json benchmarks/results/gpu_check.json]

Needs faiss-gpu (the `gpu` extra). Vectors are random unit vectors (the comparison is about FAISS
on two devices, not about embedding quality); pass --embed to embed real SQuAD sentences instead.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=2_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import faiss

    from groundqa.index.dense import DenseConfig, DenseIndex, gpu_count

    n_gpu = gpu_count()
    print(f"faiss {faiss.__version__}, GPUs seen: {n_gpu}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.choice(args.n, args.queries, replace=False)] + 0.05 * rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)

    results = {}
    hits = {}
    for device in ("cpu", "gpu") if n_gpu else ("cpu",):
        t0 = time.perf_counter()
        idx = DenseIndex(args.dim, DenseConfig(kind="flat", device=device))
        idx.rebuild(x)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        hits[device] = idx.search_batch(q, args.k)
        search = time.perf_counter() - t0
        results[device] = {"build_s": build, "search_s": search, "queries_per_s": args.queries / search, "on_gpu": idx.on_gpu}
        print(f"{device}: build {build:.2f}s, {args.queries} queries in {search:.3f}s ({args.queries / search:,.0f} q/s)")
    if "gpu" in hits:
        same_top1 = np.mean([a.positions[0] == b.positions[0] for a, b in zip(hits["cpu"], hits["gpu"])])
        max_diff = max(float(np.max(np.abs(a.scores - b.scores))) for a, b in zip(hits["cpu"], hits["gpu"]))
        overlap = np.mean([len(set(a.positions) & set(b.positions)) / args.k for a, b in zip(hits["cpu"], hits["gpu"])])
        results["compare"] = {"top1_equal": float(same_top1), "topk_overlap": float(overlap), "max_score_diff": max_diff, "speedup": results["cpu"]["search_s"] / results["gpu"]["search_s"]}
        print(f"top-1 equal {same_top1:.4f}, top-{args.k} overlap {overlap:.4f}, max score diff {max_diff:.2e}, GPU speed-up {results['compare']['speedup']:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "dim": args.dim, "queries": args.queries, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
