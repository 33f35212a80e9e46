"""Retrieval: BM25 (bm25s or rank-bm25) and FAISS over the same chunks, fused.

``Retriever`` is the protocol the pipeline sees; ``HybridIndex`` is the embedded implementation
(and the Milvus backend implements the same protocol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    from ..types import Chunk, Passage


@runtime_checkable
class Retriever(Protocol):
    """What the pipeline and the service need from a retrieval backend."""

    def search(self, query: str, *, top_k: int | None = None, mode: str | None = None, filters: Mapping[str, Any] | None = None) -> "list[Passage]": ...

    def search_batch(self, queries: Sequence[str], *, top_k: int | None = None, mode: str | None = None, filters: Mapping[str, Any] | None = None) -> "list[list[Passage]]": ...

    def add(self, chunks: "Iterable[Chunk]", *, show_progress: bool = False) -> int: ...

    def delete(self, doc_ids: Iterable[str]) -> int: ...

    def __len__(self) -> int: ...


def __getattr__(name: str) -> Any:
    if name == "HybridIndex":
        from .hybrid import HybridIndex

        return HybridIndex
    raise AttributeError(f"module 'groundqa.index' has no attribute {name!r}")


__all__ = ["HybridIndex", "Retriever"]
