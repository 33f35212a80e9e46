"""bm25s against rank-bm25, the reference implementation (habit 11 of STYLE.md)."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from groundqa.errors import ConfigError
from groundqa.index.sparse import BM25Index, Tokenizer, top_k

from .corpus import TEXTS

QUERIES = ["Super Bowl champion", "capital of Poland", "who discovered oxygen", "rainforest basin South America", "Norse raiders"]


def test_bm25s_robertson_scores_equal_rank_bm25_okapi():
    # Where the formulas agree (Robertson idf, no term in more than half the documents, so
    # rank-bm25's epsilon floor never applies), the two libraries give the same ranking. bm25s
    # leaves out the constant (k1 + 1) of the term-frequency numerator (Kamphuis et al. 2020), so
    # its scores are rank-bm25's divided by k1 + 1.
    tok = Tokenizer()
    texts = [t for _, t, _ in TEXTS]
    tokens = tok.many(texts)
    ours = BM25Index("bm25s", k1=1.2, b=0.75, method="robertson", tokenizer=tok)
    ours.set_tokens(tokens)
    ref = BM25Okapi(tokens, k1=1.2, b=0.75)
    df = {}
    for t in tokens:
        for w in set(t):
            df[w] = df.get(w, 0) + 1
    for q in QUERIES:
        qt = tok(q)
        assert all(df.get(w, 0) <= len(texts) / 2 for w in qt)
        a, b = ours.scores(q), np.asarray(ref.get_scores(qt), dtype=np.float32)
        np.testing.assert_allclose(a * (1.2 + 1), b, rtol=1e-5, atol=1e-6)
        assert list(np.argsort(-a, kind="stable")[:5]) == list(np.argsort(-b, kind="stable")[:5])


@pytest.mark.parametrize("backend", ["bm25s", "rank-bm25"])
def test_both_backends_rank_the_same_top_hit(backend):
    idx = BM25Index(backend)
    idx.set_tokens(idx.tokenizer.many([t for _, t, _ in TEXTS]))
    hits = idx.search("Who discovered oxygen?", 3)
    assert TEXTS[hits.positions[0]][1].startswith("Joseph Priestley")
    assert (np.diff(hits.scores) <= 0).all() and (hits.scores > 0).all()


def test_lucene_idf_hand_computed():
    # one document of three contains "cat": lucene idf = ln(1 + (3 - 1 + .5) / (1 + .5))
    idx = BM25Index("bm25s", k1=1.5, b=0.0, method="lucene", tokenizer=Tokenizer(stopwords=None, stemmer=None))
    idx.set_tokens([["cat"], ["dog"], ["bird"]])
    idf = np.log(1 + 2.5 / 1.5)
    # b = 0: bm25s's tf part = tf / (tf + k1) = 1 / 2.5 for tf = 1
    assert idx.scores("cat")[0] == pytest.approx(idf / 2.5, rel=1e-5)


def test_mask_and_no_match():
    idx = BM25Index()
    idx.set_tokens(idx.tokenizer.many([t for _, t, _ in TEXTS]))
    mask = np.zeros(len(TEXTS), dtype=bool)
    mask[3] = True
    hits = idx.search("Poland capital Warsaw", 5, mask)
    assert hits.positions.tolist() == [3]
    assert idx.search("zzzz unknownword", 5).positions.size == 0


def test_bad_parameters():
    with pytest.raises(ConfigError, match="sparse='bm42'.*bm25s, rank-bm25"):
        BM25Index("bm42")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="b=1.5"):
        BM25Index(b=1.5)
    with pytest.raises(ConfigError, match="k1=-1"):
        BM25Index(k1=-1)


def test_top_k_ties_by_position():
    hits = top_k(np.array([1.0, 3.0, 3.0, 0.0]), 3, positive_only=True)
    assert hits.positions.tolist() == [1, 2, 0]
