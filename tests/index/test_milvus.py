"""MilvusRetriever on milvus-lite: filter translation, configuration errors, persistence, resumable
batched ingestion, and the one known BM25 tokenizer difference. The cross-backend contract lives
in tests/contract/."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from groundqa.errors import ConfigError, EmbedderMismatchError, IndexFormatError
from groundqa.index import HybridIndex, Retriever
from groundqa.index.milvus import NEVER, analyzer_params, filter_expression, is_local_uri
from groundqa.testing import HashEmbedder
from groundqa.types import Chunk

from .corpus import make_chunks

needs_lite = pytest.mark.skipif(
    importlib.util.find_spec("milvus_lite") is None or importlib.util.find_spec("pymilvus") is None,
    reason="milvus-lite is not installed: pip install 'groundqa[milvus]' (scripts/env.sh installs it)",
)


# -- pure functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters, expected",
    [
        (None, None),
        ({}, None),
        ({"lang": "en"}, '(metadata["lang"] == "en")'),
        ({"year": 2016}, '(metadata["year"] == 2016)'),
        ({"flag": True}, '(metadata["flag"] == true)'),
        ({"lang": ["en", "de"]}, '(metadata["lang"] in ["en", "de"])'),
        ({"lang": {"$in": ["en"]}}, '(metadata["lang"] in ["en"])'),
        ({"v": [1, "1", 2.5]}, '((metadata["v"] in [1] or metadata["v"] in ["1"] or metadata["v"] in [2.5]))'),
        ({"year": {"$gte": 2012, "$lt": 2020.5}}, '(metadata["year"] >= 2012 and metadata["year"] < 2020.5)'),
        ({"lang": {"$ne": "en"}}, '((array_contains(meta_keys, "lang") and metadata["lang"] != "en"))'),
        ({"doc_id": "a.md", "source": ["x", "y"]}, '(doc_id == "a.md") and (source in ["x", "y"])'),
        ({"doc_id": {"$ne": "a.md"}}, '(doc_id != "a.md")'),
        ({'we"ird': 'va"l'}, '(metadata["we\\"ird"] == "va\\"l")'),
        ({"title": "Zürich"}, '(metadata["title"] == "Zürich")'),
        ({"lang": []}, NEVER),
        ({"doc_id": 3}, NEVER),
        ({"doc_id": {"$gte": 1}}, NEVER),
        ({"lang": "en", "tags": []}, NEVER),
    ],
)
def test_filter_expression(filters, expected):
    assert filter_expression(filters) == expected


def test_filter_expression_rejects_what_the_embedded_index_rejects():
    with pytest.raises(ConfigError, match="unknown operator"):
        filter_expression({"year": {"$regex": "x"}})
    with pytest.raises(ConfigError, match=r"\$gte needs a number"):
        filter_expression({"year": {"$gte": "2012"}})
    with pytest.raises(ConfigError, match="cannot be sent to Milvus"):
        filter_expression({"meta": {"$eq": {"a": 1}}})
    with pytest.raises(ConfigError, match="finite"):
        filter_expression({"score": {"$gt": float("nan")}})


def test_analyzer_matches_the_embedded_tokenizer_settings():
    from bm25s.stopwords import STOPWORDS_EN

    a = analyzer_params()
    assert a["tokenizer"] == "standard"
    assert a["filter"][0] == "lowercase"
    assert set(a["filter"][1]["stop_words"]) == set(STOPWORDS_EN)
    assert a["filter"][2] == {"type": "stemmer", "language": "english"}
    assert analyzer_params(stopwords=None, stemmer=None) == {"tokenizer": "standard", "filter": ["lowercase"]}
    with pytest.raises(ConfigError, match="stopwords='fr'"):
        analyzer_params(stopwords="fr")


def test_uri_kinds():
    assert is_local_uri("./rag.db") and is_local_uri("/data/x.db")
    assert not is_local_uri("http://localhost:19530") and not is_local_uri("https://x.zillizcloud.com")


# -- against milvus-lite -----------------------------------------------------------------------------


@pytest.fixture()
def lite(tmp_path):
    from groundqa.index.milvus import MilvusRetriever

    opened = []

    def make(embedder=None, name="test.db", **kw):
        r = MilvusRetriever(str(tmp_path / name), embedder if embedder is not None else HashEmbedder(), **kw)
        opened.append(r)
        return r

    yield make
    for r in opened:
        r.close()


@needs_lite
def test_bad_configuration_fails_at_construction(lite, tmp_path):
    from groundqa.index.milvus import MilvusRetriever

    with pytest.raises(ConfigError, match="must end in '.db'"):
        MilvusRetriever(str(tmp_path / "index"), HashEmbedder())
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        MilvusRetriever(str(tmp_path / "dir.db"), HashEmbedder())
    with pytest.raises(ConfigError, match="uri='' is not valid"):
        MilvusRetriever("", HashEmbedder())
    with pytest.raises(ConfigError, match="dense_index='IVF_PQ' is not valid; choose one of: AUTOINDEX, FLAT, IVF_FLAT, HNSW"):
        lite(dense_index="IVF_PQ")
    with pytest.raises(ConfigError, match="mode='fuzzy'"):
        lite(mode="fuzzy")
    with pytest.raises(ConfigError, match="collection='1bad-name'"):
        lite(collection="1bad-name")
    with pytest.raises(ConfigError, match="b=2"):
        lite(b=2)
    with pytest.raises(ConfigError, match="top_k=20000 is too large"):
        lite(top_k=20000)


@needs_lite
def test_empty_collection_and_protocol(lite):
    r = lite()
    assert isinstance(r, Retriever)
    assert len(r) == 0 and r.search("anything") == [] and r.delete(["x"]) == 0 and r.doc_ids() == []
    assert r.add([]) == 0
    with pytest.raises(ConfigError, match="add\\(\\) takes Chunk objects"):
        r.add(["not a chunk"])  # type: ignore[list-item]


@needs_lite
def test_add_is_idempotent_delete_by_document_and_read_back(lite):
    r = lite()
    chunks = make_chunks()
    assert r.add(chunks) == len(chunks)
    assert r.add(chunks) == 0 and r.add(chunks + chunks[:2]) == 0
    assert len(r) == len(chunks)
    assert r.get("oxygen-12") == chunks[12]
    assert r.chunks_of("warsaw") == [c for c in chunks if c.doc_id == "warsaw"]
    assert r.delete(["oxygen", "oxygen", "missing"]) == 2
    assert len(r) == len(chunks) - 2 and r.get("oxygen-12") is None
    assert "oxygen" not in r.doc_ids()
    assert all(p.doc_id != "oxygen" for p in r.search("oxygen discovered", top_k=20))


@needs_lite
def test_bm25_scores_equal_bm25s_lucene(lite):
    # Milvus's BM25 is (k1 + 1) x Lucene's; the retriever divides it out.
    r = lite(k1=1.2, b=0.5)
    ref = HybridIndex(HashEmbedder(), k1=1.2, b=0.5)
    r.add(make_chunks())
    ref.add(make_chunks())
    for q in ["Who discovered oxygen?", "Super Bowl Denver Broncos", "largest city Poland Vistula river"]:
        a = ref.search(q, mode="bm25", top_k=10)
        b = r.search(q, mode="bm25", top_k=10)
        assert [p.id for p in b] == [p.id for p in a]
        assert [p.score for p in b] == pytest.approx([p.score for p in a], rel=1e-5)


@needs_lite
def test_the_known_tokenizer_difference_is_the_underscore(lite):
    # \w+ keeps "snake_case" whole (embedded); Milvus's standard tokenizer splits it.
    chunk = Chunk(id="u1", doc_id="u", text="Variables use snake_case names.", start=0, end=31)
    other = Chunk(id="u2", doc_id="v", text="Nothing to see here at all.", start=0, end=27)
    r, ref = lite(), HybridIndex(HashEmbedder())
    r.add([chunk, other])
    ref.add([chunk, other])
    assert [p.id for p in r.search("snake", mode="bm25")] == ["u1"]
    assert ref.search("snake", mode="bm25") == []
    assert [p.id for p in r.search("snake_case", mode="bm25")] == [p.id for p in ref.search("snake_case", mode="bm25")] == ["u1"]


@needs_lite
def test_persistence_reopen_uses_the_stored_settings_and_embedder(lite, tmp_path):
    from groundqa.index.milvus import MilvusRetriever

    r = lite(k1=1.2, b=0.6, collection="kept")
    r.add(make_chunks())
    before = [[p.id for p in hits] for hits in r.search_batch(["oxygen", "Super Bowl"], mode="hybrid")]
    r.close()
    again = MilvusRetriever(str(tmp_path / "test.db"), collection="kept", k1=2.0)  # k1 comes from the collection
    try:
        assert again.k1 == 1.2 and again.b == 0.6
        assert again.embedder.identity()["name"] == "hash-64"
        assert len(again) == len(make_chunks())
        assert [[p.id for p in hits] for hits in again.search_batch(["oxygen", "Super Bowl"], mode="hybrid")] == before
        assert again.info()["chunks"] == len(make_chunks()) and again.info()["documents"] == 7
    finally:
        again.close()
    other = MilvusRetriever(str(tmp_path / "test.db"), HashEmbedder(dim=32), collection="kept")
    try:
        with pytest.raises(EmbedderMismatchError, match="built with embedder 'hash-64' \\(dim 64\\)"):
            other.search("oxygen", mode="dense")
    finally:
        other.close()


@needs_lite
def test_a_foreign_collection_is_refused(tmp_path):
    from pymilvus import MilvusClient

    from groundqa.index.milvus import MilvusRetriever

    client = MilvusClient(str(tmp_path / "f.db"))
    client.create_collection("theirs", dimension=4)
    client.close()
    with pytest.raises(IndexFormatError, match="was not created by groundqa"):
        MilvusRetriever(str(tmp_path / "f.db"), HashEmbedder(), collection="theirs")


class CrashingEmbedder(HashEmbedder):
    """Fails on the n-th encode call (a crash mid-ingestion) and counts the texts it embeds."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.texts = 0
        self.fail_on = fail_on

    def encode(self, texts, *, batch_size=None, show_progress=False):
        self.calls += 1
        if self.fail_on is not None and self.calls == self.fail_on:
            raise RuntimeError("simulated crash")
        self.texts += len(texts)
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)


