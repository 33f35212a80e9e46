"""Metrics of a binary claim verifier: pure functions over numpy arrays.

Labels are 1 = supported, 0 = unsupported; scores are P(supported) or any score that grows with
support. The "positive" class of F1 and of precision targets is *unsupported*, the class a guard
exists to catch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _arrays(y, s):
    y = np.asarray(y, dtype=np.int64).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape[0]} vs {s.shape[0]}")
    return y, s


def auroc(y, s) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); nan with one class."""
    y, s = _arrays(y, s)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def balanced_accuracy(y, pred) -> float:
    """Mean of the recalls of both classes (``pred`` is 1 for supported)."""
    y, p = _arrays(y, pred)
    recalls = [float(np.mean(p[y == c] == c)) for c in (0, 1) if np.any(y == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def f1_unsupported(y, pred) -> float:
    """F1 of the unsupported class (label 0)."""
    y, p = _arrays(y, pred)
    tp = float(np.sum((p == 0) & (y == 0)))
    fp = float(np.sum((p == 0) & (y == 1)))
    fn = float(np.sum((p == 1) & (y == 0)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def ece(y, prob, n_bins: int = 10) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins of P(supported)."""
    y, p = _arrays(y, prob)
    if len(y) == 0:
        return float("nan")
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() * abs(p[m].mean() - y[m].mean())
    return float(total / len(y))


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float
    hi: float
    count: int
    mean_prob: float
    frac_supported: float


def reliability(y, prob, n_bins: int = 10) -> list[ReliabilityBin]:
    y, p = _arrays(y, prob)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        m = bins == b
        out.append(ReliabilityBin(b / n_bins, (b + 1) / n_bins, int(m.sum()), float(p[m].mean()) if m.any() else float("nan"), float(y[m].mean()) if m.any() else float("nan")))
    return out


def best_balanced_threshold(y, s) -> float:
    """The threshold t (predict supported iff s >= t) that maximises balanced accuracy on (y, s);
    the midpoint between adjacent scores, so it generalises to unseen scores."""
    y, s = _arrays(y, s)
    u = np.unique(s)
    if len(u) == 1:
        return float(u[0])
    cands = np.concatenate([[u[0] - 1e-9], (u[:-1] + u[1:]) / 2.0, [u[-1] + 1e-9]])
    n1 = max(1, int(y.sum()))
    n0 = max(1, len(y) - int(y.sum()))
    order = np.argsort(s)
    ss, yy = s[order], y[order]
    best_t, best_ba = float(cands[0]), -1.0
    for t in cands:
        k = int(np.searchsorted(ss, t, side="left"))  # scores below t -> predicted unsupported
        tn = float(np.sum(yy[:k] == 0))
        tp = float(np.sum(yy[k:] == 1))
        ba = 0.5 * (tn / n0 + tp / n1)
        if ba > best_ba:
            best_ba, best_t = ba, float(t)
    return best_t


def threshold_for_precision(y, s, target: float) -> float | None:
    """The largest threshold t such that the claims scored below t ("unsupported") are unsupported
    with precision >= ``target``: the most recall at that precision. None if no t reaches it."""
    y, s = _arrays(y, s)
    order = np.argsort(s)
    ss, yy = s[order], y[order]
    best = None
    neg = np.cumsum(yy == 0)
    for k in range(1, len(ss) + 1):
        if k < len(ss) and ss[k] == ss[k - 1]:
            continue
        prec = neg[k - 1] / k
        if prec >= target:
            best = float((ss[k - 1] + ss[k]) / 2.0) if k < len(ss) else float(ss[-1] + 1e-9)
    return best


def pr_curve_unsupported(y, s) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of the unsupported class as the threshold sweeps the scores."""
    y, s = _arrays(y, s)
    order = np.argsort(s)
    yy = y[order]
    neg = np.cumsum(yy == 0)
    k = np.arange(1, len(yy) + 1)
    total_neg = max(1, int((y == 0).sum()))
    return neg / k, neg / total_neg
