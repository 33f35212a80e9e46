"""Backends for the retriever contract: the embedded HybridIndex (the reference) and Milvus.

* ``milvus-lite``: the embedded Milvus engine in a temporary file; skipped with the reason when
  milvus-lite is not installed (``pip install 'groundqa[milvus]'``; scripts/env.sh installs it).
* ``milvus-server``: the server at ``GROUNDQA_MILVUS_URI`` (token in ``GROUNDQA_MILVUS_TOKEN``),
  in a collection named for this test session and dropped afterwards; skipped when unset.

The fixture corpus is the sample corpus shipped in the package (ten SQuAD articles, see
src/groundqa/data/sample/ATTRIBUTION.md), chunked by the real embedder, with metadata added for
filters. Every backend gets the same vectors (one memoising embedder for the session).
"""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "groundqa" / "data" / "sample"
MILVUS_KINDS = ("milvus-lite", "milvus-server")


def milvus_skip_reason(kind: str) -> str | None:
    if importlib.util.find_spec("pymilvus") is None:
        return "pymilvus is not installed: pip install 'groundqa[milvus]'"
    if kind == "milvus-lite" and importlib.util.find_spec("milvus_lite") is None:
        return "milvus-lite is not installed: pip install 'milvus-lite==2.5.1' (part of the milvus extra)"
    if kind == "milvus-server" and not os.environ.get("GROUNDQA_MILVUS_URI"):
        return "GROUNDQA_MILVUS_URI is not set: export GROUNDQA_MILVUS_URI=http://host:19530 to run the contract against a Milvus server"
    return None


@pytest.fixture(scope="session")
def shared_embedder(real_embedder):
    from groundqa.eval.retrieval import QueryVectorCache

    return QueryVectorCache(real_embedder)


@pytest.fixture(scope="session")
def contract_chunks(shared_embedder):
    from groundqa.documents import chunk_documents
    from groundqa.types import Document

    docs = []
    for i, path in enumerate(sorted((SAMPLE / "articles").glob("*.md"))):
        meta = {"title": path.stem, "n": i, "group": "odd" if i % 2 else "even", "year": 1990 + 3 * i}
        docs.append(Document(id=path.name, text=path.read_text(encoding="utf-8"), source=str(path.name), metadata=meta))
    chunks = chunk_documents(docs, shared_embedder, max_tokens=128, overlap_sentences=1)
    assert len(chunks) > 60  # enough for top-10 comparisons to mean something
    return chunks


@pytest.fixture(scope="session")
def contract_queries():
    data = json.loads((SAMPLE / "questions.json").read_text(encoding="utf-8"))
    qs = [q["question"] for q in data["questions"]]
    # and some keyword queries, where BM25 matters most
    return qs + ["oxygen discovered Priestley", "Rhine river Basel", "prime numbers infinitely many", "Apollo 11 moon landing", "plague Europe 1347"]


def open_milvus(kind: str, embedder, tmp_dir: Path, name: str, **kw):
    from groundqa.index.milvus import MilvusRetriever

    if kind == "milvus-lite":
        return MilvusRetriever(str(tmp_dir / f"{name}.db"), embedder, collection=name, **kw)
    uri = os.environ["GROUNDQA_MILVUS_URI"]
    coll = f"{name}_{uuid.uuid4().hex[:8]}"
    return MilvusRetriever(uri, embedder, collection=coll, token=os.environ.get("GROUNDQA_MILVUS_TOKEN"), **kw)


@pytest.fixture(scope="session")
def embedded_index(shared_embedder, contract_chunks):
    from groundqa.index import HybridIndex

    idx = HybridIndex(shared_embedder, dense="flat")
    idx.add(contract_chunks)
    return idx


@pytest.fixture(scope="session")
def milvus_backends(shared_embedder, contract_chunks, tmp_path_factory):
    """Opens each Milvus backend once per session (kind -> MilvusRetriever holding the corpus)."""
    opened: dict[str, object] = {}

    def get(kind: str):
        reason = milvus_skip_reason(kind)
        if reason:
            pytest.skip(reason)
        if kind not in opened:
            idx = open_milvus(kind, shared_embedder, tmp_path_factory.mktemp("milvus"), "contract")
            idx.add(contract_chunks)
            opened[kind] = idx
        return opened[kind]

    yield get
    for kind, idx in opened.items():
        if kind == "milvus-server":
            idx.drop()
        idx.close()


@pytest.fixture(params=MILVUS_KINDS)
def milvus_index(request, milvus_backends):
    return milvus_backends(request.param)


@pytest.fixture(params=("embedded",) + MILVUS_KINDS)
def any_backend(request, embedded_index, milvus_backends):
    """(name, retriever) for each backend, for protocol tests that need no reference."""
    if request.param == "embedded":
        return request.param, embedded_index
    return request.param, milvus_backends(request.param)
