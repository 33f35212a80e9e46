"""Rank fusion as pure functions over plain data.

* ``rrf``: reciprocal rank fusion, score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1
  (Cormack, Clarke & Buettcher 2009, "Reciprocal Rank Fusion outperforms Condorcet and individual
  Rank Learning Methods"); k = 60 by default, as in the paper.
* ``weighted``: a weighted sum of per-retriever scores, each min-max normalised to [0, 1] over its
  own result list; a document missing from a list contributes 0 for it (Fox & Shaw 1994, CombSUM).

Ties keep the order in which keys first appear in the inputs (Python's sort is stable), so
fusion is deterministic.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence, TypeVar

from ..errors import ConfigError

K = TypeVar("K", bound=Hashable)


def _weights(n: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ConfigError(f"weights={list(weights)!r} has {len(weights)} entries for {n} result lists; give one weight per retriever")
    if any(w < 0 for w in weights):
        raise ConfigError(f"weights={list(weights)!r} is not valid; weights must be >= 0")
    return [float(w) for w in weights]


def rrf(rankings: Sequence[Sequence[K]], *, k: float = 60.0, weights: Sequence[float] | None = None) -> list[tuple[K, float]]:
    """Fuse ranked lists (best first) by reciprocal rank; returns (key, score) best first."""
    if k < 0:
        raise ConfigError(f"rrf k={k!r} is not valid; it must be >= 0 (60 is the usual value)")
    ws = _weights(len(rankings), weights)
    fused: dict[K, float] = {}
    for w, ranking in zip(ws, rankings):
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


def minmax(scores: Mapping[K, float]) -> dict[K, float]:
    """Scale scores to [0, 1]; a list whose scores are all equal maps to 1.0."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {key: 1.0 for key in scores}
    return {key: (s - lo) / (hi - lo) for key, s in scores.items()}


def weighted(score_lists: Sequence[Mapping[K, float]], *, weights: Sequence[float] | None = None) -> list[tuple[K, float]]:
    """Fuse per-retriever score maps by a weighted sum of min-max normalised scores."""
    ws = _weights(len(score_lists), weights)
    fused: dict[K, float] = {}
    for w, scores in zip(ws, score_lists):
        for key, s in minmax(scores).items():
            fused[key] = fused.get(key, 0.0) + w * s
    return sorted(fused.items(), key=lambda kv: -kv[1])
