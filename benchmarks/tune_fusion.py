"""Tune hybrid fusion on one half of a BEIR set's queries (the other half is for reporting).

Searches the tuning half once per retriever (bm25 and dense, ``--candidates`` results each, which
is what the index's hybrid mode fuses), then scores every fusion setting in a grid offline with
the index's own pure functions (``groundqa.index.fusion.rrf`` / ``weighted``):

* RRF with k in {1, 2, 5, 10, 20, 30, 60, 100} and a BM25 weight in {0.25 .. 4} (dense weight 1);
* weighted sum of min-max normalised scores with a BM25 weight in {0.05 .. 0.95} (dense 1 - w).

Writes every setting's nDCG@10 / MRR@10 / recall@10 on the tuning half, the best setting, and the
best single retriever. Report on the other half with ``groundqa bench retrieval --query-split``
and the chosen ``--fusion/--rrf-k/--weights`` (see benchmarks/retrieval.sh)::

    python benchmarks/tune_fusion.py --data ../shared/data/cranfield/beir --split even \\
        --json benchmarks/results/retrieval/retrieval_fusion_tuning_cranfield.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

RRF_KS = (1, 2, 5, 10, 20, 30, 60, 100)
RRF_BM25_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
WEIGHTED_BM25 = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def main(argv: Sequence[str] | None = None) -> int:
    from groundqa.bench.beir import load_beir
    from groundqa.bench.metrics import evaluate
    from groundqa.bench.retrieval import QueryVectorCache, RetrievalBenchConfig, build_index, library_versions, ranking_to_run, search_rankings
    from groundqa.index import fusion
    from groundqa.index.embed import make_embedder

    p = argparse.ArgumentParser(description="tune hybrid fusion on one half of a BEIR set's queries")
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["even", "odd"], default="even", help="the half to tune on (default even)")
    p.add_argument("--embedder", default="minilm-l6")
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    ds = load_beir(args.data)
    tune = ds.select_queries(args.split)
    config = RetrievalBenchConfig(embedder=args.embedder, candidates=args.candidates, query_split=args.split)
    emb = QueryVectorCache(make_embedder(args.embedder))
    t0 = time.perf_counter()
    index = build_index(ds, config, emb)
    print(f"indexed {len(ds.corpus)} documents in {time.perf_counter() - t0:.0f}s; tuning on {len(tune.queries)} {args.split} queries", file=sys.stderr)
    stage = {m: search_rankings(index, tune.queries, mode=m, top_k=args.candidates) for m in ("bm25", "dense")}

    def score(run: dict[str, dict[str, float]]) -> dict[str, float]:
        m = evaluate(tune.qrels, run, ks=(10,)).to_dict()
        return {"ndcg@10": m["ndcg@10"], "mrr@10": m["mrr@10"], "recall@10": m["recall@10"]}

    singles = {m: score({q: ranking_to_run(r) for q, r in stage[m].items()}) for m in stage}
    grid: list[dict[str, Any]] = []
    for k in RRF_KS:
        for w in RRF_BM25_WEIGHTS:
            run = {}
            for q in tune.queries:
                fused = fusion.rrf([[d for d, _ in stage["bm25"][q]], [d for d, _ in stage["dense"][q]]], k=k, weights=[w, 1.0])
                run[q] = ranking_to_run(fused[:100])
            grid.append({"fusion": "rrf", "rrf_k": k, "weights": {"bm25": w, "dense": 1.0}, **score(run)})
    for w in WEIGHTED_BM25:
        run = {}
        for q in tune.queries:
            fused = fusion.weighted([dict(stage["bm25"][q]), dict(stage["dense"][q])], weights=[w, 1.0 - w])
            run[q] = ranking_to_run(fused[:100])
        grid.append({"fusion": "weighted", "rrf_k": None, "weights": {"bm25": w, "dense": round(1.0 - w, 4)}, **score(run)})
    default = next(g for g in grid if g["fusion"] == "rrf" and g["rrf_k"] == 60 and g["weights"]["bm25"] == 1.0)
    best = max(grid, key=lambda g: (g["ndcg@10"], g["mrr@10"]))
    best_single = max(singles, key=lambda m: singles[m]["ndcg@10"])
    out = {
        "dataset": ds.name,
        "tuned_on": {"split": args.split, "queries": len(tune.queries)},
        "single_retrievers": singles,
        "default_rrf60": default,
        "best": best,
        "best_beats_best_single_on_tuning_half": best["ndcg@10"] >= singles[best_single]["ndcg@10"],
        "grid": sorted(grid, key=lambda g: -g["ndcg@10"]),
        "config": {"embedder": args.embedder, "candidates": args.candidates, "data": args.data, "note": "fusion applied offline to the per-retriever candidate lists with groundqa.index.fusion"},
        "versions": library_versions(),
    }
    print(f"{ds.name} ({args.split} half, {len(tune.queries)} queries): bm25 {singles['bm25']['ndcg@10']:.4f}  dense {singles['dense']['ndcg@10']:.4f}  "
          f"rrf60 {default['ndcg@10']:.4f}  best {best['fusion']} k={best['rrf_k']} w={best['weights']} {best['ndcg@10']:.4f}")
    for g in out["grid"][:8]:
        print(f"  {g['fusion']:<8} k={g['rrf_k']!s:<4} w_bm25={g['weights']['bm25']:<5} w_dense={g['weights']['dense']:<5} ndcg@10={g['ndcg@10']:.4f} mrr@10={g['mrr@10']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
