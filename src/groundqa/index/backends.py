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
    location: str | os.PathLike[str] | None,
    *,
    backend: str | None = None,
    embedder: Any = None,
    token: str | None = None,
    collection: str | None = None,
    create: bool = False,
    not_found: str | None = None,
    **kwargs: Any,
) -> Any:
    """Open an index: a HybridIndex directory, or a Milvus collection at a URI. The one way to open
    one, for the CLI, the service and the TOML config.

    ``backend`` (``embedded`` or ``milvus``) is read from ``location`` when not given. For Milvus
    found from a URI, ``token`` and ``collection`` default to ``GROUNDQA_MILVUS_TOKEN`` and
    ``GROUNDQA_MILVUS_COLLECTION`` (else ``"groundqa"``) and the collection must exist; with
    ``backend="milvus"`` the keyword arguments go to ``MilvusRetriever`` as given (a ``[retriever]``
    table). ``create``: a directory that does not exist yet (or is empty) gives a new empty
    ``HybridIndex`` with ``embedder`` (the service's start on a new folder). ``not_found``: the
    message for a location that is no index directory (default: it is neither a directory nor a URI).
    """
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r} is not valid; choose one of: {', '.join(BACKENDS)}")
    if backend == "milvus" or (backend is None and location is not None and is_milvus_uri(location)):
        from .milvus import DEFAULT_COLLECTION, MilvusRetriever

        if backend == "milvus":
            if location is not None:
                kwargs["uri"] = str(location)
            extra = {"embedder": embedder} if embedder is not None else {}
            extra.update({"token": token} if token is not None else {})
            extra.update({"collection": collection} if collection is not None else {})
            return MilvusRetriever(**kwargs, **extra)
        assert location is not None
        name = collection or os.environ.get("GROUNDQA_MILVUS_COLLECTION") or DEFAULT_COLLECTION
        r = MilvusRetriever(str(location), embedder, token=token or os.environ.get("GROUNDQA_MILVUS_TOKEN"), collection=name, **kwargs)
        if r._stored is None:
            r.close()
            raise ConfigError(f"{location!s} has no groundqa collection {name!r}; build one with `groundqa index build PATH --backend milvus --uri {location!s}`")
        return r
    from .hybrid import HybridIndex, recover_interrupted_save

    if location is None:
        if create:
            return HybridIndex(embedder)
        raise ConfigError("no index given; pass an index directory or a Milvus URI")
    folder = Path(location)
    if create:
        # a save killed between its two renames leaves no folder here: put the previous one back,
        # or the service would start empty and its first snapshot would replace the index
        recover_interrupted_save(folder)
        if (folder / "manifest.json").exists():
            return HybridIndex.load(folder, **kwargs)
        if folder.exists() and any(folder.iterdir()):
            raise ConfigError(f"--index {folder} exists and is not a groundqa index; pass an index folder or a new path")
        return HybridIndex(embedder)
    if backend is None and not folder.is_dir():
        raise ConfigError(not_found or f"index {str(location)!r} is neither an index directory nor a Milvus URI (http://host:19530 or a file ending in .db)")
    return HybridIndex.load(folder, embedder=embedder, **kwargs)
