"""Rank fusion as pure functions over plain data.

* ``rrf``: reciprocal rank fusion, score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1
  (Cormack, Clarke & Buettcher 2009, "Reciprocal Rank Fusion outperforms Condorcet and individual
  Rank Learning Methods"); k = 60 by default, as in the paper.
* ``weighted``: a weighted sum of per-retriever scores, each normalised over its own result list
  (Fox & Shaw 1994, CombSUM); a document missing from a list gets that list's lowest normalised
  score. Normalisations (``NORMS``):

  - ``minmax``: (s - min) / (max - min), so [0, 1];
  - ``zscore``: (s - mean) / std;
  - ``dbsf``: distribution-based score fusion, (s - (mean - 3 std)) / (6 std) clipped to [0, 1]
    (Qdrant's "DBSF"; the 3-sigma bounds keep one outlying score from squashing the rest).

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


def _mean_std(scores: Mapping[K, float]) -> tuple[float, float]:
    """Mean and (population) standard deviation of a non-empty list's scores."""
    vals = list(scores.values())
    mean = sum(vals) / len(vals)
    return mean, (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5


def zscore(scores: Mapping[K, float]) -> dict[K, float]:
    """(s - mean) / std over the list; a list whose scores are all equal maps to 0.0."""
    if not scores:
        return {}
    mean, std = _mean_std(scores)
    if std == 0:
        return {key: 0.0 for key in scores}
    return {key: (s - mean) / std for key, s in scores.items()}


def dbsf(scores: Mapping[K, float]) -> dict[K, float]:
    """Distribution-based score fusion's scaling: mean -/+ 3 std mapped to 0/1, clipped; a list
    whose scores are all equal maps to 1.0 (as ``minmax``)."""
    if not scores:
        return {}
    mean, std = _mean_std(scores)
    if std == 0:
        return {key: 1.0 for key in scores}
    lo = mean - 3 * std
    return {key: min(1.0, max(0.0, (s - lo) / (6 * std))) for key, s in scores.items()}


NORMS = {"minmax": minmax, "zscore": zscore, "dbsf": dbsf}


def weighted(score_lists: Sequence[Mapping[K, float]], *, weights: Sequence[float] | None = None, norm: str = "minmax") -> list[tuple[K, float]]:
    """Fuse per-retriever score maps by a weighted sum of normalised scores (``norm``: one of
    ``NORMS``); a key missing from a list gets that list's lowest normalised score."""
    if norm not in NORMS:
        raise ConfigError(f"norm={norm!r} is not valid; choose one of: {', '.join(NORMS)}")
    ws = _weights(len(score_lists), weights)
    normed = [NORMS[norm](scores) for scores in score_lists]
    floors = [min(n.values()) if n else 0.0 for n in normed]
    # every key starts from the sum of the floors, then each list adds w * (score - its floor)
    base = sum(w * f for w, f in zip(ws, floors))
    fused: dict[K, float] = {}
    for w, n, floor in zip(ws, normed, floors):
        for key, s in n.items():
            fused[key] = fused.get(key, base) + w * (s - floor)
    return sorted(fused.items(), key=lambda kv: -kv[1])
