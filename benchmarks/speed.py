"""Speed of groundqa's index against the raw libraries it wraps, each reported as a ratio.

One run measures, on a corpus of about 100k chunks of real text:

* BM25: groundqa ``search_batch(mode="bm25")`` vs raw bm25s (``bm25s.tokenize`` + ``retrieve``,
  same k1/b/method/stop words/stemmer), and groundqa's one-query ``search`` vs raw rank-bm25
  (``BM25Okapi.get_scores`` + top-k) per query, on a small sample of queries (rank-bm25 is slow);
* dense: groundqa ``search_batch(mode="dense")`` vs raw FAISS (``IndexFlatIP.search``) on the
  same corpus vectors and the same query vectors (queries are embedded once beforehand, so both
  sides time only retrieval);
* hybrid: groundqa ``search_batch(mode="hybrid")`` vs raw bm25s + raw FAISS, each retrieving as
  many candidates as groundqa's fusion takes (100 each), times summed;
* ingestion: groundqa ``HybridIndex.add`` (chunk bookkeeping, BM25 tokenising and indexing, FAISS,
  and embedding with the default sentence-transformers MiniLM) vs raw
  ``SentenceTransformer.encode`` on the same chunk texts, as throughput.

The 100k corpus: SQuAD v1.1 + v2.0 dev contexts, Cranfield abstracts, PubMedQA contexts and long
answers, then Citation-Integrity abstracts, ANLI contexts, Climate-FEVER, HealthVer and COVID-Fact
evidence, and WiCE web-page sentences until there is enough text; each text is split into
sentences (Punkt) and every sentence and every pair of consecutive sentences becomes a chunk;
duplicates are dropped and a fixed-seed sample of ``--chunks`` is kept.

Vectors for the search timings (``--vectors``): embedding 100k chunks with the network takes over
an hour on this shared 2-core CPU, even with the int8 ONNX copy, so by default (``static``) the
corpus and query vectors are the mean of MiniLM's input token embeddings (its vocabulary table),
L2-normalised: real vectors of the real texts, computed in seconds. Exact FAISS search costs the
same whatever the vector values, so the ratios do not depend on this choice. ``--vectors onnx``
embeds with ``minilm-l6-int8`` instead and caches the vectors under ``.cache/speed/`` (git
ignored, resumable in parts, named by a hash of the texts), so a rerun skips it. The ingestion
ratio always runs the full fp32 sentence-transformers MiniLM on both sides.

Every library runs single-threaded (OMP/MKL/torch/FAISS/ONNX threads = 1): the machine is shared,
and one thread keeps the ratios stable. Each timing is the best of ``--repeats`` runs, groundqa and
raw interleaved. Run from the repository root::

    nice -n 10 python benchmarks/speed.py --json benchmarks/results/speed/speed.json
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import csv
import hashlib
import json
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / ".cache" / "speed"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceText:
    source: str
    doc_id: str
    text: str


def _squad(path: Path, tag: str) -> Iterable[SourceText]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for a in data["data"]:
        for i, p in enumerate(a["paragraphs"]):
            yield SourceText("squad", f"{tag}/{a['title']}/{i}", p["context"])


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def source_texts(data: Path) -> dict[str, list[SourceText]]:
    """Real texts by source, in the order they are used."""
    out: dict[str, list[SourceText]] = {}
    squad = list(_squad(data / "squad_v1.1_dev" / "dev-v1.1.json", "v1.1"))
    squad += list(_squad(data / "squad_v2.0_dev" / "dev-v2.0.json", "v2.0"))
    out["squad"] = squad
    out["cranfield"] = [SourceText("cranfield", f"cran/{r['_id']}", r["text"]) for r in _jsonl(data / "cranfield" / "beir" / "corpus.jsonl")]
    pq = json.loads((data / "pubmedqa_pqal" / "ori_pqal.json").read_text(encoding="utf-8"))
    out["pubmedqa"] = [SourceText("pubmedqa", f"pubmed/{k}", " ".join(v["CONTEXTS"])) for k, v in pq.items()]
    out["pubmedqa"] += [SourceText("pubmedqa", f"pubmed/{k}/answer", v["LONG_ANSWER"]) for k, v in pq.items()]
    out["citint"] = [SourceText("citint", f"citint/{r['doc_id']}", " ".join(r["abstract"])) for r in _jsonl(data / "nli" / "citint" / "corpus.jsonl")]
    anli = []
    for rnd in ("R1", "R2", "R3"):
        for split in ("dev", "test"):
            anli += [SourceText("anli", f"anli/{r['uid']}", r["context"]) for r in _jsonl(data / "nli" / "anli" / f"{rnd}_{split}.jsonl")]
    out["anli"] = anli
    out["climate_fever"] = [
        SourceText("climate_fever", f"cf/{e['evidence_id']}", e["evidence"])
        for r in _jsonl(data / "nli" / "climate_fever" / "climate-fever.jsonl")
        for e in r["evidences"]
    ]
    hv = []
    for split in ("dev", "test"):
        with (data / "nli" / "healthver" / f"healthver_{split}.csv").open(encoding="utf-8", newline="") as fh:
            hv += [SourceText("healthver", f"hv/{split}/{r['id']}", r["evidence"]) for r in csv.DictReader(fh)]
    out["healthver"] = hv
    out["covidfact"] = [
        SourceText("covidfact", f"cov/{i}", " ".join(r["evidence"])) for i, r in enumerate(_jsonl(data / "nli" / "covidfact" / "COVIDFACT_dataset.jsonl"))
    ]
    out["wice"] = [
        SourceText("wice", f"wice/{i}", "\n\n".join(s for s in r["evidence"] if len(s.split()) >= 4))
        for i, r in enumerate(_jsonl(data / "wice_claims" / "claim_dev.jsonl"))
    ]
    return out


def build_corpus(data: Path, target: int, *, seed: int = 0) -> tuple[list[Any], dict[str, int]]:
    """About ``target`` chunks: every sentence and every pair of consecutive sentences of the
    source texts (Punkt), deduplicated, sources taken in order until there is enough, then a
    fixed-seed sample of ``target`` (document order kept). Returns the chunks and counts per source."""
    from groundqa.documents import chunk_id
    from groundqa.text import sentence_spans
    from groundqa.types import Chunk

    seen: set[str] = set()
    chunks: list[Chunk] = []
    for name, texts in source_texts(data).items():
        if len(chunks) >= target * 1.15:
            break
        for st in texts:
            spans = sentence_spans(st.text)
            windows = [(s, e) for s, e in spans] + [(a[0], b[1]) for a, b in zip(spans, spans[1:])]
            for s, e in windows:
                text = st.text[s:e]
                if len(text.split()) < 3 or text in seen:
                    continue
                seen.add(text)
                chunks.append(Chunk(id=chunk_id(st.doc_id, text), doc_id=st.doc_id, text=text, start=s, end=e, source=name))
    if len(chunks) > target:
        keep = sorted(random.Random(seed).sample(range(len(chunks)), target))
        chunks = [chunks[i] for i in keep]
    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.source] = counts.get(c.source, 0) + 1
    return chunks, counts


def squad_questions(data: Path, n: int, *, seed: int = 1) -> list[str]:
    qs = [json.loads(line)["text"] for line in (data / "squad_v1.1_dev" / "beir" / "queries.jsonl").open(encoding="utf-8")]
    return random.Random(seed).sample(qs, n)


# ---------------------------------------------------------------------------------------------
# Vectors: the ONNX embedder once, cached by the texts' hash
# ---------------------------------------------------------------------------------------------


class LookupEmbedder:
    """An Embedder that answers known texts from precomputed vectors and embeds the rest live.

    The index sees an ordinary embedder (same identity as ``inner``); searches through it time the
    index, not the model.
    """

    def __init__(self, inner: Any, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.inner = inner
        self.name = inner.name
        self._row = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors
        self.misses = 0

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        rows = [self._row.get(t) for t in texts]
        if all(r is not None for r in rows):
            return self._vectors[np.asarray(rows, dtype=np.int64)] if rows else np.zeros((0, self.dim), np.float32)
        self.misses += sum(r is None for r in rows)
        return self.inner.encode(texts, batch_size=batch_size, show_progress=show_progress)


class StaticMiniLM:
    """Bag-of-word-pieces vectors: the mean of MiniLM's input token embeddings, L2-normalised.

    Real vectors of the real texts from the same model's vocabulary table, computed in seconds
    instead of the hour the full network needs for 100k chunks on a shared 2-core CPU. FAISS's
    exact search costs the same whatever the vector values, so the timings do not depend on it.
    """

    name = "minilm-l6-static"

    def __init__(self) -> None:
        from safetensors.numpy import load_file
        from transformers import AutoTokenizer

        from groundqa.models import resolve_model

        path = resolve_model("minilm-l6").path
        self._table = load_file(str(path / "model.safetensors"))["embeddings.word_embeddings.weight"].astype(np.float32)
        self._tok = AutoTokenizer.from_pretrained(str(path))

    @property
    def dim(self) -> int:
        return int(self._table.shape[1])

    @property
    def max_tokens(self) -> int:
        return 256

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "max_tokens": self.max_tokens, "kind": "static"}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(x) + 2 for x in self._tok(list(texts), add_special_tokens=False)["input_ids"]]

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), 4096):
            ids = self._tok(list(texts[i : i + 4096]), add_special_tokens=False, truncation=True, max_length=self.max_tokens)["input_ids"]
            ids = [x if x else [self._tok.unk_token_id] for x in ids]
            lengths = np.array([len(x) for x in ids])
            flat = self._table[np.concatenate([np.asarray(x) for x in ids])]
            sums = np.add.reduceat(flat, np.concatenate([[0], np.cumsum(lengths)[:-1]]), axis=0)
            out[i : i + len(ids)] = sums / lengths[:, None]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def corpus_vectors(texts: Sequence[str], embedder: Any, *, part: int = 5000) -> tuple[np.ndarray, str]:
    """Vectors of ``texts``, from ``.cache/speed/`` when present; built in resumable parts."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    folder = CACHE / f"vectors-{embedder.identity()['name']}-{len(texts)}-{digest}"
    final = folder / "all.npy"
    if final.exists():
        return np.load(final, allow_pickle=False), f"cache {final.relative_to(ROOT)}"
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    t0 = time.perf_counter()
    for i in range(0, len(texts), part):
        f = folder / f"part-{i // part:04d}.npy"
        if not f.exists():
            v = embedder.encode(list(texts[i : i + part]), batch_size=64)
            np.save(f, v.astype(np.float32), allow_pickle=False)
            log(f"embedded {min(i + part, len(texts))}/{len(texts)} chunks ({time.perf_counter() - t0:.0f}s)")
        parts.append(np.load(f, allow_pickle=False))
    vectors = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
    np.save(final, vectors, allow_pickle=False)
    for p in folder.glob("part-*.npy"):
        p.unlink()
    return vectors, f"embedded this run, cached at {final.relative_to(ROOT)}"


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def best_of(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Run each function ``repeats`` times, interleaved; the fastest time of each."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def overlap_at(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]], k: int) -> float:
    """Mean share of the top-k ids two result lists have in common."""
    vals = [len(set(list(x)[:k]) & set(list(y)[:k])) / max(1, min(k, len(x), len(y))) for x, y in zip(a, b) if len(x) and len(y)]
    return float(np.mean(vals)) if vals else 0.0


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for d in ("groundqa", "bm25s", "rank-bm25", "faiss-cpu", "sentence-transformers", "torch", "onnxruntime", "numpy", "PyStemmer"):
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            pass
    return out


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------


def measure_search(chunks: list[Any], vectors: np.ndarray, vec_embedder: Any, queries: list[str], qvecs: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    import bm25s
    import faiss
    import Stemmer
    from rank_bm25 import BM25Okapi

    from groundqa.index import HybridIndex

    texts = [c.text for c in chunks]
    emb = LookupEmbedder(vec_embedder, texts + queries, np.concatenate([vectors, qvecs]))
    k, cand = args.top_k, args.candidates

    log(f"groundqa: indexing {len(chunks)} chunks (vectors precomputed)")
    t0 = time.perf_counter()
    idx = HybridIndex(emb, candidates=cand)
    idx.add(chunks)
    gq_build = time.perf_counter() - t0
    info = idx.info()
    log(f"groundqa index built in {gq_build:.1f}s: dense={info['dense']['built']}")
    assert emb.misses == 0

    log("raw bm25s: indexing")
    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    raw_bm25 = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    raw_bm25.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    bm25s_build = time.perf_counter() - t0

    log("raw FAISS: indexing")
    t0 = time.perf_counter()
    if info["dense"]["built"] == "hnsw":
        raw_faiss = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        raw_faiss.hnsw.efConstruction = 40
        raw_faiss.hnsw.efSearch = info["dense"]["ef_search"]
    else:
        raw_faiss = faiss.IndexFlatIP(vectors.shape[1])
    raw_faiss.add(vectors)
    faiss_build = time.perf_counter() - t0

    def raw_bm25_search(kk: int) -> tuple[np.ndarray, np.ndarray]:
        qt = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False)
        return raw_bm25.retrieve(qt, k=kk, show_progress=False, n_threads=1)

    def raw_faiss_search(kk: int) -> tuple[np.ndarray, np.ndarray]:
        return raw_faiss.search(qvecs, kk)

    out: dict[str, Any] = {}

    # -- BM25 vs bm25s ------------------------------------------------------------------------
    log(f"BM25: {len(queries)} queries, top {k}")
    t = best_of(
        {
            "groundqa": lambda: idx.search_batch(queries, top_k=k, mode="bm25"),
            "bm25s": lambda: raw_bm25_search(k),
        },
        args.repeats,
    )
    gq_hits = idx.search_batch(queries, top_k=k, mode="bm25")
    pos = {c.id: i for i, c in enumerate(chunks)}
    raw_docs, _ = raw_bm25_search(k)
    out["bm25_vs_bm25s"] = {
        "queries": len(queries),
        "top_k": k,
        "groundqa_s": t["groundqa"],
        "bm25s_s": t["bm25s"],
        "ratio_groundqa_over_raw": t["groundqa"] / t["bm25s"],
        "groundqa_ms_per_query": 1000 * t["groundqa"] / len(queries),
        "bm25s_ms_per_query": 1000 * t["bm25s"] / len(queries),
        "top10_overlap": overlap_at([[pos[p.id] for p in hs] for hs in gq_hits], raw_docs.tolist(), 10),
        "note": "both tokenise the queries (groundqa: its Tokenizer; raw: bm25s.tokenize, same stop words and Snowball stemmer); single thread",
    }

    # -- where BM25 time goes: bm25s scoring vs top-k selection (profile of the miss below) ---
    from groundqa.index.sparse import top_k as groundqa_top_k

    model = idx.sparse._model
    qtoks = [[t for t in idx.sparse.tokenizer(q) if t in model.vocab_dict] for q in queries]
    qtoks = [t for t in qtoks if t]
    score_rows = [model.get_scores(t) for t in qtoks]

    def per_query(fn: Callable[[], Any]) -> float:
        return 1000 * best_of({"x": fn}, args.repeats)["x"] / len(qtoks)

    out["bm25_breakdown"] = {
        "queries": len(qtoks),
        "bm25s_get_scores_ms": per_query(lambda: [model.get_scores(t) for t in qtoks]),
        "bm25s_topk_numpy_ms": per_query(lambda: [np.argpartition(r, -k) for r in score_rows]),
        "argpartition_negated_ms": per_query(lambda: [np.argpartition(-r, k - 1) for r in score_rows]),
        "groundqa_sparse_top_k_ms": per_query(lambda: [groundqa_top_k(r, k, positive_only=True) for r in score_rows]),
        "groundqa_scores_plus_top_k_ms": per_query(lambda: [groundqa_top_k(idx.sparse.scores(q), k, positive_only=True) for q in queries[: len(qtoks)]]),
        "nonzero_share": float(np.mean([(r > 0).mean() for r in score_rows])),
        "note": "bm25s.retrieve (numpy backend) selects the top k with np.argpartition(scores, -k); on 100k scores that are mostly 0 "
        "this costs far more than scoring. groundqa_scores_plus_top_k = what BM25Index.search_batch would cost if it called "
        "get_scores + its own top_k (the path it already takes with a filter mask) instead of bm25s.retrieve",
    }

    # -- BM25 vs rank-bm25 -------------------------------------------------------------------
    sample = queries[: args.rank_bm25_queries]
    log(f"rank-bm25: indexing {len(texts)} chunks, then {len(sample)} queries")
    tok = idx.sparse.tokenizer
    t0 = time.perf_counter()
    rb = BM25Okapi([t if t else ["\x00"] for t in tok.many(texts)], k1=1.5, b=0.75)
    rank_build = time.perf_counter() - t0

    def rank_bm25_one(q: str) -> np.ndarray:
        s = rb.get_scores(tok(q))
        top = np.argpartition(-s, k)[:k]
        return top[np.argsort(-s[top])]

    rb_times, gq_one_times = [], []
    for q in sample:
        t0 = time.perf_counter()
        rank_bm25_one(q)
        rb_times.append(time.perf_counter() - t0)
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for q in sample:
            idx.search(q, top_k=k, mode="bm25")
        gq_one_times.append((time.perf_counter() - t0) / len(sample))
    rb_ms = 1000 * float(np.mean(rb_times))
    gq_one_ms = 1000 * min(gq_one_times)
    gq_batch_ms = out["bm25_vs_bm25s"]["groundqa_ms_per_query"]
    out["bm25_vs_rank_bm25"] = {
        "queries": len(sample),
        "rank_bm25_ms_per_query": rb_ms,
        "groundqa_single_search_ms_per_query": gq_one_ms,
        "groundqa_batch_ms_per_query": gq_batch_ms,
        "speedup_single_search": rb_ms / gq_one_ms,
        "speedup_batch": rb_ms / gq_batch_ms,
        "target": "groundqa BM25 >= 50x faster than rank-bm25 (one search() call per query vs get_scores + top-k)",
        "met": rb_ms / gq_one_ms >= 50,
        "rank_bm25_index_s": rank_build,
        "note": "same tokens on both sides (groundqa's Tokenizer); rank-bm25 BM25Okapi scores every chunk in Python",
    }

    # -- dense vs FAISS ----------------------------------------------------------------------
    log(f"dense: {len(queries)} queries, top {k}")
    t = best_of(
        {
            "groundqa": lambda: idx.search_batch(queries, top_k=k, mode="dense"),
            "faiss": lambda: raw_faiss_search(k),
        },
        args.repeats,
    )
    gq_dense = idx.search_batch(queries, top_k=k, mode="dense")
    _, raw_ids = raw_faiss_search(k)
    single = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for q in sample:
            idx.search(q, top_k=k, mode="dense")
        single.append((time.perf_counter() - t0) / len(sample))
    single_raw = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for i in range(len(sample)):
            raw_faiss.search(qvecs[i : i + 1], k)
        single_raw.append((time.perf_counter() - t0) / len(sample))
    out["dense_vs_faiss"] = {
        "queries": len(queries),
        "top_k": k,
        "index": info["dense"]["built"],
        "groundqa_s": t["groundqa"],
        "faiss_s": t["faiss"],
        "ratio_groundqa_over_raw": t["groundqa"] / t["faiss"],
        "groundqa_single_search_ms": 1000 * min(single),
        "faiss_single_search_ms": 1000 * min(single_raw),
        "ratio_single_search": min(single) / min(single_raw),
        "top10_overlap": overlap_at([[pos[p.id] for p in hs] for hs in gq_dense], raw_ids.tolist(), 10),
        "note": "same corpus vectors, same query vectors (embedded once beforehand): both sides time retrieval only",
    }

    # -- hybrid vs bm25s + FAISS -----------------------------------------------------------
    log(f"hybrid: {len(queries)} queries, top {k}, {cand} candidates per retriever")
    t = best_of(
        {
            "groundqa": lambda: idx.search_batch(queries, top_k=k, mode="hybrid"),
            "bm25s": lambda: raw_bm25_search(cand),
            "faiss": lambda: raw_faiss_search(cand),
        },
        args.repeats,
    )
    raw_sum = t["bm25s"] + t["faiss"]
    out["hybrid_vs_raw_sum"] = {
        "queries": len(queries),
        "top_k": k,
        "candidates_per_retriever": cand,
        "groundqa_s": t["groundqa"],
        "bm25s_s": t["bm25s"],
        "faiss_s": t["faiss"],
        "raw_sum_s": raw_sum,
        "ratio_groundqa_over_raw": t["groundqa"] / raw_sum,
        "target": "groundqa hybrid within 1.2x of raw bm25s + raw FAISS",
        "met": t["groundqa"] / raw_sum <= 1.2,
        "note": "raw sides retrieve the candidates groundqa fuses (100 each) and do no fusion",
    }
    out["index_build"] = {
        "groundqa_s_without_embedding": gq_build,
        "bm25s_s": bm25s_build,
        "faiss_s": faiss_build,
        "ratio_groundqa_over_raw_sum": gq_build / (bm25s_build + faiss_build),
    }
    return out


def measure_ingestion(data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """groundqa ``add`` (default fp32 MiniLM) vs ``SentenceTransformer.encode`` on the same texts."""
    import torch
    from sentence_transformers import SentenceTransformer

    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.index.embed import SentenceTransformerEmbedder
    from groundqa.models import resolve_model
    from groundqa.types import Document

    torch.set_num_threads(1)
    emb = SentenceTransformerEmbedder("minilm-l6", batch_size=args.batch_size)
    emb.warm_up()
    # Documents: SQuAD v1.1 dev paragraphs (articles in order), chunked by groundqa's Chunker into
    # sentence windows of at most 128 tokens.
    docs = [Document(id=s.doc_id, text=s.text, source="squad") for s in _squad(data / "squad_v1.1_dev" / "dev-v1.1.json", "v1.1")]
    chunker = Chunker(emb, max_tokens=128, overlap_sentences=1)
    chunks: list[Any] = []
    used_docs = 0
    for d in docs:
        if len(chunks) >= args.ingest_chunks:
            break
        chunks.extend(chunker.chunk(d))
        used_docs += 1
    texts = [c.text for c in chunks]
    raw = SentenceTransformer(str(resolve_model("minilm-l6").path), device="cpu")
    log(f"ingestion: {len(texts)} chunks from {used_docs} SQuAD paragraphs, batch size {args.batch_size}")

    def groundqa_add() -> None:
        HybridIndex(emb).add(chunks, batch_size=args.batch_size)

    def groundqa_chunk_and_add() -> None:
        HybridIndex(emb).add([c for d in docs[:used_docs] for c in chunker.chunk(d)], batch_size=args.batch_size)

    def raw_encode() -> None:
        raw.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    # warm both models' first-call costs on a few texts
    raw.encode(texts[:64], batch_size=args.batch_size, show_progress_bar=False)
    HybridIndex(emb).add(chunks[:64], batch_size=args.batch_size)
    t = best_of({"raw_encode": raw_encode, "groundqa_add": groundqa_add}, args.ingest_repeats)
    t0 = time.perf_counter()
    groundqa_chunk_and_add()
    t_chunk_add = time.perf_counter() - t0
    n = len(texts)
    return {
        "chunks": n,
        "documents": used_docs,
        "embedder": "minilm-l6 (all-MiniLM-L6-v2, sentence-transformers, fp32)",
        "batch_size": args.batch_size,
        "raw_encode_s": t["raw_encode"],
        "groundqa_add_s": t["groundqa_add"],
        "raw_chunks_per_s": n / t["raw_encode"],
        "groundqa_chunks_per_s": n / t["groundqa_add"],
        "throughput_ratio_groundqa_over_raw": t["raw_encode"] / t["groundqa_add"],
        "target": "groundqa add throughput >= 0.9x raw SentenceTransformer.encode",
        "met": t["raw_encode"] / t["groundqa_add"] >= 0.9,
        "groundqa_chunk_and_add_s_single_run": t_chunk_add,
        "throughput_ratio_with_chunking_single_run": t["raw_encode"] / t_chunk_add,
        "note": "groundqa add = chunk bookkeeping + embedding + BM25 tokenising/indexing + FAISS add on a new index; best of the interleaved runs",
    }


def print_table(res: dict[str, Any]) -> None:
    m = res["measurements"]
    rows = []
    b = m.get("bm25_vs_bm25s")
    if b:
        rows.append(("BM25 vs bm25s (batch)", f"{b['groundqa_ms_per_query']:.3f} ms/q", f"{b['bm25s_ms_per_query']:.3f} ms/q", f"{b['ratio_groundqa_over_raw']:.2f}x time", "-"))
    r = m.get("bm25_vs_rank_bm25")
    if r:
        rows.append(("BM25 vs rank-bm25 (one query)", f"{r['groundqa_single_search_ms_per_query']:.2f} ms/q", f"{r['rank_bm25_ms_per_query']:.1f} ms/q", f"{r['speedup_single_search']:.0f}x faster", f">=50x: {'met' if r['met'] else 'MISSED'}"))
    d = m.get("dense_vs_faiss")
    if d:
        rows.append(("dense vs FAISS (batch)", f"{1000 * d['groundqa_s'] / d['queries']:.3f} ms/q", f"{1000 * d['faiss_s'] / d['queries']:.3f} ms/q", f"{d['ratio_groundqa_over_raw']:.2f}x time", "-"))
    h = m.get("hybrid_vs_raw_sum")
    if h:
        rows.append(("hybrid vs bm25s+FAISS (batch)", f"{1000 * h['groundqa_s'] / h['queries']:.3f} ms/q", f"{1000 * h['raw_sum_s'] / h['queries']:.3f} ms/q", f"{h['ratio_groundqa_over_raw']:.2f}x time", f"<=1.2x: {'met' if h['met'] else 'MISSED'}"))
    g = m.get("ingestion")
    if g:
        rows.append(("ingestion vs ST.encode", f"{g['groundqa_chunks_per_s']:.1f} chunks/s", f"{g['raw_chunks_per_s']:.1f} chunks/s", f"{g['throughput_ratio_groundqa_over_raw']:.2f}x throughput", f">=0.9x: {'met' if g['met'] else 'MISSED'}"))
    widths = [max(len(str(row[i])) for row in rows + [("measurement", "groundqa", "raw", "ratio", "target")]) for i in range(5)]
    for row in [("measurement", "groundqa", "raw", "ratio", "target"), *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default ../shared/data)")
    p.add_argument("--chunks", type=int, default=100_000, help="corpus size in chunks (default 100000)")
    p.add_argument("--queries", type=int, default=1000, help="SQuAD questions for the batch timings (default 1000)")
    p.add_argument("--rank-bm25-queries", type=int, default=20, help="queries for the rank-bm25 and one-query timings (default 20)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--candidates", type=int, default=100, help="per-retriever candidates of hybrid fusion (groundqa's default 100)")
    p.add_argument("--repeats", type=int, default=3, help="timings are the best of this many runs (default 3)")
    p.add_argument("--ingest-chunks", type=int, default=1500, help="chunks for the ingestion ratio (default 1500)")
    p.add_argument("--ingest-repeats", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="embedding batch size, both sides of the ingestion ratio")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: search, ingestion")
    p.add_argument("--prepare-only", action="store_true", help="build the corpus and cache its vectors, then stop")
    p.add_argument("--vectors", choices=["static", "onnx"], default="static", help="corpus and query vectors: 'static' = mean of MiniLM's token embeddings (seconds); 'onnx' = the int8 ONNX MiniLM (about an hour for 100k here; cached under .cache/speed/)")
    p.add_argument("--embed-threads", type=int, default=1, help="ONNX threads for embedding the corpus (cached; timings always use 1)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    import faiss

    faiss.omp_set_num_threads(1)
    from groundqa.index.embed import OnnxEmbedder

    t0 = time.perf_counter()
    chunks, counts = build_corpus(args.data, args.chunks)
    words = [len(c.text.split()) for c in chunks]
    log(f"corpus: {len(chunks)} chunks in {time.perf_counter() - t0:.0f}s, {counts}, mean {np.mean(words):.1f} words")
    if args.vectors == "onnx":
        vectors, vec_source = corpus_vectors([c.text for c in chunks], OnnxEmbedder("minilm-l6-int8", threads=args.embed_threads))
        vec_embedder: Any = OnnxEmbedder("minilm-l6-int8", threads=1)
        vec_name = "minilm-l6-int8 (the int8 ONNX MiniLM)"
    else:
        vec_embedder = StaticMiniLM()
        t1 = time.perf_counter()
        vectors = vec_embedder.encode([c.text for c in chunks])
        vec_source = f"computed this run in {time.perf_counter() - t1:.1f}s"
        vec_name = "minilm-l6-static (mean of MiniLM's input token embeddings, normalised)"
    log(f"corpus vectors: {vectors.shape} ({vec_source})")
    result: dict[str, Any] = {
        "corpus": {
            "chunks": len(chunks),
            "by_source": counts,
            "mean_words_per_chunk": float(np.mean(words)),
            "chunking": "every sentence and every pair of consecutive sentences (Punkt), deduplicated, fixed-seed sample",
            "vectors": f"{vec_name}: {vec_source}",
        },
        "threads": 1,
        "repeats": args.repeats,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)",
        "command": "python benchmarks/speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "measurements": {},
        "versions": versions(),
    }
    if args.prepare_only:
        return 0
    if "search" not in skip:
        queries = squad_questions(args.data, args.queries)
        t0 = time.perf_counter()
        qvecs = vec_embedder.encode(queries)
        q_embed = time.perf_counter() - t0
        result["queries"] = {"n": len(queries), "source": "SQuAD v1.1 dev questions, fixed-seed sample", "embed_s": q_embed, "embedder": vec_name}
        result["measurements"].update(measure_search(chunks, vectors, vec_embedder, queries, qvecs, args))
    if "ingestion" not in skip:
        result["measurements"]["ingestion"] = measure_ingestion(args.data, args)
    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
