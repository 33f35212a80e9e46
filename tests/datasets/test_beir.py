"""The BEIR loader: the committed SQuAD excerpt, plus small folders written per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.datasets.beir import BeirDocument, load_beir, load_qrels
from groundqa.errors import ConfigError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "squad_mini"


def write_beir(root: Path, corpus, queries, qrels_lines, header="query-id\tcorpus-id\tscore") -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("\n".join([header, *qrels_lines]) + "\n", encoding="utf-8")
    return root


def test_loads_the_squad_excerpt():
    ds = load_beir(FIXTURE)
    assert ds.name == "squad_mini"
    assert len(ds.corpus) == 12 and len(ds.queries) == 24
    assert all(len(j) == 1 and list(j.values()) == [1] for j in ds.qrels.values())
    assert ds.queries["56be4db0acb8001400a502ec"] == "Which NFL team represented the AFC at Super Bowl 50?"
    assert ds.qrels["56be4db0acb8001400a502ec"] == {"Super_Bowl_50_0": 1}


def test_one_chunk_per_document_with_doc_id_and_offsets():
    ds = load_beir(FIXTURE)
    chunks = ds.chunks()
    assert [c.doc_id for c in chunks] == list(ds.corpus)
    assert len({c.id for c in chunks}) == len(chunks)
    for c in chunks:
        assert c.start == 0 and c.end == len(c.text)
        assert c.metadata["title"] == ds.corpus[c.doc_id].title
    # content-hash ids: loading again gives the same ids
    assert [c.id for c in load_beir(FIXTURE).chunks()] == [c.id for c in chunks]


def test_title_is_prepended_unless_the_text_repeats_it():
    assert BeirDocument("1", "Warsaw", "The city lies on the Vistula.").full_text == "Warsaw\nThe city lies on the Vistula."
    # Cranfield style: the abstract starts with its title -> not twice
    assert BeirDocument("2", "wing in a slipstream .", "wing in a slipstream . an experimental study").full_text == "wing in a slipstream . an experimental study"
    assert BeirDocument("3", "", "no title").full_text == "no title"


def test_graded_qrels_header_and_zero_only_queries(tmp_path):
    root = write_beir(
        tmp_path / "beir",
        corpus=[{"_id": "d1", "title": "t", "text": "a"}, {"_id": "d2", "title": "", "text": "b"}],
        queries=[{"_id": "1", "text": "q one"}, {"_id": "2", "text": "q two"}, {"_id": "3", "text": "q three"}],
        qrels_lines=["1\td1\t3", "1\td2\t0", "2\td2\t0"],
    )
    ds = load_beir(root)
    assert ds.name == tmp_path.name  # a folder called beir is named after its parent
    assert ds.qrels == {"1": {"d1": 3, "d2": 0}}  # zero judgements are kept for the metrics
    assert list(ds.queries) == ["1"]  # 2 has no relevant document, 3 is not judged
    assert ds.skipped_queries == 2
    assert load_qrels(root / "qrels" / "test.tsv") == {"1": {"d1": 3, "d2": 0}, "2": {"d2": 0}}


def test_query_split_by_position_and_limit():
    ds = load_beir(FIXTURE)
    qids = list(ds.queries)
    assert list(ds.select_queries("odd").queries) == qids[0::2]
    assert list(ds.select_queries("even").queries) == qids[1::2]
    assert set(ds.select_queries("even").queries).isdisjoint(ds.select_queries("odd").queries)
    small = ds.select_queries("even", limit=3)
    assert list(small.queries) == qids[1:6:2] and set(small.qrels) == set(small.queries)
    assert small.corpus is ds.corpus


def test_bad_split_and_limit_are_refused():
    ds = load_beir(FIXTURE)
    with pytest.raises(ConfigError, match=r"query_split='halves' is not valid; choose one of: all, even, odd"):
        ds.select_queries("halves")
    with pytest.raises(ConfigError, match=r"limit_queries=0 is not valid"):
        ds.select_queries("all", limit=0)


def test_missing_folder_and_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"is not a directory"):
        load_beir(tmp_path / "nope")
    (tmp_path / "corpus.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"has no queries.jsonl"):
        load_beir(tmp_path)


def test_bad_rows_are_reported_with_file_and_line(tmp_path):
    root = write_beir(tmp_path / "x", corpus=[{"_id": "d1", "text": "a"}], queries=[{"_id": "1"}], qrels_lines=["1\td1\t1"])
    with pytest.raises(ConfigError, match=r"queries.jsonl:1: missing field\(s\) text"):
        load_beir(root)
    root = write_beir(tmp_path / "y", corpus=[{"_id": "d1", "text": "a"}], queries=[{"_id": "1", "text": "q"}], qrels_lines=["1\td9\t1"])
    with pytest.raises(ConfigError, match=r"not in corpus.jsonl \(e.g. \['d9'\]\)"):
        load_beir(root)
    root = write_beir(tmp_path / "z", corpus=[{"_id": "d1", "text": "a"}], queries=[{"_id": "1", "text": "q"}], qrels_lines=["1\td1\thigh"])
    with pytest.raises(ConfigError, match=r"test.tsv:2: score 'high' is not a number"):
        load_beir(root)


def test_a_reused_corpus_id_is_an_error_unless_the_document_repeats(tmp_path):
    """Issue 16: a later line with the same _id used to replace the earlier document in silence."""
    q, rel = [{"_id": "1", "text": "q"}], ["1\td1\t1"]
    root = write_beir(tmp_path / "a", corpus=[{"_id": "d1", "text": "a"}, {"_id": "d1", "text": "a"}], queries=q, qrels_lines=rel)
    assert list(load_beir(root).corpus) == ["d1"]
    root = write_beir(tmp_path / "b", corpus=[{"_id": "d1", "text": "a"}, {"_id": "d2", "text": "b"}, {"_id": "d1", "text": "other"}], queries=q, qrels_lines=rel)
    with pytest.raises(ConfigError, match=r"corpus.jsonl: 1 line\(s\) reuse the _id of an earlier document with a different title or text \(e.g. 'd1'\)"):
        load_beir(root)
