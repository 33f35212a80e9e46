import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundqa.errors import ConfigError, EmbedderMismatchError, IndexFormatError
from groundqa.index import HybridIndex, Retriever
from groundqa.testing import HashEmbedder
from groundqa.types import Chunk

from .corpus import make_chunks


def build(**kw):
    idx = HybridIndex(HashEmbedder(), **kw)
    idx.add(make_chunks())
    return idx


def snapshot(results):
    return [[(p.id, round(p.score, 5), {k: round(v, 4) for k, v in p.scores.items()}) for p in r] for r in results]


def test_protocol_and_modes():
    idx = build()
    assert isinstance(idx, Retriever)
    for mode in ("bm25", "dense", "hybrid"):
        hits = idx.search("Who discovered oxygen?", top_k=3, mode=mode)
        assert 1 <= len(hits) <= 3
        assert [p.rank for p in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    top = idx.search("Who discovered oxygen?", top_k=1, mode="bm25")[0]
    assert top.id == "oxygen-12" and set(top.scores) == {"bm25"}
    hybrid = idx.search("Who discovered oxygen?", top_k=3)
    assert any(set(p.scores) == {"bm25", "dense"} for p in hybrid)


def test_weighted_fusion_and_weights_change_the_order():
    a = build(fusion="weighted", weights={"bm25": 1.0, "dense": 0.0})
    b = build(mode="bm25")
    q = "Denver Broncos title"
    only_bm25 = [p.id for p in b.search(q, top_k=3)]
    assert [p.id for p in a.search(q, top_k=3)][: len(only_bm25)] == only_bm25
    dense_heavy = build(fusion="weighted", weights={"bm25": 0.0, "dense": 1.0})
    dense_only = [p.id for p in build(mode="dense").search(q, top_k=3) if p.score > 0]  # ties at 0 are arbitrary
    assert [p.id for p in dense_heavy.search(q, top_k=3)][: len(dense_only)] == dense_only


def test_add_is_idempotent_and_delete_by_document():
    idx = build()
    n = len(idx)
    assert idx.add(make_chunks()) == 0 and len(idx) == n
    assert idx.delete(["oxygen"]) == 2
    assert len(idx) == n - 2 and idx.get("oxygen-12") is None
    assert all(p.doc_id != "oxygen" for p in idx.search("oxygen discovered", top_k=20))
    assert idx.delete(["no-such-doc"]) == 0


def test_selective_filter_does_not_starve():
    # A filter that keeps one chunk far down every ranking still returns it (filter before top-k).
    idx = build(candidates=2)
    hits = idx.search("Super Bowl Broncos Panthers", top_k=3, filters={"title": "economic_inequality"})
    assert [p.id for p in hits] == ["economic_inequality-13"]
    hits = idx.search("Super Bowl", top_k=5, filters={"year": {"$gte": 2012, "$lte": 2014}, "lang": "en"}, mode="dense")
    assert {p.doc_id for p in hits} <= {"warsaw", "economic_inequality"} and hits
    assert idx.search("Super Bowl", filters={"title": "nothing"}) == []


def test_bad_arguments_fail_at_construction_or_call():
    with pytest.raises(ConfigError, match="mode='fuzzy' is not valid; choose one of: hybrid, bm25, dense"):
        HybridIndex(HashEmbedder(), mode="fuzzy")
    with pytest.raises(ConfigError, match="fusion='max'"):
        HybridIndex(HashEmbedder(), fusion="max")
    with pytest.raises(ConfigError, match="dense='ivf'"):
        HybridIndex(HashEmbedder(), dense="ivf")
    with pytest.raises(ConfigError, match="weights key='sparse'"):
        HybridIndex(HashEmbedder(), weights={"sparse": 1.0})
    idx = build()
    with pytest.raises(ConfigError, match="top_k=0"):
        idx.search("x", top_k=0)
    with pytest.raises(ConfigError, match="empty"):
        idx.search("   ")
    with pytest.raises(ConfigError, match="Chunk objects"):
        idx.add(["plain text"])  # type: ignore[list-item]


def test_save_load_round_trip_is_plain_files(tmp_path):
    idx = build()
    queries = ["capital of Poland", "alternating current inventor", "Amazon basin size"]
    before = snapshot(idx.search_batch(queries, top_k=5))
    out = idx.save(tmp_path / "idx")
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "manifest.json" in names and "chunks.jsonl" in names and "dense/dense.faiss" in names and "dense/vectors.npy" in names
    assert not [n for n in names if n.endswith((".pkl", ".pickle"))]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["embedder"]["name"] == "hash-64" and manifest["chunks"] == len(idx)
    loaded = HybridIndex.load(out, embedder=HashEmbedder())
    assert snapshot(loaded.search_batch(queries, top_k=5)) == before
    # a loaded index can still change, and equals one built from scratch afterwards
    loaded.delete(["warsaw"])
    fresh = HybridIndex(HashEmbedder())
    fresh.add([c for c in make_chunks() if c.doc_id != "warsaw"])
    assert snapshot(loaded.search_batch(queries, top_k=5)) == snapshot(fresh.search_batch(queries, top_k=5))
    # saving again replaces the old directory atomically; no temporary folders are left behind
    loaded.save(out)
    assert HybridIndex.load(out, embedder=HashEmbedder()).doc_ids() == fresh.doc_ids()
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_load_errors_say_the_fix(tmp_path):
    with pytest.raises(IndexFormatError, match="no manifest.json.*groundqa index build"):
        HybridIndex.load(tmp_path)
    out = build().save(tmp_path / "idx")
    with pytest.raises(EmbedderMismatchError, match="built with embedder 'hash-64'.*not 'hash-32'"):
        HybridIndex.load(out, embedder=HashEmbedder(dim=32))
    m = json.loads((out / "manifest.json").read_text())
    m["format_version"] = 99
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexFormatError, match="version 99.*rebuild"):
        HybridIndex.load(out, embedder=HashEmbedder())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "precious.txt").write_text("keep me")
    with pytest.raises(IndexFormatError, match="is not a groundqa index"):
        build().save(tmp_path / "other")
    assert (tmp_path / "other" / "precious.txt").read_text() == "keep me"


