"""The retrieval benchmark: index a BEIR corpus, search every query per mode, score the runs.

``run_retrieval_benchmark(dataset, config)`` builds one ``HybridIndex`` over the corpus (one chunk
per document, see ``groundqa.datasets.beir``), searches all selected queries in batches with ``search_batch`` for
each mode, maps passages back to document ids (a document's best-ranked chunk stands for it), and
scores the runs with the pure functions in ``groundqa.metrics.retrieval``.

Run scores are ranks, not raw scores: the run gives each document ``1 / rank`` of its best chunk,
so the metrics see exactly the order the index returned (fused scores tie often, and re-sorting
ties by document id would change the order the index chose).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, check_choice
from ..types import Passage
from ..index.hybrid import DEFAULT_FUSION, DEFAULT_NORM, NORMS
from ..datasets.beir import QUERY_SPLITS, BeirDataset
from ..metrics.retrieval import DEFAULT_KS, RetrievalMetrics, Run, evaluate
from .result import BenchResult, bench_result, library_versions  # library_versions: also here for scripts that import it from this module

MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
FUSIONS: tuple[str, ...] = ("rrf", "weighted")
HEADLINE = ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "recall@100")


@dataclass(frozen=True)
class RetrievalBenchConfig:
    """What to run. Validated at construction: a bad value fails before any model loads."""

    modes: tuple[str, ...] = MODES
    embedder: str = "minilm-l6"
    top_k: int = 100
    ks: tuple[int, ...] = DEFAULT_KS
    limit_queries: int | None = None
    query_split: str = "all"
    fusion: str = DEFAULT_FUSION
    rrf_k: float = 60.0
    weights: Mapping[str, float] | None = None
    norm: str = DEFAULT_NORM  # score normalisation of weighted fusion
    fit_fusion: bool = False  # fit the fusion weight to the corpus from pseudo-queries (embedded index only)
    candidates: int = 100
    batch_size: int = 256
    backend: str = "embedded"  # or "milvus": a collection at ``uri`` (a *.db file or http://host:19530)
    uri: str | None = None  # milvus without a uri: a temporary milvus-lite file, removed after the run
    data: str | None = None  # the BEIR folder, for ``bench_retrieval(config)``; ``run_retrieval_benchmark`` takes a loaded data set

    def __post_init__(self) -> None:
        modes = tuple(self.modes)
        if not modes:
            raise ConfigError(f"modes={self.modes!r} is empty; choose some of: {', '.join(MODES)}")
        for m in modes:
            check_choice("modes", m, MODES)
        object.__setattr__(self, "modes", tuple(dict.fromkeys(modes)))
        check_choice("query_split", self.query_split, QUERY_SPLITS)
        check_choice("fusion", self.fusion, FUSIONS)
        check_choice("backend", self.backend, ("embedded", "milvus"))
        check_choice("norm", self.norm, NORMS)
        if self.fit_fusion and (self.backend != "embedded" or self.fusion != "weighted" or self.weights is not None):
            raise ConfigError("fit_fusion fits the weights of weighted fusion on the embedded index; drop --weights, use --fusion weighted and --backend embedded")
        if self.uri is not None and (not isinstance(self.uri, str) or not self.uri.strip()):
            raise ConfigError(f"uri={self.uri!r} is not valid; pass a local file such as ./bench.db (embedded Milvus), http://host:19530, or no uri for a temporary file")
        for name in ("top_k", "candidates", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}={v!r} is not valid; it must be a whole number >= 1")
        if self.limit_queries is not None and (isinstance(self.limit_queries, bool) or not isinstance(self.limit_queries, int) or self.limit_queries < 1):
            raise ConfigError(f"limit_queries={self.limit_queries!r} is not valid; it must be a whole number >= 1, or None for all")
        if isinstance(self.rrf_k, bool) or not isinstance(self.rrf_k, (int, float)) or self.rrf_k < 0:
            raise ConfigError(f"rrf_k={self.rrf_k!r} is not valid; it must be a number >= 0 (60 is usual)")
        if self.top_k < max(self.ks):
            raise ConfigError(f"top_k={self.top_k} is below the largest cut-off {max(self.ks)}; recall@{max(self.ks)} needs top_k >= {max(self.ks)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["modes"] = list(self.modes)
        d["ks"] = list(self.ks)
        d["weights"] = dict(self.weights) if self.weights is not None else None
        return d


@dataclass(frozen=True)
class ModeResult:
    """One mode's scores and how long its searches took (query embedding included, see config)."""

    mode: str
    metrics: RetrievalMetrics
    search_seconds: float

    @property
    def queries_per_second(self) -> float:
        return self.metrics.num_queries / self.search_seconds if self.search_seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**self.metrics.to_dict(), "search_seconds": round(self.search_seconds, 3), "queries_per_second": round(self.queries_per_second, 1)}


