"""Pick a retrieval backend from where the index lives.

* a directory holding ``manifest.json``: the embedded ``HybridIndex`` (plain files);
* ``http://`` / ``https://`` URI, or a local ``*.db`` file: ``MilvusRetriever`` (a Milvus server
  or cluster; milvus-lite for a file).

Both satisfy ``groundqa.index.Retriever``, so callers need not know which they got.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

BACKENDS: tuple[str, ...] = ("embedded", "milvus")


def is_milvus_uri(location: str | os.PathLike[str]) -> bool:
    """True for a Milvus server URI or a milvus-lite file (``*.db``)."""
    text = str(location)
    if text.lower().startswith(("http://", "https://", "tcp://", "grpc://", "unix:")):
        return True
    return text.endswith(".db") and not Path(text).is_dir()


def backend_of(location: str | os.PathLike[str]) -> str:
    return "milvus" if is_milvus_uri(location) else "embedded"


def open_retriever(
    location: str | os.PathLike[str],
    *,
    embedder: Any = None,
    token: str | None = None,
    collection: str | None = None,
    **kwargs: Any,
) -> Any:
    """Open an existing index: a HybridIndex directory, or a Milvus collection at a URI.

    For Milvus, ``token`` and ``collection`` default to ``GROUNDQA_MILVUS_TOKEN`` and
    ``GROUNDQA_MILVUS_COLLECTION`` (else ``"groundqa"``); the collection must exist.
    """
    if is_milvus_uri(location):
        from .milvus import DEFAULT_COLLECTION, MilvusRetriever

        name = collection or os.environ.get("GROUNDQA_MILVUS_COLLECTION") or DEFAULT_COLLECTION
        r = MilvusRetriever(str(location), embedder, token=token or os.environ.get("GROUNDQA_MILVUS_TOKEN"), collection=name, **kwargs)
        if r._stored is None:
            r.close()
            raise ConfigError(f"{location!s} has no groundqa collection {name!r}; build one with `groundqa index build PATH --backend milvus --uri {location!s}`")
        return r
    from .hybrid import HybridIndex

    folder = Path(location)
    if not folder.is_dir():
        raise ConfigError(f"index {str(location)!r} is neither an index directory nor a Milvus URI (http://host:19530 or a file ending in .db)")
    return HybridIndex.load(folder, embedder=embedder, **kwargs)
