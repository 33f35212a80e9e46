"""Memory, disk and time per chunk for the embedded index and Milvus, at growing corpus sizes.

Chunks are real text: sentences of the SQuAD, Cranfield and PubMedQA BEIR corpora recombined at
random into 3-6 sentence chunks (so BM25 posting lists look like a real corpus). Vectors are
random unit vectors of the embedder's dimension (384), given to both backends through the same
precomputed-vector embedder: embedding is excluded here (its cost per chunk is the same for
both backends and is measured in milvus_bench.py). Per size N and configuration it measures:

* build seconds (``add`` of N chunks, plus ``save`` for the embedded index);
* resident memory: the embedded index's growth of this process's RSS; for milvus-lite, the RSS
  of the engine process it starts (the client's own objects are small);
* disk bytes (the saved index directory; the milvus-lite data folder);
* search latency per query (100 queries, batches of 50) for bm25, dense and hybrid.

Per-million figures are the slope of a least-squares line through the measured sizes, times 10^6
(linear extrapolation; HNSW and inverted-index build costs grow slightly faster than linear).

    nice -n 10 python benchmarks/milvus_scaling.py --sizes 10000,50000,100000,200000 \
        --json benchmarks/results/milvus/milvus_scaling.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
DATA = Path(os.environ.get("GROUNDQA_SHARED_DATA", "/work/shared/data"))


def sentences() -> list[str]:
    out: list[str] = []
    for name in ("squad_v1.1_dev", "cranfield", "pubmedqa_pqal"):
        path = DATA / name / "beir" / "corpus.jsonl"
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = json.loads(line).get("text", "")
                out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 20)
    if not out:
        raise SystemExit(f"no corpus text under {DATA}; set GROUNDQA_SHARED_DATA")
    return out


def make_chunks(n: int, sents: list[str], seed: int = 0) -> list[Any]:
    from groundqa.types import Chunk

    rng = np.random.default_rng(seed)
    lens = rng.integers(3, 7, size=n)
    picks = rng.integers(0, len(sents), size=int(lens.sum()))
    chunks, pos = [], 0
    for i, k in enumerate(lens):
        text = " ".join(sents[j] for j in picks[pos : pos + k])
        pos += k
        chunks.append(Chunk(id=f"s{i:08d}", doc_id=f"d{i // 4:07d}", text=text, start=0, end=len(text), metadata={"year": int(1990 + i % 30), "group": "ab"[i % 2]}))
    return chunks


class RandomVectors:
    """The same random unit vector for the same text, for every backend (no model runs)."""

    name = "random-384"

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return 256

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self._dim}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(abs(hash(t)) % (2**32)).standard_normal(self._dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def rss(pid: int | None = None) -> int:
    import psutil

    p = psutil.Process(pid or os.getpid())
    return int(p.memory_info().rss)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else (path.stat().st_size if path.exists() else 0)


def milvus_engine_pid(before: set[int]) -> int | None:
    import psutil

    me = psutil.Process()
    kids = [c for c in me.children(recursive=True) if c.pid not in before]
    kids = [c for c in kids if "milvus" in " ".join(c.cmdline()).lower()] or kids
    return kids[0].pid if kids else None


def time_search(index: Any, queries: list[str], mode: str) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(queries), 50):
        index.search_batch(queries[i : i + 50], top_k=10, mode=mode)
    return (time.perf_counter() - t0) / len(queries)


def run_embedded(chunks: list[Any], dense: str, queries: list[str], work: Path) -> dict[str, Any]:
    from groundqa.index import HybridIndex

    gc.collect()
    base = rss()
    t0 = time.perf_counter()
    idx = HybridIndex(RandomVectors(), dense=dense)
    idx.add(chunks)
    build = time.perf_counter() - t0
    mem = rss() - base
    t0 = time.perf_counter()
    out = idx.save(work / f"emb-{dense}")
    save = time.perf_counter() - t0
    lat = {m: time_search(idx, queries, m) for m in ("bm25", "dense", "hybrid")}
    res = {"build_s": build, "save_s": save, "rss_bytes": mem, "disk_bytes": du(out), "latency_s": lat}
    del idx
    gc.collect()
    shutil.rmtree(out, ignore_errors=True)
    return res


def run_milvus(chunks: list[Any], dense: str, queries: list[str], work: Path) -> dict[str, Any]:
    import psutil

    from groundqa.index.milvus import MilvusRetriever

    before = {c.pid for c in psutil.Process().children(recursive=True)}
    folder = work / f"milvus-{dense}-{len(chunks)}"  # a fresh path: milvus-lite keeps one engine per path
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    idx = MilvusRetriever(str(folder / "m.db"), RandomVectors(), dense_index=dense, batch_size=1000, flush_every=50)
    pid = milvus_engine_pid(before)
    base = rss(pid) if pid else 0
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx.add(chunks)
    idx.flush()
    build = time.perf_counter() - t0
    lat = {m: time_search(idx, queries, m) for m in ("bm25", "dense", "hybrid")}
    mem = (rss(pid) - base) if pid else None
    res = {"open_s": t_open, "build_s": build, "rss_bytes": mem, "engine_pid_found": pid is not None, "disk_bytes": du(folder), "latency_s": lat}
    idx.close()
    shutil.rmtree(folder, ignore_errors=True)
    return res


def slope_per_million(xs: list[int], ys: list[float]) -> float | None:
    if len(xs) < 2 or any(y is None for y in ys):
        return None
    a, _ = np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)
    return float(a * 1e6)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,50000,100000")
    p.add_argument("--configs", default="embedded:flat,embedded:hnsw,milvus:FLAT,milvus:IVF_FLAT")
    p.add_argument("--json", dest="json_out", default=None)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    configs = [tuple(c.split(":")) for c in args.configs.split(",")]
    sents = sentences()
    rng = np.random.default_rng(1)
    queries = [" ".join(sents[j].split()[:8]) for j in rng.integers(0, len(sents), size=100)]
    work = Path(tempfile.mkdtemp(prefix="groundqa-scaling-"))
    rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            chunks = make_chunks(n, sents)
            text_bytes = sum(len(c.text.encode()) for c in chunks)
            for backend, dense in configs:
                t0 = time.perf_counter()
                r = (run_embedded if backend == "embedded" else run_milvus)(chunks, dense, queries, work)
                row = {"backend": backend, "dense": dense, "chunks": n, "text_bytes": text_bytes, **r}
                rows.append(row)
                print(f"n={n} {backend}:{dense} build={r['build_s']:.1f}s rss={(r['rss_bytes'] or 0) / 2**20:.0f}MiB disk={r['disk_bytes'] / 2**20:.0f}MiB "
                      f"lat(ms) bm25={r['latency_s']['bm25'] * 1e3:.2f} dense={r['latency_s']['dense'] * 1e3:.2f} hybrid={r['latency_s']['hybrid'] * 1e3:.2f} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr, flush=True)
            del chunks
            gc.collect()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for backend, dense in configs:
        mine = [r for r in rows if r["backend"] == backend and r["dense"] == dense]
        xs = [r["chunks"] for r in mine]
        summary[f"{backend}:{dense}"] = {
            "build_s_per_million": slope_per_million(xs, [r["build_s"] + r.get("save_s", 0.0) for r in mine]),
            "rss_gib_per_million": (lambda s: s / 2**30 if s is not None else None)(slope_per_million(xs, [r["rss_bytes"] for r in mine])),
            "disk_gib_per_million": slope_per_million(xs, [r["disk_bytes"] for r in mine]) / 2**30 if len(xs) > 1 else None,
            "latency_ms_at_largest": {m: round(mine[-1]["latency_s"][m] * 1e3, 2) for m in ("bm25", "dense", "hybrid")} if mine else None,
            "largest_measured": max(xs) if xs else None,
        }
    from groundqa.bench.retrieval import library_versions

    out = {
        "benchmark": "milvus_scaling",
        "method": "measured at each size; per-million = least-squares slope x 1e6 (linear extrapolation); random 384-d unit vectors, embedding excluded; 100 queries, batches of 50, top_k 10",
        "machine": {"cpus": os.cpu_count(), "note": "2 shared cores, other jobs running; times are upper bounds"},
        "rows": rows,
        "per_million": summary,
        "versions": library_versions(),
    }
    text = json.dumps(out, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
