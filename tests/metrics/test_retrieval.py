"""Retrieval metrics on hand-computed cases (the arithmetic is written next to each number).

log2 values used below: log2(2) = 1, log2(3) = 1.5849625, log2(4) = 2, log2(5) = 2.3219281.
"""

from __future__ import annotations

import math
import random

import pytest

from groundqa.metrics.retrieval import (
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    rank_documents,
    recall_at_k,
)
from groundqa.errors import ConfigError

L3 = math.log2(3)
L5 = math.log2(5)


def test_rank_documents_orders_ties_by_doc_id_descending_like_trec_eval():
    # b, c, a share 1.0 -> c, b, a (descending id); d has the top score.
    assert rank_documents({"a": 1.0, "b": 1.0, "c": 1.0, "d": 2.0, "e": 0.5}) == ["d", "c", "b", "a", "e"]


def test_binary_single_query():
    qrels = {"q": {"d1": 1, "d3": 1}}
    run = {"q": {"d2": 0.9, "d1": 0.8, "d4": 0.7, "d3": 0.6}}  # ranking: d2 d1 d4 d3
    # recall@1: top-1 = {d2}, no relevant -> 0/2 = 0; recall@2: {d2,d1} -> 1/2; recall@4 -> 2/2
    assert recall_at_k(qrels, run, 1) == 0.0
    assert recall_at_k(qrels, run, 2) == 0.5
    assert recall_at_k(qrels, run, 4) == 1.0
    # MRR@1: nothing relevant at rank 1 -> 0; MRR@10: first relevant (d1) at rank 2 -> 1/2
    assert mrr_at_k(qrels, run, 1) == 0.0
    assert mrr_at_k(qrels, run, 10) == 0.5
    # nDCG@4: DCG = 1/log2(3) + 1/log2(5) (ranks 2 and 4); IDCG = 1/log2(2) + 1/log2(3)
    expected = (1 / L3 + 1 / L5) / (1 + 1 / L3)
    assert ndcg_at_k(qrels, run, 4) == pytest.approx(expected)  # = 0.6509
    assert expected == pytest.approx(0.650921, abs=1e-6)


def test_graded_relevance_uses_linear_gain():
    qrels = {"q": {"a": 3, "b": 1, "c": 2}}
    run = {"q": {"b": 3.0, "a": 2.0, "x": 1.0}}  # ranking: b(1) a(3) x(0)
    # DCG@3 = 1/log2(2) + 3/log2(3) + 0 = 1 + 1.89279 = 2.89279
    # ideal: 3, 2, 1 -> IDCG@3 = 3/1 + 2/log2(3) + 1/log2(4) = 3 + 1.26186 + 0.5 = 4.76186
    dcg = 1 + 3 / L3
    idcg = 3 + 2 / L3 + 1 / 2
    assert ndcg_at_k(qrels, run, 3) == pytest.approx(dcg / idcg)  # 2.89279 / 4.76186 = 0.60749
    assert dcg / idcg == pytest.approx(0.607492, abs=1e-6)
    # nDCG@1: DCG = 1 (b), IDCG = 3 (a) -> 1/3. With exponential gain it would be 1/7: linear it is.
    assert ndcg_at_k(qrels, run, 1) == pytest.approx(1 / 3)
    # recall@2: a and b of {a, b, c} -> 2/3
    assert recall_at_k(qrels, run, 2) == pytest.approx(2 / 3)


def test_judged_zero_is_not_relevant():
    qrels = {"q": {"a": 0, "b": 1}}
    run = {"q": {"a": 2.0, "b": 1.0}}  # ranking a(0) b(1)
    # a is judged but not relevant: MRR@10 = 1/2, recall@1 = 0/1, recall@2 = 1/1
    assert mrr_at_k(qrels, run, 10) == 0.5
    assert recall_at_k(qrels, run, 1) == 0.0
    assert recall_at_k(qrels, run, 2) == 1.0
    # nDCG@2 = (0 + 1/log2(3)) / (1/log2(2)) = 0.6309
    assert ndcg_at_k(qrels, run, 2) == pytest.approx(1 / L3)


def test_query_with_only_zero_judgements_is_skipped():
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}}
    run = {"q1": {"a": 1.0}, "q2": {"b": 1.0}}
    # q2 has no relevant document: averaged over q1 only -> 1.0 (not (1 + 0) / 2)
    m = evaluate(qrels, run, ks=(10,))
    assert m.num_queries == 1
    assert m.ndcg[10] == 1.0 and m.recall[10] == 1.0 and m.mrr[10] == 1.0


def test_query_missing_from_run_scores_zero_and_extra_run_queries_are_ignored():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"a": 1.0}, "q3": {"b": 5.0}}
    # q1 perfect (1.0), q2 missing (0.0): mean = 0.5 for every metric; q3 is not judged
    assert recall_at_k(qrels, run, 5) == 0.5
    assert mrr_at_k(qrels, run, 5) == 0.5
    assert ndcg_at_k(qrels, run, 5) == 0.5
    assert evaluate(qrels, run).num_queries == 2


def test_ties_decide_by_doc_id_descending():
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 1.0, "b": 1.0, "c": 1.0}}
    # all tied -> ranking c, b, a: the relevant a is at rank 3
    assert mrr_at_k(qrels, run, 10) == pytest.approx(1 / 3)
    assert recall_at_k(qrels, run, 2) == 0.0
    assert ndcg_at_k(qrels, run, 3) == pytest.approx(1 / 2)  # (1/log2(4)) / (1/log2(2))


def test_evaluate_matches_single_metric_functions_and_flat_keys():
    qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}
    run = {"q1": {"b": 0.9, "z": 0.5, "a": 0.1}, "q2": {"x": 1.0, "c": 0.2}}
    m = evaluate(qrels, run, ks=(1, 5, 10, 100))
    d = m.to_dict()
    for k in (1, 5, 10, 100):
        assert d[f"ndcg@{k}"] == pytest.approx(ndcg_at_k(qrels, run, k))
        assert d[f"recall@{k}"] == pytest.approx(recall_at_k(qrels, run, k))
        assert d[f"mrr@{k}"] == pytest.approx(mrr_at_k(qrels, run, k))
    # MRR@10: q1 -> b at rank 1 = 1; q2 -> c at rank 2 = 1/2; mean 0.75
    assert d["mrr@10"] == pytest.approx(0.75)
    assert d["num_queries"] == 2


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "10"])
def test_bad_k_is_refused_with_the_value(k):
    with pytest.raises(ConfigError, match=r"k=.* is not valid"):
        ndcg_at_k({"q": {"a": 1}}, {"q": {"a": 1.0}}, k)


def test_agrees_with_pytrec_eval_on_random_runs():
    """The reference implementation BEIR uses; MRR@k is BEIR's own and is checked above."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(30)]
    qrels, run = {}, {}
    for q in range(40):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 6))}
        # coarse scores so that ties occur
        run[qid] = {d: float(rng.randint(0, 5)) for d in rng.sample(docs, rng.randint(1, 25))}
    ks = (1, 3, 5, 10)
    measures = {f"ndcg_cut.{k}" for k in ks} | {f"recall.{k}" for k in ks}
    ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    scored = [q for q in qrels if any(r > 0 for r in qrels[q].values())]
    mine = evaluate(qrels, run, ks=ks)
    for k in ks:
        assert mine.ndcg[k] == pytest.approx(sum(ref[q][f"ndcg_cut_{k}"] for q in scored) / len(scored))
        assert mine.recall[k] == pytest.approx(sum(ref[q][f"recall_{k}"] for q in scored) / len(scored))
