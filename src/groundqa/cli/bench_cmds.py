"""``groundqa bench retrieval``: recall@k, MRR@10 and nDCG@10 per retrieval mode on a BEIR folder.

(``bench qa`` and ``bench guard`` are registered by the modules of their stages.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_weights(value: str | None) -> dict[str, float] | None:
    """``"bm25=0.3,dense=0.7"`` -> ``{"bm25": 0.3, "dense": 0.7}``."""
    if value is None:
        return None
    out: dict[str, float] = {}
    for part in _csv(value):
        name, sep, num = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(num)
        except ValueError:
            raise ConfigError(f"--weights {value!r} is not valid; write it as bm25=W,dense=W (e.g. bm25=0.3,dense=0.7)") from None
    return out


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    r = bench_sub.add_parser(
        "retrieval",
        help="retrieval quality on a BEIR folder (recall@1/5/10/100, MRR@10, nDCG@10 per mode)",
        description="Index a BEIR folder's corpus (one chunk per document), search its queries in each mode, "
        "and report recall@1/5/10/100, MRR@10 and nDCG@10.",
    )
    r.add_argument("--data", required=True, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
    r.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated: bm25, dense, hybrid (default: all three)")
    r.add_argument("--embedder", default="minilm-l6", help="embedder reference: packaged name, folder or hub id (default minilm-l6)")
    r.add_argument("--top-k", type=int, default=100, help="documents retrieved per query (default 100; at least 100 for recall@100)")
    r.add_argument("--limit-queries", type=int, default=None, help="score only the first N queries (after --query-split)")
    r.add_argument("--query-split", choices=["all", "even", "odd"], default="all", help="all queries, or the 2nd/4th/... (even) or 1st/3rd/... (odd) in file order")
    r.add_argument("--fusion", choices=["rrf", "weighted"], default="weighted", help="hybrid fusion: weighted normalised scores (default, as the index) or reciprocal rank")
    r.add_argument("--rrf-k", type=float, default=60.0, help="RRF's k (default 60)")
    r.add_argument("--weights", default=None, help="per-retriever fusion weights, e.g. bm25=0.3,dense=0.7 (default: the index's, bm25=0.4,dense=0.6 for weighted and 1 each for rrf)")
    r.add_argument("--norm", choices=["zscore", "minmax", "dbsf"], default="zscore", help="score normalisation of weighted fusion (default zscore, as the index)")
    r.add_argument("--fit-fusion", action="store_true", help="fit the bm25/dense weight to the corpus from pseudo-queries drawn from its own chunks (embedded index, weighted fusion)")
    r.add_argument("--candidates", type=int, default=100, help="results each retriever contributes to hybrid fusion (default 100)")
    r.add_argument("--batch-size", type=int, default=256, help="queries per search_batch call (default 256)")
    r.add_argument("--backend", choices=["embedded", "milvus"], default="embedded", help="retrieval backend: the embedded index (default) or Milvus at --uri (without --uri: a temporary milvus-lite file, removed after the run)")
    r.add_argument("--uri", default=None, help="milvus: a local file such as ./bench.db (embedded Milvus) or http://host:19530; default: a temporary milvus-lite file")
    r.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the results JSON to OUT ('-' = stdout)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    r.set_defaults(func=cmd_retrieval)


def cmd_retrieval(args: argparse.Namespace) -> int:
    from ..bench.beir import load_beir
    from ..bench.retrieval import RetrievalBenchConfig, run_retrieval_benchmark

    top_k = args.top_k
    ks = tuple(k for k in (1, 5, 10, 100) if k <= top_k) if isinstance(top_k, int) and top_k >= 1 else (1, 5, 10, 100)
    config = RetrievalBenchConfig(
        modes=tuple(_csv(args.modes)),
        embedder=args.embedder,
        top_k=top_k,
        ks=ks,
        limit_queries=args.limit_queries,
        query_split=args.query_split,
        fusion=args.fusion,
        rrf_k=args.rrf_k,
        weights=parse_weights(args.weights),
        norm=args.norm,
        fit_fusion=args.fit_fusion,
        candidates=args.candidates,
        batch_size=args.batch_size,
        backend=args.backend,
        uri=args.uri,
    )
    if config.weights is not None:
        bad = sorted(set(config.weights) - {"bm25", "dense"})
        if bad:
            raise ConfigError(f"--weights names {bad}; the retrievers are bm25 and dense")
    dataset = load_beir(args.data)
    report = run_retrieval_benchmark(dataset, config, show_progress=not args.no_progress)
    payload = json.dumps(report.to_dict(), indent=2, sort_keys=False)
    if args.json_out == "-":
        print(payload)
        print(report.table(), file=sys.stderr)
        return 0
    print(report.table())
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(payload + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0