@dataclass(frozen=True)
class RetrievalBenchReport:
    """Everything one benchmark run measured, shaped for JSON by ``to_dict``."""

    dataset: str
    data_path: str
    num_documents: int
    num_chunks: int
    num_queries: int
    results: Mapping[str, ModeResult]
    config: RetrievalBenchConfig
    index_seconds: float
    versions: Mapping[str, str] = field(default_factory=dict)
    temporary_uri: bool = False  # milvus ran on a temporary milvus-lite file (config.uri), since removed
    fusion_used: Mapping[str, Any] = field(default_factory=dict)  # the index's fusion settings (fitted weights included)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "results": {mode: r.to_dict() for mode, r in self.results.items()},
            "config": {
                **self.config.to_dict(),
                "data": self.data_path,
                "documents": self.num_documents,
                "chunks": self.num_chunks,
                "queries": self.num_queries,
                "index_seconds": round(self.index_seconds, 2),
                "fusion_used": self.fusion_used,
                "chunking": "one chunk per document (title + text)",
                "run_scores": "1/rank of each document's best chunk (the index's order)",
                "query_vectors": "embedded once by the first dense-type mode; later modes reuse them, so their search_seconds exclude embedding",
                **({"uri_note": "no uri given: a temporary milvus-lite file, removed after the run"} if self.temporary_uri else {}),
            },
            "versions": dict(self.versions),
        }

    def bench_result(self) -> BenchResult:
        """This run as a ``BenchResult``: ``to_dict()``'s config and results, and the sha256 of the
        data folder's files (corpus, queries, qrels)."""
        from pathlib import Path

        d = self.to_dict()
        root = Path(self.data_path)
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".tsv")) if root.is_dir() else [root]
        res = bench_result("bench retrieval", d["config"], {"dataset": self.dataset, "results": d["results"]}, files)
        return dataclasses.replace(res, versions=dict(self.versions) or res.versions)

    def table(self) -> str:
        """A plain-text table: one row per mode, the headline metrics as columns."""
        head = f"{self.dataset}: {self.num_documents} documents, {self.num_queries} queries (split {self.config.query_split})"
        if self.config.backend == "milvus":
            head += f"; milvus at {self.config.uri}" + (" (temporary milvus-lite file, removed after the run)" if self.temporary_uri else "")
        cols = [c for c in HEADLINE if c in next(iter(self.results.values())).metrics.to_dict()] if self.results else []
        lines = [head, "  ".join([f"{'mode':<7}", *(f"{c:>10}" for c in cols), f"{'queries/s':>10}"])]
        for mode, r in self.results.items():
            d = r.metrics.to_dict()
            lines.append("  ".join([f"{mode:<7}", *(f"{d[c]:>10.4f}" for c in cols), f"{r.queries_per_second:>10.1f}"]))
        return "\n".join(lines)


class QueryVectorCache:
    """An embedder wrapper that remembers the vectors of texts it has encoded.

    The dense and hybrid modes embed the same queries; with this wrapper the second mode reuses the
    first one's vectors (results are identical; only the hybrid timing then excludes embedding).
    """

    def __init__(self, embedder: Any) -> None:
        self.inner = embedder
        self._memo: dict[str, np.ndarray] = {}
        self._qmemo: dict[str, np.ndarray] = {}  # query vectors (a model may embed queries apart)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if warm:
            warm()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            vecs = self.inner.encode(missing, batch_size=batch_size, show_progress=show_progress)
            self._memo.update(zip(missing, vecs))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts]).astype(np.float32, copy=False)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        from ..index.embed import encode_queries

        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._qmemo))
        if missing:
            self._qmemo.update(zip(missing, encode_queries(self.inner, missing)))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._qmemo[t] for t in texts]).astype(np.float32, copy=False)

    def forget(self) -> None:
        self._memo.clear()


def passages_to_ranking(passages: Sequence[Passage]) -> list[tuple[str, float]]:
    """Document ids best first, each once (its best chunk), with that chunk's score."""
    seen: dict[str, float] = {}
    for p in sorted(passages, key=lambda p: p.rank):
        if p.doc_id not in seen:
            seen[p.doc_id] = float(p.score)
    return list(seen.items())


def ranking_to_run(ranking: Sequence[tuple[str, float]]) -> dict[str, float]:
    """``{doc_id: 1 / rank}``: a run whose order is the ranking's, whatever its scores."""
    return {doc: 1.0 / r for r, (doc, _) in enumerate(ranking, start=1)}


def search_rankings(
    index: Any,
    queries: Mapping[str, str],
    *,
    mode: str,
    top_k: int,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[tuple[str, float]]]:
    """Search every query with ``index.search_batch``; ``{qid: [(doc_id, score), ...]}`` best first."""
    qids = list(queries)
    out: dict[str, list[tuple[str, float]]] = {}
    for start in range(0, len(qids), batch_size):
        batch = qids[start : start + batch_size]
        hits = index.search_batch([queries[q] for q in batch], top_k=top_k, mode=mode)
        for q, passages in zip(batch, hits):
            out[q] = passages_to_ranking(passages)
        if progress is not None:
            progress(len(batch))
    return out


