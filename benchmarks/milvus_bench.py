"""Retrieval quality and speed: the embedded HybridIndex against MilvusRetriever, in one run.

Both backends index the same BEIR chunks with the same vectors (every text is embedded once, by
one embedder, and the vectors are cached under --cache-dir, so a rerun embeds nothing), search the
same queries in each mode, and are scored by ``groundqa.bench.retrieval``'s functions. Queries/s
therefore exclude query embedding for both backends (it costs the same for both).

    nice -n 10 python benchmarks/milvus_bench.py \
        --data /work/shared/data/squad_v1.1_dev/beir --data /work/shared/data/cranfield/beir \
        --json benchmarks/results/milvus/milvus_retrieval.json

Also reported per dataset: how many queries get the identical bm25 top-10 from both backends, and
the mean top-10 overlap of the dense and hybrid modes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from groundqa.bench.retrieval import QueryVectorCache

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class PrecomputedEmbedder(QueryVectorCache):
    """``QueryVectorCache`` whose vectors are computed once (``prefill``) and kept on disk;
    ``misses`` counts texts that still had to be embedded afterwards."""

    def __init__(self, inner: Any, cache_file: Path | None = None) -> None:
        super().__init__(inner)
        self.cache_file = cache_file
        if cache_file is not None and cache_file.exists():
            data = np.load(cache_file, allow_pickle=False)
            self._memo = dict(zip(data["texts"].tolist(), data["vectors"]))
        self.misses = 0

    def prefill(self, texts: Sequence[str], show_progress: bool = True) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if not missing:
            return
        super().encode(missing, show_progress=show_progress)
        if self.cache_file is not None:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp.npz")
            texts_all = list(self._memo)
            np.savez(tmp, texts=np.array(texts_all), vectors=np.stack([self._memo[t] for t in texts_all]).astype(np.float32))
            os.replace(tmp, self.cache_file)

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        self.misses += len({t for t in texts if t not in self._memo})
        return super().encode(texts, batch_size=batch_size)


def top10_agreement(a: dict[str, list[tuple[str, float]]], b: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    same, overlap = 0, []
    for q in a:
        da = [d for d, _ in a[q][:10]]
        db = [d for d, _ in b.get(q, [])[:10]]
        same += da == db
        denom = max(len(da), len(db))
        overlap.append(len(set(da) & set(db)) / denom if denom else 1.0)
    return {"identical_top10": same / max(len(a), 1), "mean_top10_overlap": float(np.mean(overlap)) if overlap else 1.0}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True, help="BEIR folder (repeatable)")
    p.add_argument("--uri", default=None, help="Milvus URI (default: a fresh milvus-lite file in a temporary folder)")
    p.add_argument("--token", default=None)
    p.add_argument("--embedder", default="minilm-l6")
    p.add_argument("--modes", default="bm25,dense,hybrid")
    p.add_argument("--limit-queries", type=int, default=None)
    p.add_argument("--top-k", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--dense-index", default="AUTOINDEX")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "groundqa" / "bench-vectors"))
    p.add_argument("--json", dest="json_out", default=None)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "2"))))
    from groundqa.bench.beir import load_beir
    from groundqa.bench.metrics import evaluate
    from groundqa.bench.retrieval import RetrievalBenchConfig, build_index, library_versions, ranking_to_run, search_rankings
    from groundqa.index.embed import make_embedder
    from groundqa.index.milvus import MilvusRetriever

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    config = RetrievalBenchConfig(modes=tuple(modes), embedder=args.embedder, top_k=args.top_k, limit_queries=args.limit_queries, batch_size=args.batch_size)
    inner = make_embedder(args.embedder)
    tmpdir = Path(tempfile.mkdtemp(prefix="groundqa-milvus-bench-"))
    out: dict[str, Any] = {"benchmark": "milvus_vs_embedded", "datasets": {}, "config": {**config.to_dict(), "dense_index": args.dense_index, "uri": args.uri or "milvus-lite (temporary file)", "query_embedding": "precomputed once, shared by both backends: queries/s exclude it", "threads": torch.get_num_threads()}}
    try:
        for data in args.data:
            ds = load_beir(data)
            sel = ds.select_queries(config.query_split, config.limit_queries)
            chunks = ds.chunks()
            key = hashlib.sha256(f"{args.embedder}|{Path(data).resolve()}".encode()).hexdigest()[:16]
            emb = PrecomputedEmbedder(inner, Path(args.cache_dir) / f"{ds.name}-{key}.npz")
            t0 = time.perf_counter()
            emb.prefill([c.text for c in chunks] + list(sel.queries.values()))
            embed_s = time.perf_counter() - t0
            print(f"[{ds.name}] {len(chunks)} chunks, {len(sel.queries)} queries; embedding (or cache) {embed_s:.1f}s", file=sys.stderr, flush=True)

            t0 = time.perf_counter()
            embedded = build_index(ds, config, emb)
            build_embedded = time.perf_counter() - t0
            uri = args.uri or str(tmpdir / f"{ds.name}.db")
            coll = "bench_" + "".join(ch if ch.isalnum() else "_" for ch in ds.name)
            t0 = time.perf_counter()
            fusion_kw = {"fusion": config.fusion, "rrf_k": config.rrf_k, "weights": dict(config.weights) if config.weights else None, "candidates": config.candidates}
            with MilvusRetriever(uri, emb, collection=coll, token=args.token) as old:
                old.drop()
            milvus = MilvusRetriever(uri, emb, collection=coll, token=args.token, dense_index=args.dense_index, **fusion_kw)  # the embedded index's fusion
            milvus.add(chunks, batch_size=512)
            milvus.flush()
            build_milvus = time.perf_counter() - t0
            print(f"[{ds.name}] build: embedded {build_embedded:.1f}s, milvus {build_milvus:.1f}s", file=sys.stderr, flush=True)

            backends: list[tuple[str, Any, str | None]] = [("embedded", embedded, None), ("milvus", milvus, "engine")]
            if "hybrid" in modes:
                backends.append(("milvus-client-fusion", milvus, "client"))
            results: dict[str, dict[str, Any]] = {}
            rankings: dict[str, dict[str, Any]] = {}
            for name, index, fuse in backends:
                if fuse is not None:
                    index.fuse = fuse
                results[name], rankings[name] = {}, {}
                for mode in modes:
                    if fuse == "client" and mode != "hybrid":
                        continue
                    t0 = time.perf_counter()
                    r = search_rankings(index, sel.queries, mode=mode, top_k=config.top_k, batch_size=config.batch_size)
                    secs = time.perf_counter() - t0
                    m = evaluate(sel.qrels, {q: ranking_to_run(v) for q, v in r.items()}, config.ks).to_dict()
                    results[name][mode] = {**m, "search_seconds": round(secs, 3), "queries_per_second": round(len(sel.queries) / secs, 1)}
                    rankings[name][mode] = r
                    print(f"[{ds.name}] {name:<22} {mode:<7} ndcg@10={m['ndcg@10']:.4f} q/s={len(sel.queries) / secs:.1f}", file=sys.stderr, flush=True)
            agreement = {}
            for name in results:
                if name == "embedded":
                    continue
                for mode in results[name]:
                    agreement[f"{name}/{mode}"] = {
                        **top10_agreement(rankings["embedded"][mode], rankings[name][mode]),
                        "ndcg@10_delta": round(results[name][mode]["ndcg@10"] - results["embedded"][mode]["ndcg@10"], 4),
                    }
            out["datasets"][ds.name] = {
                "data": data,
                "documents": len(ds.corpus),
                "chunks": len(chunks),
                "queries": len(sel.queries),
                "build_seconds": {"embedded": round(build_embedded, 2), "milvus": round(build_milvus, 2), "note": "vectors precomputed: indexing only"},
                "results": results,
                "agreement_with_embedded": agreement,
                "embedder_cache_misses": emb.misses,
            }
            milvus.close()
            del embedded
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    vers = library_versions()
    from importlib import metadata

    for dist in ("pymilvus", "milvus-lite"):
        try:
            vers[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    out["versions"] = vers
    text = json.dumps(out, indent=2)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
