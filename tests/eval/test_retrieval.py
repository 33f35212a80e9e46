"""`groundqa bench retrieval` and its runner, on the committed 12-paragraph SQuAD excerpt."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from groundqa.datasets.beir import load_beir
from groundqa.metrics.retrieval import evaluate
from groundqa.eval.retrieval import (
    QueryVectorCache,
    RetrievalBenchConfig,
    passages_to_ranking,
    ranking_to_run,
    run_retrieval_benchmark,
)
from groundqa.cli import main
from groundqa.errors import ConfigError
from groundqa.types import Chunk, Passage

FIXTURE = Path(__file__).parents[1] / "fixtures" / "squad_mini"


def _passage(chunk_id: str, doc_id: str, rank: int, score: float) -> Passage:
    return Passage(chunk=Chunk(id=chunk_id, doc_id=doc_id, text=chunk_id, start=0, end=len(chunk_id)), score=score, rank=rank)


def test_passages_map_to_documents_by_their_best_chunk():
    passages = [_passage("c3", "B", 3, 0.5), _passage("c1", "A", 1, 0.9), _passage("c2", "B", 2, 0.7), _passage("c4", "A", 4, 0.4)]
    assert passages_to_ranking(passages) == [("A", 0.9), ("B", 0.7)]


def test_run_keeps_the_index_order_even_when_scores_tie():
    # equal fused scores; metrics alone would sort ties by doc id descending (z before a)
    ranking = [("a", 0.5), ("z", 0.5), ("m", 0.1)]
    run = ranking_to_run(ranking)
    assert run == {"a": 1.0, "z": 0.5, "m": 1 / 3}
    assert evaluate({"q": {"a": 1}}, {"q": run}, ks=(1,)).mrr[1] == 1.0


def test_query_vector_cache_encodes_each_text_once(hash_embedder):
    calls = []

    class Counting:
        name = "counting"
        dim = hash_embedder.dim
        max_tokens = 128

        def identity(self):
            return {"name": "counting", "dim": self.dim}

        def encode(self, texts, *, batch_size=None, show_progress=False):
            calls.append(list(texts))
            return hash_embedder.encode(texts)

    cache = QueryVectorCache(Counting())
    a = cache.encode(["one two", "three"])
    b = cache.encode(["three", "one two", "four"])
    assert calls == [["one two", "three"], ["four"]]
    np.testing.assert_allclose(b[:2], a[::-1])
    np.testing.assert_allclose(b, hash_embedder.encode(["three", "one two", "four"]))


def test_cli_writes_the_documented_json(tmp_path, capsys):
    out = tmp_path / "res" / "mini.json"
    code = main(["bench", "retrieval", "--data", str(FIXTURE), "--embedder", "hash", "--top-k", "10", "--json", str(out), "--no-progress"])
    assert code == 0
    table = capsys.readouterr().out
    assert "squad_mini: 12 documents, 24 queries" in table and "hybrid" in table
    data = json.loads(out.read_text())
    assert data["dataset"] == "squad_mini"
    assert list(data["results"]) == ["bm25", "dense", "hybrid"]
    for mode in ("bm25", "dense", "hybrid"):
        r = data["results"][mode]
        for key in ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10"):
            assert 0.0 <= r[key] <= 1.0
        assert r["num_queries"] == 24
        assert r["recall@10"] >= r["recall@5"] >= r["recall@1"]
    assert "recall@100" not in data["results"]["bm25"]  # top-k 10 cannot measure it
    assert data["config"]["top_k"] == 10 and data["config"]["fusion"] == "weighted" and data["config"]["rrf_k"] == 60.0
    assert data["config"]["documents"] == 12 and data["config"]["chunks"] == 12
    for lib in ("groundqa", "bm25s", "sentence-transformers", "torch"):
        assert lib in data["versions"]
    assert "faiss-cpu" in data["versions"] or "faiss-gpu-cu12" in data["versions"]


def test_cli_split_limit_modes_and_fusion_options(tmp_path, capsys):
    code = main([
        "bench", "retrieval", "--data", str(FIXTURE), "--embedder", "hash", "--top-k", "10", "--modes", "hybrid",
        "--query-split", "even", "--limit-queries", "5", "--fusion", "weighted", "--weights", "bm25=0.7,dense=0.3",
        "--json", "-", "--no-progress",
    ])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["results"]) == ["hybrid"]
    assert data["results"]["hybrid"]["num_queries"] == 5
    assert data["config"]["query_split"] == "even" and data["config"]["limit_queries"] == 5
    assert data["config"]["weights"] == {"bm25": 0.7, "dense": 0.3} and data["config"]["fusion"] == "weighted"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--modes", "bm25,sparse"], "modes='sparse' is not valid; choose one of: bm25, dense, hybrid"),
        (["--top-k", "0"], "top_k=0 is not valid"),
        (["--weights", "bm25:1"], "--weights 'bm25:1' is not valid"),
        (["--weights", "colbert=1"], "--weights names ['colbert']"),
        (["--limit-queries", "0"], "limit_queries=0 is not valid"),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_message(extra, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "retrieval", "--data", str(FIXTURE), "--embedder", "hash", "--no-progress", *extra])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_missing_data_folder_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "retrieval", "--data", str(tmp_path / "nope"), "--embedder", "hash", "--no-progress"])
    assert exc.value.code == 2
    assert "is not a directory" in capsys.readouterr().err


def test_config_refuses_top_k_below_the_largest_cutoff():
    with pytest.raises(ConfigError, match=r"top_k=10 is below the largest cut-off 100"):
        RetrievalBenchConfig(top_k=10)


def test_real_embedder_bm25_and_faiss_on_squad_excerpt(real_embedder):
    """MiniLM + FAISS + bm25s end to end: SQuAD questions find their paragraph."""
    ds = load_beir(FIXTURE)
    report = run_retrieval_benchmark(ds, RetrievalBenchConfig(top_k=10, ks=(1, 5, 10)), embedder=real_embedder)
    res = {m: r.metrics for m, r in report.results.items()}
    # 12 paragraphs from 4 articles, 2 questions each; measured: R@1 bm25 0.83, dense 0.88, hybrid 0.83
    for mode in ("bm25", "dense", "hybrid"):
        assert res[mode].recall[1] >= 0.7, (mode, res[mode])
        assert res[mode].recall[10] == 1.0
    # the dense run is what FAISS says: the top document of the first query checked directly
    from groundqa.index import HybridIndex

    idx = HybridIndex(real_embedder)
    idx.add(ds.chunks())
    qid, text = next(iter(ds.queries.items()))
    vec = real_embedder.encode([text])[0]
    doc_vecs = real_embedder.encode([c.text for c in ds.chunks()])
    best = ds.chunks()[int(np.argmax(doc_vecs @ vec))].doc_id
    assert idx.search(text, top_k=1, mode="dense")[0].doc_id == best


@pytest.mark.skipif(
    importlib.util.find_spec("milvus_lite") is None or importlib.util.find_spec("pymilvus") is None,
    reason="milvus-lite is not installed: pip install 'groundqa[milvus]'",
)
def test_cli_milvus_without_uri_uses_a_temporary_lite_file(tmp_path, capsys):
    out = tmp_path / "milvus.json"
    code = main(["bench", "retrieval", "--data", str(FIXTURE), "--embedder", "hash", "--backend", "milvus", "--top-k", "10", "--json", str(out), "--no-progress"])
    assert code == 0
    table = capsys.readouterr().out
    assert "temporary milvus-lite file, removed after the run" in table
    data = json.loads(out.read_text())
    uri = Path(data["config"]["uri"])
    assert data["config"]["backend"] == "milvus" and uri.name == "bench.db"
    assert not uri.parent.exists(), "the temporary milvus-lite folder must be removed after the run"
    embedded = tmp_path / "embedded.json"
    assert main(["bench", "retrieval", "--data", str(FIXTURE), "--embedder", "hash", "--top-k", "10", "--json", str(embedded), "--no-progress"]) == 0
    ref = json.loads(embedded.read_text())
    # same chunks, same embedder, same BM25 tokenizer: the dense runs agree exactly with the embedded index
    assert data["results"]["dense"]["ndcg@10"] == pytest.approx(ref["results"]["dense"]["ndcg@10"], abs=1e-6)
    for mode in ("bm25", "dense", "hybrid"):
        assert data["results"][mode]["num_queries"] == 24
        assert data["results"][mode]["ndcg@10"] > 0.3


def test_config_rejects_a_blank_uri():
    with pytest.raises(ConfigError, match="uri"):
        RetrievalBenchConfig(backend="milvus", uri="  ")


def test_cli_default_fusion_is_zscore_and_fit_is_reported(tmp_path):
    out = tmp_path / "fit.json"
    assert main(["bench", "retrieval", "--data", str(FIXTURE), "--embedder", "hash", "--top-k", "10", "--fit-fusion", "--json", str(out), "--no-progress"]) == 0
    used = json.loads(out.read_text())["config"]["fusion_used"]
    assert used["method"] == "weighted" and used["norm"] == "zscore"
    # 12 paragraphs give fewer pseudo-queries than a fit needs: the default weights stay, and the report says why
    assert 0 < used["fit"]["queries"] <= 12 and "at least" in used["fit"]["reason"]
    assert used["weights"] == {"bm25": 0.4, "dense": 0.6}
    with pytest.raises(ConfigError, match="fit_fusion"):
        RetrievalBenchConfig(fit_fusion=True, weights={"bm25": 0.5, "dense": 0.5})
