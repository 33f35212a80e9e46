"""Pure metrics (checked against scikit-learn and by hand) and the numpy combiner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groundqa.errors import ConfigError
from groundqa.verify.combiner import Combiner, fit_combiner
from groundqa.metrics.verifier import (
    auroc,
    balanced_accuracy,
    best_balanced_threshold,
    ece,
    f1_unsupported,
    threshold_for_precision,
)


def test_auroc_matches_sklearn_with_ties():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # rounding makes ties
    assert auroc(y, s) == pytest.approx(sk.roc_auc_score(y, s))
    assert np.isnan(auroc([1, 1], [0.2, 0.3]))


def test_hand_computed_metrics():
    y = np.array([1, 1, 0, 0])
    pred = np.array([1, 0, 0, 0])
    assert balanced_accuracy(y, pred) == pytest.approx(0.75)
    # unsupported class: tp=2, fp=1, fn=0 -> 4/5
    assert f1_unsupported(y, pred) == pytest.approx(0.8)
    # two bins: [0.1,0.2] mean .15 vs frac 0 ; [0.8,0.9] mean .85 vs frac 1
    assert ece([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.15)


def test_thresholds():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    s = np.arange(8) / 10
    t = best_balanced_threshold(y, s)
    assert balanced_accuracy(y, (s >= t).astype(int)) == pytest.approx(0.875)
    tp = threshold_for_precision(y, s, 1.0)
    assert tp is not None and 0.2 < tp < 0.3  # the three lowest are all unsupported
    assert threshold_for_precision(np.array([1, 1]), np.array([0.1, 0.2]), 0.9) is None


def test_combiner_fits_and_roundtrips(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=400) > 0).astype(int)
    comb = fit_combiner(X, y, ["a", "b"])
    assert comb.coef[0] > 0 > comb.coef[1]
    assert auroc(y, comb.predict_proba(X)) > 0.95
    path = tmp_path / "c.json"
    comb.save(path)
    again = Combiner.load(path)
    assert np.allclose(again.predict_proba(X), comb.predict_proba(X))
    bad = json.loads(path.read_text())
    bad["format"] = 99
    with pytest.raises(ConfigError, match="format=99"):
        Combiner.from_dict(bad)
    with pytest.raises(ConfigError, match="only one label"):
        fit_combiner(X, np.ones(400), ["a", "b"])
    with pytest.raises(ConfigError, match="does not exist"):
        Combiner.load(tmp_path / "missing.json")


def test_a_signal_a_claim_lacks_reads_as_the_mean():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    X[::4, 1] = np.nan  # a quarter of the claims lack the second signal
    comb = fit_combiner(X, y, ["a", "b"])
    assert np.isfinite(comb.mean).all() and np.isfinite(comb.coef).all()
    with_nan = comb.predict_proba(np.array([[0.5, np.nan]]))
    assert with_nan == pytest.approx(comb.predict_proba(np.array([[0.5, comb.mean[1]]])))
    # a column no claim has fits to no weight and moves nothing
    X[:, 1] = np.nan
    comb = fit_combiner(X, y, ["a", "b"])
    assert comb.coef[1] == pytest.approx(0.0) and np.isfinite(comb.predict_proba(X)).all()


def test_generation_signals_come_back_from_a_judged_claim():
    from groundqa.verify.scorers import GenerationScorer

    signals = {"lex_best": 0.5, "gen_lp_mean": -0.3, "gen_span_score": 1.0, "gen_decline_lp": -6.0}
    assert GenerationScorer.confidence_from(signals) == {"lp_mean": -0.3, "span_score": 1.0, "decline_lp": -6.0}
    assert GenerationScorer.confidence_from({"lex_best": 0.5}) is None
