"""Fusion normalisations and the per-index fusion fit from inverse-cloze pseudo-queries."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest

from groundqa.index import HybridIndex, fusion
from groundqa.index.fit import MIN_QUERIES, FusionFit, fit_fusion, split_out
from groundqa.testing import HashEmbedder
from groundqa.types import Chunk

from .corpus import TEXTS, make_chunks


class RandomEmbedder:
    """Unit vectors seeded by the text's hash: no two different texts are related (a useless dense side)."""

    name = "random"
    dim = 32
    max_tokens = 128

    def identity(self):
        return {"name": "random-32", "dim": 32}

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def encode(self, texts, *, batch_size=None, show_progress=False):
        out = np.stack([np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).normal(size=32) for t in texts]) if texts else np.zeros((0, 32))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def two_sentence_chunks(n: int = 40) -> list[Chunk]:
    """Chunk i: two sentences that share two topic words of their own (so a sentence taken out
    still points at the rest of its chunk), padded with words from the SQuAD excerpt."""
    rng = random.Random(1)
    filler = [w.strip(".,") for _, t, _ in TEXTS for w in t.split()]
    out = []
    for i in range(n):
        s1 = " ".join([f"topic{i}a", f"topic{i}b", *rng.sample(filler, 5)]) + "."
        s2 = " ".join([f"topic{i}a", f"topic{i}b", *rng.sample(filler, 5)]) + "."
        text = f"{s1} {s2}"
        out.append(Chunk(id=f"c{i:02d}", doc_id=f"d{i:02d}", text=text, start=0, end=len(text)))
    return out


def test_zscore_and_dbsf_by_hand():
    z = fusion.zscore({"a": 3.0, "b": 1.0})
    assert z == {"a": pytest.approx(1.0), "b": pytest.approx(-1.0)}
    assert fusion.zscore({"a": 2.0, "b": 2.0}) == {"a": 0.0, "b": 0.0}
    d = fusion.dbsf({"a": 3.0, "b": 1.0})  # mean 2, std 1: [-1, 5] -> [0, 1]
    assert d == {"a": pytest.approx(4 / 6), "b": pytest.approx(2 / 6)}
    assert fusion.dbsf({}) == {} and fusion.zscore({}) == {}


def test_weighted_missing_key_gets_the_lists_floor():
    # list 1 z: a +1, b -1 ; list 2 z: b +1, c -1 ; a is missing from list 2 -> its floor (-1)
    fused = dict(fusion.weighted([{"a": 3.0, "b": 1.0}, {"b": 0.9, "c": 0.1}], weights=[1.0, 1.0], norm="zscore"))
    assert fused == {"a": pytest.approx(0.0), "b": pytest.approx(0.0), "c": pytest.approx(-1.0 + -1.0)}
    with pytest.raises(Exception, match="norm='l2' is not valid"):
        fusion.weighted([{"a": 1.0}], norm="l2")


def test_split_out_takes_a_sentence_out():
    rng = random.Random(0)
    q, rest = split_out("One two three four five. Six seven eight nine ten. Eleven twelve thirteen fourteen.", rng)
    assert q not in rest and len(q.split()) >= 4 and len(rest.split()) >= 4
    assert split_out("Only one sentence here with words.", rng) is None
    q, rest = split_out("line one has four words\nline two has four words too", rng)
    assert {q, rest} == {"line one has four words", "line two has four words too"}
    long = " ".join(f"w{i}" for i in range(30)) + ". Short tail of five words."
    q, _ = split_out(long, random.Random(3), max_words=10)
    assert len(q.split()) <= 10


def test_fit_leans_on_bm25_when_the_dense_side_is_noise():
    index = HybridIndex(RandomEmbedder())
    index.add(two_sentence_chunks())
    fit = index.fit_fusion(max_queries=40)
    assert fit.fitted and fit.queries >= MIN_QUERIES
    assert fit.mrr["zscore"]["bm25"] > fit.mrr["zscore"]["dense"] + 0.3
    assert index.weights["bm25"] >= 0.7 and index.weights == dict(fit.weights["zscore"])


def test_fit_is_deterministic_and_persisted(tmp_path):
    chunks = two_sentence_chunks()
    a, b = HybridIndex(HashEmbedder()), HybridIndex(HashEmbedder())
    a.add(chunks)
    b.add(chunks)
    assert a.fit_fusion(seed=7).to_dict() | {"seconds": 0} == b.fit_fusion(seed=7).to_dict() | {"seconds": 0}
    a.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", embedder=HashEmbedder())
    assert loaded.norm == "zscore" and loaded.weights == a.weights
    assert loaded.fit is not None and loaded.fit.weights == a.fit.weights
    q = "Who defeated the Carolina Panthers?"
    assert [p.chunk.id for p in loaded.search(q)] == [p.chunk.id for p in a.search(q)]


def test_too_few_chunks_leave_the_weights_alone():
    index = HybridIndex(HashEmbedder())
    index.add(make_chunks())  # one sentence each: nothing to split
    before = dict(index.weights)
    fit = index.fit_fusion()
    assert not fit.fitted and "at least" in fit.reason
    assert index.weights == before


def test_old_manifests_without_norm_keep_minmax(tmp_path):
    index = HybridIndex(HashEmbedder())
    index.add(make_chunks())
    index.save(tmp_path / "idx")
    import json

    mf = tmp_path / "idx" / "manifest.json"
    m = json.loads(mf.read_text())
    del m["fusion"]["norm"]
    mf.write_text(json.dumps(m))
    assert HybridIndex.load(tmp_path / "idx", embedder=HashEmbedder()).norm == "minmax"
    assert HybridIndex(HashEmbedder()).norm == "zscore"


def test_fusionfit_from_dict_rejects_bad_weights():
    with pytest.raises(ValueError):
        FusionFit.from_dict({"weights": {"zscore": {"bm25": 2.0, "dense": -1.0}}})
    with pytest.raises(ValueError):
        FusionFit.from_dict({"weights": {"l2": {"bm25": 0.5, "dense": 0.5}}})
