"""Retrieval: BM25 (bm25s or rank-bm25) and FAISS over the same chunks, fused.

``Retriever`` is the protocol the pipeline sees; ``HybridIndex`` is the embedded implementation
(and the Milvus backend implements the same protocol).
"""

from __future__ import annotations

from typing import Any

from ..protocols import Retriever


def __getattr__(name: str) -> Any:
    if name == "HybridIndex":
        from .hybrid import HybridIndex

        return HybridIndex
    raise AttributeError(f"module 'groundqa.index' has no attribute {name!r}")


__all__ = ["HybridIndex", "Retriever"]