def test_rank_bm25_backend_round_trip(tmp_path):
    idx = build(sparse="rank-bm25")
    before = snapshot([idx.search("Norse raiders Denmark", mode="bm25")])
    out = idx.save(tmp_path / "idx")
    assert snapshot([HybridIndex.load(out, embedder=HashEmbedder()).search("Norse raiders Denmark", mode="bm25")]) == before


POOL = make_chunks()
DOCS = sorted({c.doc_id for c in POOL})
OPS = st.lists(st.tuples(st.sampled_from(["add", "delete"]), st.lists(st.sampled_from(DOCS), min_size=1, max_size=3)), max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, dense=st.sampled_from(["flat", "hnsw"]))
def test_adds_and_deletes_equal_a_build_from_scratch(ops, dense):
    """Property: after any sequence of adds and deletes, search equals a fresh build on the same
    documents (exhaustive candidates, so no cut-off tie can differ)."""
    idx = HybridIndex(HashEmbedder(), dense=dense, candidates=len(POOL))
    present: set[str] = set()
    for op, docs in ops:
        if op == "add":
            idx.add([c for c in POOL if c.doc_id in docs])
            present |= set(docs)
        else:
            idx.delete(docs)
            present -= set(docs)
    fresh = HybridIndex(HashEmbedder(), dense=dense, candidates=len(POOL))
    fresh.add([c for c in reversed(POOL) if c.doc_id in present])  # another insertion order on purpose
    assert sorted(c.id for c in idx.chunks) == sorted(c.id for c in fresh.chunks)
    queries = ["Super Bowl champion", "capital of Poland", "oxygen element", "Tesla electricity"]
    for mode in ("bm25", "dense", "hybrid"):
        assert snapshot(idx.search_batch(queries, top_k=len(POOL), mode=mode)) == snapshot(fresh.search_batch(queries, top_k=len(POOL), mode=mode))


def test_real_embedder_dense_and_hybrid(real_embedder, tmp_path):
    idx = HybridIndex(real_embedder)
    idx.add(make_chunks())
    # no word overlap with the answer sentence: only the dense side can find it
    assert idx.search("Which scientists found the gas we breathe?", top_k=2, mode="dense")[0].doc_id == "oxygen"
    assert idx.search("Who discovered oxygen?", top_k=1)[0].id == "oxygen-12"
    flat = idx.search_batch(["city on the Vistula", "football championship game"], top_k=5, mode="dense")
    hnsw = HybridIndex(real_embedder, dense="hnsw")
    hnsw.add(make_chunks())
    assert [[p.id for p in r] for r in flat] == [[p.id for p in r] for r in hnsw.search_batch(["city on the Vistula", "football championship game"], top_k=5, mode="dense")]
    out = idx.save(tmp_path / "real")
    assert HybridIndex.load(out).embedder.identity()["name"] == "minilm-l6"
    np.testing.assert_allclose(np.linalg.norm(np.load(out / "dense" / "vectors.npy"), axis=1), 1.0, rtol=1e-5)


def test_auto_switches_to_hnsw_above_threshold(monkeypatch):
    import groundqa.index.dense as dense_mod

    monkeypatch.setattr(dense_mod, "HNSW_THRESHOLD", 10)
    idx = HybridIndex(HashEmbedder())
    idx.add(make_chunks()[:8])
    assert idx.info()["dense"]["built"] == "flat"
    idx.add(make_chunks()[8:])
    assert idx.info()["dense"]["built"] == "hnsw"
    assert idx.search("Poland", top_k=1, mode="bm25")[0].doc_id == "warsaw"


def test_chunk_type_round_trip():
    c = make_chunks()[0]
    assert Chunk.from_dict(c.to_dict()) == Chunk(**{**c.to_dict(), "metadata": dict(c.metadata)})
