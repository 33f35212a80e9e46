"""The embedded hybrid index: BM25 + FAISS over the same chunks, fused, persisted as plain files.

On disk an index is a directory::

    manifest.json   format version, embedder identity, sparse/dense/fusion settings, counts
    chunks.jsonl    one chunk per line (id, doc_id, text, offsets, source, metadata)
    dense/          vectors.npy (float32) and dense.faiss
    sparse/         config.json and bm25s's arrays (*.npy, vocab and params as JSON)

It is written to a temporary directory and renamed into place, and loaded without pickle.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, EmbedderMismatchError, IndexFormatError, check_choice
from ..fsutil import fsync_dir
from ..types import Chunk, Passage
from . import fusion as fusion_fns
from .dense import DENSE_KINDS, DenseConfig, DenseIndex
from ..embed import DEFAULT_EMBEDDER, Embedder, encode_queries, make_embedder
from .filters import Filters, compile_filters, filter_mask
from .sparse import BM25Index, SparseHits, Tokenizer
from .sparse import top_k as _top_positions

FORMAT_VERSION = 1
MODES: tuple[str, ...] = ("hybrid", "bm25", "dense")
FUSIONS: tuple[str, ...] = ("rrf", "weighted")
RETRIEVERS: tuple[str, ...] = ("bm25", "dense")
# Default fusion: weighted sum of z-score normalised scores, bm25 0.4 / dense 0.6, chosen by
# leave-one-dataset-out over six retrieval sets (benchmarks/fusion_lodo.py; docs/benchmark-history.md,
# "Retrieval quality"). Indexes saved before ``norm`` existed keep min-max (their manifests say
# nothing, and min-max is what they were built and measured with).
DEFAULT_FUSION = "weighted"
DEFAULT_NORM = "zscore"
NORMS: tuple[str, ...] = tuple(fusion_fns.NORMS)
DEFAULT_WEIGHTS = {"weighted": {"bm25": 0.4, "dense": 0.6}, "rrf": {"bm25": 1.0, "dense": 1.0}}


def check_queries(queries: Sequence[str]) -> None:
    """Fail on a bare string or an empty/non-string query (every retriever's search_batch)."""
    if isinstance(queries, str):
        raise ConfigError("search_batch() takes a list of queries; use search() for one query")
    for q in queries:
        if not isinstance(q, str) or not q.strip():
            raise ConfigError(f"query {q!r} is empty or not a string; pass the question text")


class HybridIndex:
    """BM25 and dense retrieval over one list of chunks, with fusion and metadata filters.

    Defaults are set here and can be overridden per call (``search(..., top_k=, mode=)``).
    ``candidates`` is how many results each retriever contributes to fusion (per retriever, or
    one number for both).
    """

    def __init__(
        self,
        embedder: str | Embedder = DEFAULT_EMBEDDER,
        *,
        sparse: str = "bm25s",
        dense: str = "auto",
        k1: float = 1.5,
        b: float = 0.75,
        bm25_method: str = "lucene",
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        fusion: str = DEFAULT_FUSION,
        rrf_k: float = 60.0,
        weights: Mapping[str, float] | None = None,
        norm: str = DEFAULT_NORM,
        candidates: int | Mapping[str, int] = 100,
        top_k: int = 10,
        mode: str = "hybrid",
        ef_search: int = 64,
        device: str = "auto",
    ) -> None:
        self.embedder: Embedder = make_embedder(embedder)
        self.sparse = BM25Index(sparse, k1=k1, b=b, method=bm25_method, tokenizer=Tokenizer(stopwords=stopwords, stemmer=stemmer))  # type: ignore[arg-type]
        check_choice("dense", dense, DENSE_KINDS)
        self.dense_config = DenseConfig(kind=dense, ef_search=ef_search, device=device)
        self.fusion = check_choice("fusion", fusion, FUSIONS)
        if not isinstance(rrf_k, (int, float)) or rrf_k < 0:
            raise ConfigError(f"rrf_k={rrf_k!r} is not valid; it must be a number >= 0 (60 is usual)")
        self.rrf_k = float(rrf_k)
        self.weights = self._check_weights(weights, self.fusion)
        self.norm = check_choice("norm", norm, NORMS)
        self.fit: Any = None  # a fit.FusionFit once fit_fusion() has run (kept in the manifest)
        self.candidates = self._check_candidates(candidates)
        self.top_k = self._check_top_k(top_k)
        self.mode = check_choice("mode", mode, MODES)
        self._dense: DenseIndex | None = None
        self._built_with: dict[str, Any] | None = None  # embedder identity from the manifest
        self.extra: dict[str, Any] = {}  # caller's JSON-able settings, kept in the manifest (e.g. chunking)
        self._chunks: list[Chunk] = []
        self._pos: dict[str, int] = {}
        self._lock = threading.RLock()

    # -- validation -----------------------------------------------------------------------------
    @staticmethod
    def _check_weights(weights: Mapping[str, float] | None, fusion: str = DEFAULT_FUSION) -> dict[str, float]:
        out = dict(DEFAULT_WEIGHTS[fusion])
        for key, w in (weights or {}).items():
            check_choice("weights key", key, RETRIEVERS)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise ConfigError(f"weights[{key!r}]={w!r} is not valid; it must be a number >= 0")
            out[key] = float(w)
        return out

    @classmethod
    def _check_candidates(cls, candidates: int | Mapping[str, int]) -> dict[str, int]:
        """Results each retriever contributes to fusion: one number for both, or per retriever
        (checked with the class's own ``_check_top_k``, so a backend can add its limits)."""
        if isinstance(candidates, Mapping):
            out = {"bm25": 100, "dense": 100}
            for key, v in candidates.items():
                check_choice("candidates key", key, RETRIEVERS)
                out[key] = cls._check_top_k(v, "candidates")
            return out
        v = cls._check_top_k(candidates, "candidates")
        return {"bm25": v, "dense": v}

    @staticmethod
    def _check_top_k(value: Any, name: str = "top_k") -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name}={value!r} is not valid; it must be a positive integer")
        return value

    # -- contents -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> list[Chunk]:
        return list(self._chunks)

    def get(self, chunk_id: str) -> Chunk | None:
        pos = self._pos.get(chunk_id)
        return None if pos is None else self._chunks[pos]

    def doc_ids(self) -> list[str]:
        return sorted({c.doc_id for c in self._chunks})

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return [c for c in self._chunks if c.doc_id == doc_id]

    def warm_up(self) -> None:
        warm = getattr(self.embedder, "warm_up", None)
        if warm:
            warm()

    def _dense_index(self) -> DenseIndex:
        if self._dense is None:
            self._dense = DenseIndex(self.embedder.dim, self.dense_config)
            self._dense.rebuild(np.zeros((0, self.embedder.dim), dtype=np.float32))
        return self._dense

    def _ensure_tokens(self) -> None:
        # After load, BM25 comes from its saved arrays; tokens are derived only when a change needs them.
        if self.sparse.tokens is None:
            self.sparse._tokens = self.sparse.tokenizer.many([c.text for c in self._chunks])

    # -- changes --------------------------------------------------------------------------------
    def add(self, chunks: Iterable[Chunk], *, show_progress: bool = False, batch_size: int | None = None) -> int:
        """Index chunks whose ids are new; returns how many were added (re-adding is a no-op)."""
        new: list[Chunk] = []
        seen: set[str] = set()
        for c in chunks:
            if not isinstance(c, Chunk):
                raise ConfigError(f"add() takes Chunk objects, got {type(c).__name__}; chunk documents with groundqa.documents.Chunker first")
            if c.id in self._pos or c.id in seen:
                continue
            seen.add(c.id)
            new.append(c)
        if not new:
            return 0
        # Embed outside the lock: searches go on while a large batch is encoded.
        vectors = self.embedder.encode([c.text for c in new], batch_size=batch_size, show_progress=show_progress)
        new_tokens = self.sparse.tokenizer.many([c.text for c in new])
        with self._lock:
            self._ensure_tokens()
            fresh = [i for i, c in enumerate(new) if c.id not in self._pos]  # another add may have raced us
            for i in fresh:
                self._pos[new[i].id] = len(self._chunks)
                self._chunks.append(new[i])
            self.sparse.set_tokens((self.sparse.tokens or []) + [new_tokens[i] for i in fresh])
            self._dense_index().add(vectors[fresh])
        return len(fresh)

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Remove every chunk of these documents; returns how many chunks were removed."""
        gone = set(doc_ids)
        with self._lock:
            keep = [i for i, c in enumerate(self._chunks) if c.doc_id not in gone]
            removed = len(self._chunks) - len(keep)
            if removed:
                self._ensure_tokens()
                tokens = self.sparse.tokens or []
                self._chunks = [self._chunks[i] for i in keep]
                self._pos = {c.id: i for i, c in enumerate(self._chunks)}
                self.sparse.set_tokens([tokens[i] for i in keep])
                dense = self._dense_index()
                dense.rebuild(dense.vectors[keep])
            return removed

    def fit_fusion(self, **kwargs: Any) -> Any:
        """Fit the bm25/dense weight of weighted fusion to this index's chunks from pseudo-queries
        drawn from them (``groundqa.index.fit.fit_fusion``; kwargs: max_queries, max_corpus, seed),
        and use it: ``weights`` becomes the fit for ``norm``. Kept in the manifest by ``save``.
        Returns the ``FusionFit``; with too few splittable chunks the weights stay as they were."""
        from .fit import fit_fusion

        fit = fit_fusion(self, **kwargs)
        with self._lock:
            self.fit = fit
            if fit.fitted and self.fusion == "weighted":
                self.weights = dict(fit.weights[self.norm])
        return fit

    def pseudo_rankings(self, draw: Any) -> tuple[list[dict[int, float]], list[dict[int, float]]]:
        """Each retriever's ranking (``{row: score}``, best first) of the corpus copy of ``draw`` (a
        ``fit.PseudoQueries``) for its queries: BM25 re-indexed over the copy with this index's
        settings, the shortened chunks re-embedded (``fit.fit_fusion`` scores the weights on them)."""
        n = len(draw.queries)
        queries, texts = list(draw.queries), list(draw.texts)
        sparse = BM25Index(self.sparse.backend, k1=self.sparse.k1, b=self.sparse.b, method=self.sparse.method, tokenizer=self.sparse.tokenizer)
        sparse.set_tokens(sparse.tokenizer.many(texts))
        vectors = np.array(self._dense_index().vectors[list(draw.rows)], dtype=np.float32)
        vectors[:n] = self.embedder.encode(texts[:n])
        qvecs = encode_queries(self.embedder, queries)
        c_bm25, c_dense = self.candidates["bm25"], self.candidates["dense"]
        sparse_hits = sparse.search_batch(queries, c_bm25)
        dense_scores = qvecs @ vectors.T
        bm25, dense = [], []
        for i in range(n):
            sh = sparse_hits[i]
            dh = _top_positions(dense_scores[i], c_dense)
            bm25.append(dict(zip(sh.positions.tolist(), sh.scores.tolist())))
            dense.append(dict(zip(dh.positions.tolist(), dh.scores.tolist())))
        return bm25, dense

    # -- search ---------------------------------------------------------------------------------
    def search(self, query: str, *, top_k: int | None = None, mode: str | None = None, filters: Filters | None = None) -> list[Passage]:
        """The ``top_k`` best chunks for ``query``."""
        return self.search_batch([query], top_k=top_k, mode=mode, filters=filters)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        *,
        top_k: int | None = None,
        mode: str | None = None,
        filters: Filters | None = None,
        ef_search: int | None = None,
    ) -> list[list[Passage]]:
        k = self.top_k if top_k is None else self._check_top_k(top_k)
        mode = self.mode if mode is None else check_choice("mode", mode, MODES)
        check_queries(queries)
        compile_filters(filters)  # fail on a bad filter even when the index is empty
        qvecs = None
        if mode != "bm25" and len(self._chunks):
            qvecs = encode_queries(self.embedder, queries)
        with self._lock:
            if not self._chunks:
                return [[] for _ in queries]
            mask = filter_mask(self._chunks, filters)
            n_sparse = k if mode == "bm25" else self.candidates["bm25"]
            n_dense = k if mode == "dense" else self.candidates["dense"]
            sparse_hits = self.sparse.search_batch(queries, n_sparse, mask) if mode != "dense" else None
            dense_hits = self._dense_index().search_batch(qvecs, n_dense, mask, ef_search) if qvecs is not None else None
            return [
                self._passages(
                    sparse_hits[i] if sparse_hits is not None else None,
                    dense_hits[i] if dense_hits is not None else None,
                    k,
                    mode,
                )
                for i in range(len(queries))
            ]

    def _passages(self, sparse: SparseHits | None, dense: SparseHits | None, k: int, mode: str) -> list[Passage]:
        # Equal scores are ordered by chunk id, so results do not depend on insertion order.
        per: dict[str, dict[int, float]] = {}
        for name, hits in (("bm25", sparse), ("dense", dense)):
            if hits is not None:
                pairs = sorted(zip(hits.positions.tolist(), hits.scores.tolist()), key=lambda ps: (-ps[1], self._chunks[ps[0]].id))
                per[name] = dict(pairs)
        if mode == "bm25" or mode == "dense":
            ranked = list(per[mode].items())
        elif self.fusion == "rrf":
            names = list(per)
            ranked = fusion_fns.rrf([list(per[n]) for n in names], k=self.rrf_k, weights=[self.weights[n] for n in names])
        else:
            names = list(per)
            ranked = fusion_fns.weighted([per[n] for n in names], weights=[self.weights[n] for n in names], norm=self.norm)
        out = []
        for rank, (pos, score) in enumerate(ranked[:k], start=1):
            scores = {name: per[name][pos] for name in per if pos in per[name]}
            out.append(Passage(chunk=self._chunks[pos], score=float(score), rank=rank, scores=scores))
        return out

    # -- persistence ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "sparse": self.sparse.config(),
            "dense": {
                "kind": self.dense_config.kind,
                "built": self._dense.kind if self._dense is not None else None,
                "hnsw_m": self.dense_config.hnsw_m,
                "ef_construction": self.dense_config.ef_construction,
                "ef_search": self.dense_config.ef_search,
            },
            "fusion": {
                "method": self.fusion,
                "rrf_k": self.rrf_k,
                "weights": self.weights,
                "norm": self.norm,
                "candidates": self.candidates,
                **({"fit": self.fit.to_dict()} if self.fit is not None else {}),
            },
            "top_k": self.top_k,
            "mode": self.mode,
        }

    def embedder_identity(self) -> dict[str, Any]:
        """The embedder's identity; for a loaded index, the manifest's (no model load needed)."""
        if self._built_with is None:
            self._built_with = dict(self.embedder.identity())
        return self._built_with

    def info(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "chunks": len(self._chunks),
            "documents": len({c.doc_id for c in self._chunks}),
            "embedder": self.embedder_identity(),
            "extra": dict(self.extra),
            "gpu": bool(self._dense is not None and self._dense.on_gpu),
            **self.config(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to ``path`` atomically: a temporary folder, every file and folder in it
        fsynced, then renamed into place (the old folder moved aside first), the parent fsynced.

        A crash at any step leaves the previous index loadable: between the two renames there is
        no folder at ``path``, and ``load`` (or the next ``save``) moves the previous one back
        (``recover_interrupted_save``). Leftover temporary folders of dead processes are removed.
        """
        target = Path(path).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            recover_interrupted_save(target)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
            try:
                with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
                    for c in self._chunks:
                        f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
                self._dense_index().save(tmp / "dense")
                self.sparse.save(tmp / "sparse")
                manifest = {"format": "groundqa-index", "format_version": FORMAT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **self.info()}
                (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
                for p in sorted(tmp.rglob("*")):
                    if p.is_file():
                        with open(p, "rb") as fh:
                            os.fsync(fh.fileno())
                for d in [*sorted(p for p in tmp.rglob("*") if p.is_dir()), tmp]:
                    fsync_dir(d)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            old = None
            if target.exists():
                if not (target / "manifest.json").exists() and any(target.iterdir()):
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise IndexFormatError(f"{target} exists and is not a groundqa index; choose another --out folder or remove it")
                old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
                target.rename(old)
                fsync_dir(target.parent)
            tmp.rename(target)
            fsync_dir(target.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, embedder: str | Embedder | None = None, device: str = "auto") -> "HybridIndex":
        """Open an index written by ``save``. ``embedder`` defaults to the one it was built with;
        another embedder fails with EmbedderMismatchError (vectors from two models do not mix)."""
        folder = Path(path).expanduser()
        recover_interrupted_save(folder)
        mf = folder / "manifest.json"
        if not mf.exists():
            raise IndexFormatError(f"{folder} is not a groundqa index (no manifest.json); build one with `groundqa index build PATH --out {folder}`")
        try:
            manifest = json.loads(mf.read_text(encoding="utf-8"))
        except (ValueError, RecursionError, OSError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise IndexFormatError(f"{mf} is not valid JSON ({exc}); the index is damaged: rebuild it") from exc
        if not isinstance(manifest, dict):
            raise IndexFormatError(f"{mf} holds a JSON {type(manifest).__name__}, not an object; the index is damaged: rebuild it")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(f"{folder} has index format version {version!r}; this groundqa reads version {FORMAT_VERSION}: rebuild the index")
        with _damaged(mf, "its embedder entry"):
            built_with = dict(manifest["embedder"])
            name, dim = built_with["name"], int(built_with["dim"])
            if not isinstance(name, str) or not name or dim <= 0:
                raise ValueError(f"embedder name {name!r}, dim {dim!r}")
        if embedder is None:
            _check_local_embedder(name, folder)
        emb = make_embedder(embedder if embedder is not None else name)
        if embedder is None:
            ident = built_with  # the model loads on first use, not to open the index
        elif isinstance(embedder, str) and not embedder.startswith("hash"):
            from ..models import resolve_model

            ident = {"name": resolve_model(embedder).name, "dim": built_with.get("dim")}
        else:
            ident = emb.identity()
        if ident.get("name") != built_with.get("name") or ident.get("dim") != built_with.get("dim"):
            raise EmbedderMismatchError(
                f"{folder} was built with embedder {built_with.get('name')!r} (dim {built_with.get('dim')}), "
                f"not {ident.get('name')!r} (dim {ident.get('dim')}); open it with embedder={built_with.get('name')!r} "
                "or rebuild the index with the new embedder"
            )
        with _damaged(mf, "its settings"):
            sp, dn, fu = manifest["sparse"], manifest["dense"], manifest["fusion"]
            index = cls(
                emb,
                sparse=sp["backend"],
                dense=dn["kind"],
                k1=sp["k1"],
                b=sp["b"],
                bm25_method=sp["method"],
                stemmer=sp["tokenizer"]["stemmer"],
                stopwords=sp["tokenizer"]["stopwords"],
                fusion=fu["method"],
                rrf_k=fu["rrf_k"],
                weights=fu["weights"],
                norm=fu.get("norm", "minmax"),
                candidates=fu["candidates"],
                top_k=manifest.get("top_k", 10),
                mode=manifest.get("mode", "hybrid"),
                ef_search=dn["ef_search"],
                device=device,
            )
            index.extra = dict(manifest.get("extra") or {})
            if fu.get("fit") is not None:
                from .fit import FusionFit

                index.fit = FusionFit.from_dict(fu["fit"])
        index._built_with = dict(built_with)
        with _damaged(folder / "chunks.jsonl", "a line"):
            index._chunks = _read_chunks(folder / "chunks.jsonl")
        index._pos = {c.id: i for i, c in enumerate(index._chunks)}
        if len(index._pos) != len(index._chunks):
            raise IndexFormatError(f"{folder / 'chunks.jsonl'} repeats a chunk id; the index is damaged: rebuild it with `groundqa index build`")
        dense = DenseIndex(dim, index.dense_config)
        with _damaged(folder / "dense", "a file"):
            dense.load(folder / "dense")
            shape = getattr(dense.vectors, "shape", ())
            if len(shape) != 2 or (shape[0] and shape[1] != dim):
                raise ValueError(f"vectors.npy has shape {shape}, expected (n, {dim})")
        if len(dense) != len(index._chunks):
            raise IndexFormatError(f"{folder}: {len(index._chunks)} chunks but {len(dense)} vectors; the index is damaged: rebuild it")
        index._dense = dense
        with _damaged(folder / "sparse", "a file"):
            if sp["backend"] == "bm25s" and index._chunks and (folder / "sparse" / "params.index.json").exists():
                index.sparse.load_arrays(folder / "sparse", len(index._chunks))
            else:
                index.sparse.set_tokens(index.sparse.tokenizer.many([c.text for c in index._chunks]))
        return index


def _read_chunks(path: Path) -> list[Chunk]:
    """The chunks of ``chunks.jsonl``; ``IndexFormatError`` naming the line of a damaged one."""
    chunks = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                c = Chunk.from_dict(json.loads(line))
                if not isinstance(c.id, str) or not isinstance(c.doc_id, str) or not isinstance(c.text, str):
                    raise ValueError(f"chunk {c.id!r} has a field of the wrong type")
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                detail = str(exc).splitlines()[0][:200] if str(exc) else ""
                raise IndexFormatError(f"{path}: line {n} is damaged ({type(exc).__name__}: {detail}); rebuild the index with `groundqa index build` or restore the folder from a backup") from exc
            chunks.append(c)
    return chunks


@contextlib.contextmanager
def _damaged(where: Path, what: str) -> Iterator[None]:
    """Turn the errors a damaged or hand-edited index file raises into IndexFormatError."""
    try:
        yield
    except IndexFormatError:
        raise
    except (ConfigError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError, RecursionError, EOFError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise IndexFormatError(f"{where}: {what} is damaged or missing ({type(exc).__name__}: {detail}); rebuild the index with `groundqa index build`") from exc


def _check_local_embedder(name: str, folder: Path) -> None:
    """An index file never makes groundqa download a model: the embedder its manifest names must
    be the hash embedder, a packaged model, a folder, or a hub id already in the local cache."""
    if name.startswith("hash"):
        return
    from ..models import PACKAGED, _HUB_ALIASES

    if name in PACKAGED or name in _HUB_ALIASES or Path(name).expanduser().exists():
        return
    cached = False
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = isinstance(try_to_load_from_cache(name, "config.json"), str) or isinstance(try_to_load_from_cache(name, "modules.json"), str)
        except Exception:  # huggingface_hub missing or a malformed id
            cached = False
    if not cached:
        raise IndexFormatError(
            f"{folder / 'manifest.json'} names the embedder {name!r}, which is not a packaged model, a folder, "
            "or a hub model in the local cache; groundqa does not download a model an index file names. "
            "Pass the embedder explicitly (embedder= / --embedder) or download it yourself first"
        )


def recover_interrupted_save(path: str | os.PathLike[str]) -> bool:
    """Undo what a save killed half-way left behind next to ``path``; True if it restored the index.

    ``save`` moves the current index to ``.NAME.old-PID-NS`` before renaming the new one into place:
    if ``path`` has no index but such a folder holds one, the newest goes back to ``path``. Then
    ``.NAME.tmp-PID-*`` and ``.NAME.old-PID-*`` folders of processes that are no longer running
    are removed (a save in a live process is left alone).
    """
    target = Path(path).expanduser().absolute()
    parent = target.parent
    try:
        siblings = [p for p in parent.iterdir() if p.name.startswith((f".{target.name}.old-", f".{target.name}.tmp-"))]
    except OSError:
        return False
    restored = False
    olds = sorted((p for p in siblings if ".old-" in p.name[len(target.name) + 1 :] and (p / "manifest.json").is_file()), key=_stamp, reverse=True)
    if olds and not (target / "manifest.json").exists():
        try:
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
            if not target.exists():
                olds[0].rename(target)
                fsync_dir(parent)
                restored = True
                siblings.remove(olds[0])
        except OSError:
            pass
    for p in siblings:
        pid = _pid_of(p.name, target.name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(p, ignore_errors=True)
    return restored


def _pid_of(name: str, base: str) -> int | None:
    rest = name[len(base) + 1 :]  # ".BASE" -> ".old-PID-NS" / ".tmp-PID-XXXX"
    parts = rest.split("-")
    if len(parts) < 3 or parts[0] not in (".old", ".tmp") or not parts[1].isdigit():
        return None
    return int(parts[1])


def _stamp(p: Path) -> int:
    tail = p.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