def build_index(dataset: BeirDataset, config: RetrievalBenchConfig, embedder: Any, *, show_progress: bool = False) -> Any:
    """A HybridIndex (or, with backend='milvus', a fresh Milvus collection) over the dataset's chunks."""
    from ..index import HybridIndex

    if config.backend == "milvus":
        from ..index.milvus import MilvusRetriever

        name = "bench_" + "".join(ch if ch.isalnum() else "_" for ch in dataset.name)
        with MilvusRetriever(str(config.uri), embedder, collection=name) as old:
            old.drop()  # a benchmark starts from an empty collection
        mindex = MilvusRetriever(
            str(config.uri), embedder, collection=name, fusion=config.fusion, fuse="engine" if config.fusion == "rrf" and not config.weights else "client",
            rrf_k=config.rrf_k, weights=dict(config.weights) if config.weights else None, norm=config.norm, candidates=max(config.candidates, 1),
        )
        mindex.add(dataset.chunks(), show_progress=show_progress)
        return mindex
    index = HybridIndex(
        embedder,
        fusion=config.fusion,
        rrf_k=config.rrf_k,
        weights=dict(config.weights) if config.weights else None,
        norm=config.norm,
        candidates=max(config.candidates, 1),
    )
    index.add(dataset.chunks(), show_progress=show_progress)
    if config.fit_fusion:
        index.fit_fusion()
    return index


def bench_retrieval(config: RetrievalBenchConfig, *, show_progress: bool = False) -> BenchResult:
    """``groundqa bench retrieval`` as a function: load ``config.data`` (a BEIR folder), run every
    mode and return the run as a ``BenchResult`` (see ``RetrievalBenchReport.bench_result``)."""
    return retrieval_report(config, show_progress=show_progress).bench_result()


def retrieval_report(config: RetrievalBenchConfig, *, show_progress: bool = False) -> RetrievalBenchReport:
    """The run of ``bench_retrieval`` as a ``RetrievalBenchReport`` (its table and legacy JSON shape)."""
    from ..datasets.beir import load_beir

    if not config.data:
        raise ConfigError("data is missing; pass a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    return run_retrieval_benchmark(load_beir(config.data), config, show_progress=show_progress)


def run_retrieval_benchmark(
    dataset: BeirDataset,
    config: RetrievalBenchConfig,
    *,
    embedder: Any = None,
    show_progress: bool = False,
) -> RetrievalBenchReport:
    """Index ``dataset``, search the selected queries in every mode of ``config``, score them."""
    from ..index.embed import make_embedder

    selected = dataset.select_queries(config.query_split, config.limit_queries)
    if not selected.queries:
        raise ConfigError(f"no judged queries left in {dataset.path} after query_split={config.query_split!r}, limit_queries={config.limit_queries!r}")
    emb = QueryVectorCache(make_embedder(embedder if embedder is not None else config.embedder))
    temp_dir = None
    if config.backend == "milvus" and not config.uri:
        # No uri: an embedded milvus-lite file in a temporary folder, removed when the run ends.
        import tempfile

        temp_dir = tempfile.mkdtemp(prefix="groundqa-bench-milvus-")
        config = replace(config, uri=os.path.join(temp_dir, "bench.db"))
    try:
        return _run(dataset, selected, config, emb, show_progress, temporary_uri=temp_dir is not None)
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _run(dataset: BeirDataset, selected: BeirDataset, config: RetrievalBenchConfig, emb: QueryVectorCache, show_progress: bool, *, temporary_uri: bool) -> RetrievalBenchReport:
    t0 = time.perf_counter()
    index = build_index(dataset, config, emb, show_progress=show_progress)
    try:
        return _search_all(dataset, selected, config, emb, index, time.perf_counter() - t0, show_progress, temporary_uri)
    finally:
        close = getattr(index, "close", None)
        if close is not None:
            close()


def _search_all(dataset: BeirDataset, selected: BeirDataset, config: RetrievalBenchConfig, emb: QueryVectorCache, index: Any, index_seconds: float, show_progress: bool, temporary_uri: bool) -> RetrievalBenchReport:
    emb.forget()  # keep query vectors only
    results: dict[str, ModeResult] = {}
    for mode in config.modes:
        bar = None
        if show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(selected.queries), desc=f"{dataset.name} {mode}", unit="q")
        t0 = time.perf_counter()
        rankings = search_rankings(index, selected.queries, mode=mode, top_k=config.top_k, batch_size=config.batch_size, progress=bar.update if bar else None)
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        run: Run = {q: ranking_to_run(r) for q, r in rankings.items()}
        results[mode] = ModeResult(mode=mode, metrics=evaluate(selected.qrels, run, config.ks), search_seconds=seconds)
    return RetrievalBenchReport(
        dataset=dataset.name,
        data_path=dataset.path,
        num_documents=len(dataset.corpus),
        num_chunks=len(index),
        num_queries=len(selected.queries),
        results=results,
        config=config,
        index_seconds=index_seconds,
        versions=library_versions(),
        temporary_uri=temporary_uri,
        fusion_used=dict(index.config().get("fusion", {})),
    )