def many_chunks(n: int) -> list[Chunk]:
    base = make_chunks()
    return [Chunk(id=f"c{i:04d}", doc_id=f"d{i // 3}", text=f"{base[i % len(base)].text} (copy {i})", start=0, end=10, metadata={"i": i}) for i in range(n)]


@needs_lite
def test_batched_ingestion_is_lazy_bounded_and_resumes_after_a_crash(lite, tmp_path, capsys):
    from groundqa.index.milvus import MilvusRetriever

    chunks = many_chunks(50)
    consumed = []

    def stream():
        for c in chunks:
            consumed.append(c.id)
            yield c

    crashing = CrashingEmbedder(fail_on=3)
    r = lite(crashing, name="ingest.db", batch_size=10, flush_every=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        r.add(stream())
    assert len(consumed) == 30  # the input is read one batch at a time, not all at once
    assert len(r) == 20  # the two batches before the crash are stored
    r.close()

    resumed_emb = CrashingEmbedder()
    resumed = MilvusRetriever(str(tmp_path / "ingest.db"), resumed_emb, batch_size=10)
    try:
        assert resumed.add(chunks, show_progress=True) == 30
        assert resumed_emb.texts == 30  # stored chunks were skipped by id, not embedded again
        assert "indexing" in capsys.readouterr().err  # the progress bar
        assert len(resumed) == 50
        fresh = lite(HashEmbedder(), name="fresh.db")
        fresh.add(chunks)
        for q in ["oxygen copy 7", "Super Bowl"]:
            for mode in ("bm25", "dense", "hybrid"):
                assert [p.id for p in resumed.search(q, mode=mode)] == [p.id for p in fresh.search(q, mode=mode)]
    finally:
        resumed.close()


@needs_lite
def test_client_fusion_and_weighted_fusion_match_the_embedded_index(lite):
    chunks = make_chunks()
    for kw in ({"fusion": "rrf", "weights": {"bm25": 2.0, "dense": 1.0}}, {"fusion": "weighted", "weights": {"bm25": 0.6, "dense": 0.4}}):
        r = lite(name=f"{kw['fusion']}.db", fuse="client", **kw)
        ref = HybridIndex(HashEmbedder(), **kw)
        r.add(chunks)
        ref.add(chunks)
        for q in ["Who discovered oxygen?", "Denver Broncos Super Bowl title"]:
            a = [(p.id, p.scores) for p in ref.search(q, top_k=3)]
            b = [(p.id, p.scores) for p in r.search(q, top_k=3)]
            assert [x[0] for x in b] == [x[0] for x in a]
            for (_, sa), (_, sb) in zip(a, b):
                assert sb.keys() == sa.keys() and all(sb[k] == pytest.approx(sa[k], rel=1e-4) for k in sa)


@needs_lite
def test_engine_rrf_reports_fused_and_dense_scores(lite):
    r = lite(fusion="rrf")
    r.add(make_chunks())
    hits = r.search("Who discovered oxygen?", top_k=5)
    assert [p.rank for p in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert hits[0].score <= 2 / 61 + 1e-9  # RRF with k=60 over two lists
    q = HashEmbedder().encode(["Who discovered oxygen?"])[0]
    for p in hits:
        assert set(p.scores) == {"dense"}
        assert p.scores["dense"] == pytest.approx(float(np.dot(HashEmbedder().encode([p.text])[0], q)), abs=1e-5)


@needs_lite
def test_cli_builds_searches_and_changes_a_milvus_collection(tmp_path, capsys):
    import json

    from groundqa.cli import main
    from groundqa.documents import sample_corpus_dir
    from groundqa.index.backends import open_retriever

    uri = str(tmp_path / "cli.db")

    def run(*argv):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # ConfigError exits through parser.exit
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = run("index", "build", str(sample_corpus_dir()), "--backend", "milvus", "--uri", uri, "--embedder", "hash", "--max-tokens", "100", "--json")
    assert code == 0
    built = json.loads(out)
    assert built["index"] == uri and built["documents"] == 10 and built["chunks"] == built["total_chunks"] > 10
    code, _, err = run("index", "build", str(sample_corpus_dir()), "--backend", "milvus", "--uri", uri, "--embedder", "hash")
    assert code == 2 and "already holds collection 'groundqa'" in err
    code, _, err = run("index", "build", str(sample_corpus_dir()), "--backend", "milvus", "--embedder", "hash")
    assert code == 2 and "needs --uri" in err
    code, out, _ = run("search", "--index", uri, "oxygen", "--mode", "bm25", "--top-k", "3", "--filter", "doc_id=oxygen.md", "--json")
    hits = json.loads(out)["results"]
    assert code == 0 and len(hits) == 3 and {h["doc_id"] for h in hits} == {"oxygen.md"}
    code, out, _ = run("index", "delete", uri, "oxygen.md", "--json")
    assert code == 0 and json.loads(out)["deleted_chunks"] > 0
    code, out, _ = run("index", "add", uri, str(sample_corpus_dir() / "oxygen.md"), "--json")
    assert code == 0 and json.loads(out)["total_chunks"] == built["total_chunks"]
    code, out, _ = run("index", "info", uri, "--json")
    info = json.loads(out)
    assert code == 0 and info["backend"] == "milvus" and info["chunking"]["max_tokens"] == 100  # kept with the collection
    r = open_retriever(uri)
    try:
        assert len(r) == built["total_chunks"]
    finally:
        r.close()


KILLED_INGEST = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from groundqa.index.milvus import MilvusRetriever
from groundqa.testing import HashEmbedder
from index.test_milvus import many_chunks

class Dying(HashEmbedder):
    calls = 0
    def encode(self, texts, **kw):
        Dying.calls += 1
        if Dying.calls == 4:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash nobody can clean up after
        return super().encode(texts, **kw)

MilvusRetriever({uri!r}, Dying(), batch_size=10, flush_every=1).add(many_chunks(50))
"""


@needs_lite
def test_ingestion_resumes_after_the_process_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from groundqa.index.milvus import MilvusRetriever

    uri = str(tmp_path / "killed.db")
    tests = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, "-c", KILLED_INGEST.format(tests=tests, uri=uri)], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    emb = CrashingEmbedder()
    r = MilvusRetriever(uri, emb, batch_size=10)
    try:
        assert len(r) == 30  # three flushed batches survived the kill
        assert r.add(many_chunks(50)) == 20 and emb.texts == 20 and len(r) == 50
    finally:
        r.close()


@needs_lite
def test_the_last_close_stops_the_embedded_engine(tmp_path):
    from milvus_lite.server_manager import server_manager_instance

    from groundqa.index.milvus import MilvusRetriever

    uri = str((tmp_path / "engine.db").resolve())
    a = MilvusRetriever(uri, HashEmbedder())
    b = MilvusRetriever(uri, HashEmbedder())
    a.add(make_chunks())
    a.close()
    assert uri in server_manager_instance._servers and len(b) == len(make_chunks())  # b still works
    b.close()
    assert uri not in server_manager_instance._servers
    b.close()  # closing twice is harmless


@needs_lite
def test_document_ids_that_no_route_or_filter_can_reach_are_refused(lite):
    """Issue 25: an id with a newline or a zero-width character is refused before anything is stored."""
    r = lite()
    good = Chunk(id="c-ok", doc_id="ok", text="Fine text.", start=0, end=10)
    for bad in ("a\nb", "a\rb", "refunds\u200b.md", "x\x00y"):
        with pytest.raises(ConfigError, match="ids may hold letters"):
            r.add([good, Chunk(id="c-bad", doc_id=bad, text="Bad id.", start=0, end=7)])
    assert len(r) == 0
    assert r.add([good]) == 1
