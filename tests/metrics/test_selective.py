"""Selective-answer metrics (issue 21): coverage at a precision, the risk-coverage curve, AURC."""

from __future__ import annotations

import pytest

from groundqa.metrics.selective import aurc, coverage_at_precision, per_domain, risk_coverage, selective_metrics, threshold_at_precision


def test_coverage_at_precision_counts_every_question():
    # 10 questions: 2 declined (None), scores ranked right, right, wrong, right, ...
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, None, None]
    correct = [True, True, False, True, True, False, False, True, False, False]
    pts = risk_coverage(scores, correct)
    assert [p.returned for p in pts] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert pts[1].precision == 1.0 and pts[2].precision == pytest.approx(2 / 3)
    assert coverage_at_precision(scores, correct, 0.95) == pytest.approx(0.2)
    assert coverage_at_precision(scores, correct, 0.80) == pytest.approx(0.5)  # 4 of 5 right
    assert threshold_at_precision(scores, correct, 0.80) == pytest.approx(0.5)
    assert coverage_at_precision(scores, correct, 1.01) == 0.0
    m = selective_metrics(scores, correct)
    assert m.n == 10 and m.scored == 8 and m.max_coverage == pytest.approx(0.8) and m.precision_at_max == pytest.approx(5 / 8)


def test_aurc_is_zero_for_a_perfect_ranking_and_grows_with_early_errors():
    assert aurc([0.9, 0.8, 0.1], [True, True, False]) == pytest.approx((0 + 0 + 1 / 3) / 3)
    worse = aurc([0.9, 0.8, 0.1], [False, True, True])
    assert worse > aurc([0.9, 0.8, 0.1], [True, True, False])
    assert aurc([0.9, 0.8], [True, True]) == 0.0
    assert aurc([None, None], [False, False]) == 0.0


def test_ties_move_together():
    pts = risk_coverage([0.5, 0.5, 0.5, 0.9], [True, False, True, True])
    assert [p.returned for p in pts] == [1, 4]


def test_per_domain_and_bad_input():
    out = per_domain([("a", 0.9, True), ("b", 0.2, False), ("b", None, False)])
    assert out["a"]["coverage_at_95"] == 1.0 and out["b"]["coverage_at_90"] == 0.0 and out["all"]["n"] == 3
    with pytest.raises(ValueError, match="one entry per question"):
        risk_coverage([0.1], [True, False])
