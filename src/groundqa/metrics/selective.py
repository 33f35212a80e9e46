"""Selective-answer metrics: how many questions a system can answer at a given precision.

Pure functions over per-question records, no model. A question has a ``score`` (the guard's support
for the answer generated; None when there is nothing to return: the generator declined, no passage
was relevant, or an answer check blocked it) and ``correct`` (the answer is right; always False for
an unanswerable question). Returning every answer whose score is at least a threshold ``t`` gives
one point of the risk-coverage curve:

* coverage = returned answers / all questions (answerable and unanswerable);
* precision = right returned answers / returned answers; risk = 1 - precision.

``coverage_at_precision(p)`` is the largest coverage of any threshold whose precision is at least
``p`` (0.0 when none reaches it). ``aurc`` is the area under the risk-coverage curve, from coverage 0
to the coverage where every scored answer is returned (the mean, over the scored answers taken in
order of score, of the risk so far, weighted by 1/n): lower is better, 0 when no wrong answer
ranks above a right one. Ties in score are taken together (a threshold cannot split them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

__all__ = ["RiskCoveragePoint", "SelectiveMetrics", "answer_score", "aurc", "coverage_at_precision", "per_domain", "risk_coverage",
           "selective_metrics", "threshold_at_precision"]


@dataclass(frozen=True)
class RiskCoveragePoint:
    threshold: float
    coverage: float
    precision: float
    returned: int
    right: int


def _scored(scores: Sequence[float | None], correct: Sequence[bool]) -> list[tuple[float, bool]]:
    if len(scores) != len(correct):
        raise ValueError(f"scores ({len(scores)}) and correct ({len(correct)}) must have one entry per question")
    return sorted(((float(s), bool(c)) for s, c in zip(scores, correct) if s is not None), key=lambda x: -x[0])


def risk_coverage(scores: Sequence[float | None], correct: Sequence[bool]) -> list[RiskCoveragePoint]:
    """One point per distinct score, highest threshold first (see the module docstring)."""
    n = len(scores)
    pts: list[RiskCoveragePoint] = []
    ranked = _scored(scores, correct)
    right = 0
    for k, (s, c) in enumerate(ranked, start=1):
        right += c
        if k < len(ranked) and ranked[k][0] == s:
            continue  # a threshold cannot split a tie
        pts.append(RiskCoveragePoint(s, k / n if n else 0.0, right / k, k, right))
    return pts


def coverage_at_precision(scores: Sequence[float | None], correct: Sequence[bool], precision: float) -> float:
    return max((p.coverage for p in risk_coverage(scores, correct) if p.precision >= precision - 1e-12), default=0.0)


def threshold_at_precision(scores: Sequence[float | None], correct: Sequence[bool], precision: float) -> float | None:
    """The lowest threshold whose returned answers reach ``precision`` (None when none does)."""
    ok = [p for p in risk_coverage(scores, correct) if p.precision >= precision - 1e-12]
    return min(p.threshold for p in ok) if ok else None


def aurc(scores: Sequence[float | None], correct: Sequence[bool]) -> float:
    n = len(scores)
    ranked = _scored(scores, correct)
    if not n or not ranked:
        return 0.0
    area, wrong, k = 0.0, 0, 0
    i = 0
    while i < len(ranked):  # ties: one step of the curve
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            wrong += not ranked[j][1]
            j += 1
        area += (j - i) / n * (wrong / j)
        i = j
    return area


@dataclass(frozen=True)
class SelectiveMetrics:
    """Coverage at 90% and 95% precision, the area under the risk-coverage curve, and the largest
    coverage (every scored answer returned) with its precision, over ``n`` questions."""

    n: int
    scored: int
    coverage_at_90: float
    coverage_at_95: float
    aurc: float
    max_coverage: float
    precision_at_max: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def selective_metrics(scores: Sequence[float | None], correct: Sequence[bool]) -> SelectiveMetrics:
    pts = risk_coverage(scores, correct)
    last = pts[-1] if pts else None
    return SelectiveMetrics(
        n=len(scores), scored=last.returned if last else 0,
        coverage_at_90=coverage_at_precision(scores, correct, 0.90), coverage_at_95=coverage_at_precision(scores, correct, 0.95),
        aurc=aurc(scores, correct), max_coverage=last.coverage if last else 0.0, precision_at_max=last.precision if last else 0.0,
    )


def answer_score(answer: Any) -> float | None:
    """The score of a pipeline ``Answer`` for these metrics: its support (an answer a check capped
    has a support below half the threshold), or None when there is nothing to return (the
    generator declined, no passage was relevant, or no claim could be checked)."""
    if getattr(answer, "verdict", None) == "declined" or not getattr(answer, "claims", ()):
        return None
    return float(answer.support)


def per_domain(rows: Iterable[tuple[str, float | None, bool]]) -> dict[str, dict[str, Any]]:
    """``selective_metrics`` per domain and for all rows together: rows are (domain, score, correct)."""
    groups: dict[str, tuple[list[float | None], list[bool]]] = {}
    for d, s, c in rows:
        for key in (d, "all"):
            g = groups.setdefault(key, ([], []))
            g[0].append(s)
            g[1].append(c)
    return {k: selective_metrics(*v).to_dict() for k, v in groups.items()}
