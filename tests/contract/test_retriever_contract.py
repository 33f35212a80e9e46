"""The retriever contract: every backend behaves like the embedded HybridIndex on the same corpus.

Milvus against the reference: same chunk ids, same filters, bm25 top-10 identical (ids, order and
scores), dense and hybrid top-10 overlapping at least 0.9. Protocol behaviour (idempotent adds,
deletes by document, filter semantics, empty results) is checked on every backend.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from groundqa.errors import ConfigError
from groundqa.index import HybridIndex, Retriever
from groundqa.index.filters import compile_filters

from .conftest import MILVUS_KINDS, milvus_skip_reason, open_milvus

FILTERS = [
    {"title": "oxygen"},
    {"title": ["rhine", "black_death", "nikola_tesla"]},
    {"year": {"$gte": 1996, "$lt": 2008}},
    {"group": {"$ne": "odd"}},
    {"group": "even", "n": {"$lte": 4}},
    {"doc_id": "apollo_program.md"},
    {"title": {"$in": ["prime_number"]}, "year": {"$gt": 1900}},
    {"missing_key": {"$ne": 1}},
    {"title": []},
]


def ids(passages):
    return [p.id for p in passages]


def overlap(a, b):
    a, b = ids(a), ids(b)
    n = max(len(a), len(b))
    return len(set(a) & set(b)) / n if n else 1.0


def test_every_backend_satisfies_the_protocol(any_backend):
    _, idx = any_backend
    assert isinstance(idx, Retriever)


def test_same_chunk_ids(embedded_index, milvus_index, contract_chunks):
    assert len(milvus_index) == len(embedded_index) == len(contract_chunks)
    assert {c.id for c in milvus_index.chunks} == {c.id for c in embedded_index.chunks}
    assert milvus_index.doc_ids() == embedded_index.doc_ids()
    stored = {c.id: c for c in milvus_index.chunks}
    for c in contract_chunks:
        assert stored[c.id] == c  # text, offsets, source and metadata come back unchanged


def test_adding_the_same_chunks_again_changes_nothing(any_backend, contract_chunks):
    _, idx = any_backend
    n = len(idx)
    assert idx.add(contract_chunks[:7]) == 0
    assert len(idx) == n


def test_bm25_top10_identical(embedded_index, milvus_index, contract_queries):
    ref = embedded_index.search_batch(contract_queries, top_k=10, mode="bm25")
    got = milvus_index.search_batch(contract_queries, top_k=10, mode="bm25")
    for q, a, b in zip(contract_queries, ref, got):
        assert ids(b) == ids(a), q
        for pa, pb in zip(a, b):
            assert set(pb.scores) == {"bm25"}
            assert pb.scores["bm25"] == pytest.approx(pa.scores["bm25"], rel=1e-4)  # Milvus's BM25 / (k1 + 1) == bm25s lucene
            assert pb.rank == pa.rank


@contextmanager
def fused_as(index, fusion, weights, fuse=None):
    """Temporarily give a (session-wide) index another fusion setting."""
    saved = (index.fusion, dict(index.weights), getattr(index, "fuse", None))
    index.fusion, index.weights = fusion, dict(weights)
    if fuse is not None:
        index.fuse = fuse
    try:
        yield index
    finally:
        index.fusion, index.weights = saved[0], saved[1]
        if fuse is not None:
            index.fuse = saved[2]


EQUAL = {"bm25": 1.0, "dense": 1.0}
SETTINGS = [
    ("dense", "rrf", EQUAL, "engine"),
    ("hybrid", "rrf", EQUAL, "engine"),  # the engine's RRFRanker
    ("hybrid", "rrf", EQUAL, "client"),
    ("hybrid", "weighted", {"bm25": 0.6, "dense": 0.4}, "client"),
]


@pytest.mark.parametrize("mode, fusion, weights, fuse", SETTINGS, ids=["dense", "rrf-engine", "rrf-client", "weighted"])
def test_dense_and_hybrid_top10_overlap(embedded_index, milvus_index, contract_queries, mode, fusion, weights, fuse):
    with fused_as(embedded_index, fusion, weights), fused_as(milvus_index, fusion, weights, fuse):
        ref = embedded_index.search_batch(contract_queries, top_k=10, mode=mode)
        got = milvus_index.search_batch(contract_queries, top_k=10, mode=mode)
    overlaps = [overlap(a, b) for a, b in zip(ref, got)]
    assert min(overlaps) >= 0.9, list(zip(contract_queries, overlaps))
    for a, b in zip(ref, got):
        dense_a = {p.id: p.scores["dense"] for p in a if "dense" in p.scores}
        for p in b:
            if p.id in dense_a:  # the same chunk has the same dense score in both backends
                assert p.scores["dense"] == pytest.approx(dense_a[p.id], abs=1e-4)
        if fuse == "client" and mode == "hybrid":
            assert [p.score for p in b] == pytest.approx([p.score for p in a], abs=1e-6)  # the same fusion on the same lists


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_same_filters(embedded_index, milvus_index, contract_queries, filters):
    pred = compile_filters(filters)
    for mode in ("bm25", "dense", "hybrid"):
        ref = embedded_index.search_batch(contract_queries[:6], top_k=10, mode=mode, filters=filters)
        got = milvus_index.search_batch(contract_queries[:6], top_k=10, mode=mode, filters=filters)
        for a, b in zip(ref, got):
            assert all(pred(p.chunk) for p in b)
            if mode == "bm25":
                assert ids(b) == ids(a)
            else:
                assert len(b) == len(a) and overlap(a, b) >= 0.9


def test_selective_filter_does_not_starve(any_backend):
    # One allowed chunk far down every ranking is still found (filters apply before top-k).
    _, idx = any_backend
    target = "computational_complexity_theory.md"
    for mode in ("bm25", "dense", "hybrid"):
        hits = idx.search("Apollo moon landing rocket launch problem", top_k=3, mode=mode, filters={"doc_id": target})
        assert hits and all(p.doc_id == target for p in hits), mode
    assert idx.search("Apollo", filters={"title": "no-such-title"}) == []


def test_bad_filters_and_queries_fail_the_same_way(any_backend):
    _, idx = any_backend
    with pytest.raises(ConfigError, match="unknown operator"):
        idx.search("oxygen", filters={"year": {"$between": [1, 2]}})
    with pytest.raises(ConfigError, match=r"\$gte needs a number"):
        idx.search("oxygen", filters={"year": {"$gte": "1990"}})
    with pytest.raises(ConfigError, match="mode='fuzzy' is not valid"):
        idx.search("oxygen", mode="fuzzy")
    with pytest.raises(ConfigError, match="is empty or not a string"):
        idx.search_batch(["oxygen", "  "])
    assert idx.search_batch([]) == []


@pytest.fixture(params=MILVUS_KINDS)
def fresh_pair(request, shared_embedder, contract_chunks, tmp_path):
    """A small embedded index and a Milvus one over the same four articles, for changes."""
    reason = milvus_skip_reason(request.param)
    if reason:
        pytest.skip(reason)
    keep = {"oxygen.md", "rhine.md", "nikola_tesla.md", "prime_number.md"}
    chunks = [c for c in contract_chunks if c.doc_id in keep]
    emb_idx = HybridIndex(shared_embedder, dense="flat")
    emb_idx.add(chunks)
    mil = open_milvus(request.param, shared_embedder, tmp_path, "contract_changes")
    mil.add(chunks)
    yield emb_idx, mil, chunks
    if request.param == "milvus-server":
        mil.drop()
    mil.close()


def test_delete_by_document_matches_a_fresh_build(fresh_pair, shared_embedder, contract_queries):
    emb_idx, mil, chunks = fresh_pair
    n_oxygen = sum(c.doc_id == "oxygen.md" for c in chunks)
    assert mil.delete(["oxygen.md", "not-there.md"]) == emb_idx.delete(["oxygen.md", "not-there.md"]) == n_oxygen
    assert mil.delete(["oxygen.md"]) == 0
    scratch = HybridIndex(shared_embedder, dense="flat")
    scratch.add([c for c in chunks if c.doc_id != "oxygen.md"])
    assert len(mil) == len(scratch)
    for q in contract_queries:
        a = scratch.search(q, top_k=10, mode="bm25")
        b = mil.search(q, top_k=10, mode="bm25")
        assert ids(b) == ids(a), q  # BM25 statistics forget the deleted chunks
        assert [p.scores["bm25"] for p in b] == pytest.approx([p.scores["bm25"] for p in a], rel=1e-4)
    # and adding them back restores the original results
    assert mil.add(chunks) == n_oxygen
    assert len(mil) == len(chunks)
