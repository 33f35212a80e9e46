"""Dense retrieval: unit-length embeddings in FAISS, inner product (= cosine).

* ``flat``: exact search (``IndexFlatIP``), the default up to ``HNSW_THRESHOLD`` vectors;
* ``hnsw``: ``IndexHNSWFlat`` (M=32, efConstruction=40; efSearch set per query), above it
  (Malkov & Yashunin 2018, "Efficient and robust approximate nearest neighbor search using HNSW").

The vectors are kept beside the FAISS index, so deletes rebuild it without re-embedding and a very
selective filter is searched exactly over the allowed rows (no "top_k, then filter" starvation).
When FAISS sees a GPU, the flat index runs there (StandardGpuResources); results equal the CPU's
within float tolerance. HNSW has no FAISS GPU implementation and stays on the CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, check_choice
from .sparse import SparseHits, top_k

DenseKind = Literal["auto", "flat", "hnsw"]
DENSE_KINDS: tuple[str, ...] = ("auto", "flat", "hnsw")
HNSW_THRESHOLD = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
# Below this share of allowed rows, a filtered query is answered by exact search over those rows.
EXACT_FILTER_SHARE = 0.05

log = logging.getLogger(__name__)


def gpu_count() -> int:
    import faiss

    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


@dataclass(frozen=True)
class DenseConfig:
    kind: str = "auto"
    hnsw_m: int = HNSW_M
    ef_construction: int = HNSW_EF_CONSTRUCTION
    ef_search: int = 64
    device: str = "auto"  # "auto" (GPU when FAISS sees one), "cpu" or "gpu"

    def __post_init__(self) -> None:
        check_choice("dense", self.kind, DENSE_KINDS)
        check_choice("device", self.device, ("auto", "cpu", "gpu"))
        for name in ("hnsw_m", "ef_construction", "ef_search"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ConfigError(f"{name}={v!r} is not valid; it must be a positive integer")


class DenseIndex:
    """FAISS over a growing matrix of unit vectors; positions match the owner's chunk list."""

    def __init__(self, dim: int, config: DenseConfig | None = None) -> None:
        self.dim = int(dim)
        self.config = config or DenseConfig()
        self._vectors = np.zeros((0, self.dim), dtype=np.float32)
        self._index: Any = None  # CPU faiss index
        self._gpu_index: Any = None
        self._gpu_res: Any = None
        self.kind = "flat"

    def __len__(self) -> int:
        return int(self._vectors.shape[0])

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    @property
    def on_gpu(self) -> bool:
        return self._gpu_index is not None

    def _chosen_kind(self, n: int) -> str:
        if self.config.kind != "auto":
            return self.config.kind
        return "hnsw" if n > HNSW_THRESHOLD else "flat"

    def _new_index(self, kind: str) -> Any:
        import faiss

        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.config.ef_construction
            return index
        return faiss.IndexFlatIP(self.dim)

    def _check(self, vectors: np.ndarray) -> np.ndarray:
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ConfigError(f"vectors of shape {v.shape} do not fit a dense index of dimension {self.dim}")
        return v

    def rebuild(self, vectors: np.ndarray) -> None:
        """Replace everything with ``vectors`` (rows = positions)."""
        self._vectors = self._check(vectors)
        self.kind = self._chosen_kind(len(self._vectors))
        self._index = self._new_index(self.kind)
        if len(self._vectors):
            self._index.add(self._vectors)
        self._sync_gpu()

    def add(self, vectors: np.ndarray) -> None:
        v = self._check(vectors)
        if self._index is None or self._chosen_kind(len(self._vectors) + len(v)) != self.kind:
            self.rebuild(np.concatenate([self._vectors, v]))
            return
        self._vectors = np.concatenate([self._vectors, v])
        self._index.add(v)
        self._sync_gpu()

    def _sync_gpu(self) -> None:
        self._gpu_index = None
        want = self.config.device
        if want == "cpu" or self.kind != "flat" or self._index is None:
            if want == "gpu" and self.kind != "flat":
                log.warning("HNSW has no FAISS GPU implementation; the dense index stays on the CPU")
            return
        n_gpu = gpu_count()
        if n_gpu == 0:
            if want == "gpu":
                raise ConfigError("device='gpu' but FAISS sees no GPU; install faiss-gpu (the `gpu` extra) or use device='auto'")
            return
        import faiss

        if self._gpu_res is None:
            self._gpu_res = faiss.StandardGpuResources()
        self._gpu_index = faiss.index_cpu_to_gpu(self._gpu_res, 0, self._index)

    # -- searching ----------------------------------------------------------------------------
    def search_batch(self, queries: np.ndarray, k: int, mask: np.ndarray | None = None, ef_search: int | None = None) -> list[SparseHits]:
        q = self._check(queries)
        n = len(self._vectors)
        if n == 0 or k <= 0:
            return [SparseHits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in range(len(q))]
        if mask is not None:
            allowed = int(mask.sum())
            if allowed == 0:
                return [SparseHits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in range(len(q))]
            if allowed <= max(k, EXACT_FILTER_SHARE * n) or self.kind == "flat":
                return self._exact_subset(q, k, np.flatnonzero(mask))
        kk = min(k, n)
        if self.kind == "hnsw":
            import faiss

            params = faiss.SearchParametersHNSW()
            params.efSearch = max(ef_search or self.config.ef_search, kk)
            if mask is not None:
                sel = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
                params.sel = sel
            scores, ids = self._index.search(q, kk, params=params)
        else:
            index = self._gpu_index if self._gpu_index is not None else self._index
            scores, ids = index.search(q, kk)
        out = []
        for row_ids, row_scores in zip(ids, scores):
            keep = row_ids >= 0
            out.append(SparseHits(row_ids[keep].astype(np.int64), row_scores[keep].astype(np.float32)))
        return out

    def _exact_subset(self, q: np.ndarray, k: int, rows: np.ndarray) -> list[SparseHits]:
        """Exact inner product over the allowed rows only: correct however selective the filter."""
        sub = self._vectors[rows]
        sims = q @ sub.T
        out = []
        for row in sims:
            hits = top_k(row, k)
            out.append(SparseHits(rows[hits.positions], hits.scores))
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "vectors.npy", self._vectors, allow_pickle=False)
        if self._index is not None:
            faiss.write_index(self._index, str(folder / "dense.faiss"))

    def load(self, folder: Path) -> None:
        import faiss

        self._vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        path = folder / "dense.faiss"
        if path.exists():
            self._index = faiss.read_index(str(path))
            self.kind = "hnsw" if "HNSW" in type(self._index).__name__ else "flat"
            if self._index.ntotal != len(self._vectors):
                from ..errors import IndexFormatError

                raise IndexFormatError(
                    f"{path} holds {self._index.ntotal} vectors but vectors.npy holds {len(self._vectors)}; "
                    "the index is damaged: rebuild it with `groundqa index build`"
                )
            self._sync_gpu()
        else:
            self.rebuild(self._vectors)
