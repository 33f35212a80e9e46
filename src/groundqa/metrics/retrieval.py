"""Retrieval metrics as pure functions over plain dicts, following the BEIR / pytrec_eval conventions.

Inputs are the TREC-style dicts that BEIR (Thakur et al., 2021, "BEIR: A Heterogeneous Benchmark
for Zero-shot Evaluation of Information Retrieval Models") passes to ``pytrec_eval`` (Van Gysel
and de Rijke, 2018, a binding of NIST's ``trec_eval``):

* ``qrels: {query_id: {doc_id: relevance}}`` with integer graded relevance; ``relevance > 0``
  means relevant, ``0`` (or less) means judged not relevant;
* ``run: {query_id: {doc_id: score}}``, higher score = better.

Conventions, all as in ``trec_eval`` (and so in BEIR's numbers):

* **Ranking.** A query's documents are ranked by score, descending; equal scores are ordered by
  document id, *descending* (``trec_eval``'s ``comp_sim_docno``). ``rank_documents`` does this.
* **nDCG@k** (Järvelin and Kekäläinen, 2002, in ``trec_eval``'s ``ndcg_cut`` form): gain is the
  relevance value itself (linear, not ``2**rel - 1``), discounted by ``log2(rank + 1)``;
  ``DCG@k = sum_{i=1..k} rel_i / log2(i + 1)``, normalised by the DCG@k of the ideal ranking of the
  judged relevant documents.
* **Recall@k** (``trec_eval`` ``recall_k``): relevant documents in the top k / all relevant
  documents of the query.
* **MRR@k** (BEIR's ``mrr`` in ``custom_metrics``): ``1 / rank`` of the first relevant document in
  the top k, ``0`` when none is there.

Which queries are averaged (the one place where this module states its own rule): every query of
``qrels`` that has at least one relevant document. A query with no relevant document cannot be
scored and is skipped (``trec_eval`` would count it as 0). A query that is in ``qrels`` but missing
from ``run`` scores 0 on every metric (``trec_eval -c``; plain ``pytrec_eval``, and so BEIR, would
drop it and overstate the mean). Queries in ``run`` but not in ``qrels`` are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..errors import ConfigError

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 100)


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k={k!r} is not valid; it must be a whole number >= 1 (the cut-off rank)")
    return k


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Document ids in ``trec_eval`` order: score descending, ties by document id descending."""
    # Two stable sorts: first the tie-break key, then the primary key.
    by_id = sorted(scores, reverse=True)
    return sorted(by_id, key=lambda d: scores[d], reverse=True)


def _relevant(judged: Mapping[str, int]) -> dict[str, int]:
    return {d: int(r) for d, r in judged.items() if r > 0}


def _scored_queries(qrels: Qrels) -> list[str]:
    return [q for q, judged in qrels.items() if _relevant(judged)]


def query_recall(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    """Recall@k of one ranked list: relevant ids among ``ranking[:k]`` / all relevant ids."""
    rel = _relevant(judged)
    if not rel:
        return 0.0
    return sum(1 for d in ranking[:k] if d in rel) / len(rel)


def query_reciprocal_rank(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    """1 / (1-based rank of the first relevant id in ``ranking[:k]``), or 0."""
    rel = _relevant(judged)
    for i, d in enumerate(ranking[:k]):
        if d in rel:
            return 1.0 / (i + 1)
    return 0.0


def query_ndcg(judged: Mapping[str, int], ranking: list[str], k: int) -> float:
    """nDCG@k of one ranked list with linear gain ``rel`` and discount ``log2(rank + 1)``."""
    rel = _relevant(judged)
    if not rel:
        return 0.0
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg


def _mean_over_queries(qrels: Qrels, run: Run, k: int, fn) -> float:
    k = _check_k(k)
    qids = _scored_queries(qrels)
    if not qids:
        return 0.0
    total = 0.0
    for q in qids:
        scores = run.get(q)
        if scores:
            total += fn(qrels[q], rank_documents(scores), k)
    return total / len(qids)


def recall_at_k(qrels: Qrels, run: Run, k: int) -> float:
    """Mean Recall@k over the queries of ``qrels`` that have a relevant document (see module doc)."""
    return _mean_over_queries(qrels, run, k, query_recall)


def mrr_at_k(qrels: Qrels, run: Run, k: int) -> float:
    """Mean reciprocal rank of the first relevant document within the top k (BEIR's MRR@k)."""
    return _mean_over_queries(qrels, run, k, query_reciprocal_rank)


def ndcg_at_k(qrels: Qrels, run: Run, k: int) -> float:
    """Mean nDCG@k, graded linear gain and log2 discount, as ``trec_eval``'s ``ndcg_cut.k``."""
    return _mean_over_queries(qrels, run, k, query_ndcg)


@dataclass(frozen=True)
class RetrievalMetrics:
    """nDCG@k, Recall@k and MRR@k for each cut-off ``k`` in ``ks``, averaged over ``num_queries``."""

    ks: tuple[int, ...]
    num_queries: int
    ndcg: Mapping[int, float] = field(default_factory=dict)
    recall: Mapping[int, float] = field(default_factory=dict)
    mrr: Mapping[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float | int]:
        """Flat keys as BEIR prints them, lower case: ``{"ndcg@10": ..., "recall@10": ..., ...}``."""
        out: dict[str, float | int] = {}
        for name, values in (("ndcg", self.ndcg), ("recall", self.recall), ("mrr", self.mrr)):
            for k in self.ks:
                out[f"{name}@{k}"] = values[k]
        out["num_queries"] = self.num_queries
        return out


def evaluate(qrels: Qrels, run: Run, ks: Iterable[int] = DEFAULT_KS) -> RetrievalMetrics:
    """All three metrics at every cut-off in ``ks``; each query's ranking is sorted once."""
    ks = tuple(sorted({_check_k(k) for k in ks}))
    if not ks:
        raise ConfigError("ks=() is not valid; pass at least one cut-off, e.g. ks=(1, 5, 10, 100)")
    qids = _scored_queries(qrels)
    sums = {name: dict.fromkeys(ks, 0.0) for name in ("ndcg", "recall", "mrr")}
    for q in qids:
        scores = run.get(q)
        if not scores:
            continue
        ranking = rank_documents(scores)
        judged = qrels[q]
        for k in ks:
            sums["ndcg"][k] += query_ndcg(judged, ranking, k)
            sums["recall"][k] += query_recall(judged, ranking, k)
            sums["mrr"][k] += query_reciprocal_rank(judged, ranking, k)
    n = len(qids)
    means = {name: {k: (v / n if n else 0.0) for k, v in per_k.items()} for name, per_k in sums.items()}
    return RetrievalMetrics(ks=ks, num_queries=n, ndcg=means["ndcg"], recall=means["recall"], mrr=means["mrr"])
