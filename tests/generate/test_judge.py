"""The optional LLM-judge signal of the guard, on the tiny random-weight causal LM (see conftest)."""

from __future__ import annotations

import numpy as np
import pytest

from groundqa.errors import ConfigError
from groundqa.testing import HashEmbedder
from groundqa.verify import Guard, LLMJudgeScorer
from groundqa.verify.calibrate import featurize, make_guard
from groundqa.verify.data import GuardExample
from groundqa.verify.evidence import windows_from_texts

EV = ("Paris is the capital of France.", "The Moon orbits the Earth.", "Water boils at one hundred degrees.")


def test_judge_feature_is_the_yes_no_log_odds(tiny_dir):
    judge = LLMJudgeScorer(str(tiny_dir), int8=False, top_k=2)
    assert judge.features == ("judge",)
    g = Guard(None, embedder=HashEmbedder(), extra_scorers=[judge],
              calibration={"format": 1, "features": [], "mean": [], "scale": [], "coef": [], "intercept": 0.0})
    assert g.features[-1] == "judge"
    windows = windows_from_texts(EV)
    items = g.contexts([("Paris is the capital of France.", "Paris is the capital of France.")], windows)
    batch = judge.score(items)
    assert batch.values.shape == (1, 1) and np.isfinite(batch.values).all() and batch.best == [items[0].top[0]]
    # the same number by hand: log P(yes|Yes) - log P(no|No) after the judge's prompt
    shown = [windows[i].text for i in items[0].top[:2]]
    lp = judge._gen.choice_logprobs(items[0].text, shown, ["yes", "Yes", "no", "No"])
    want = np.logaddexp(lp[0], lp[1]) - np.logaddexp(lp[2], lp[3])
    assert batch.values[0, 0] == pytest.approx(want, abs=1e-6)
    assert "Claim: Paris is the capital of France." in judge._gen.prompt(items[0].text, shown)


def test_bench_guard_takes_a_judge(tiny_dir):
    g = make_guard("none", None, judge=str(tiny_dir), judge_dtype="fp32")
    exs = [GuardExample(f"e{i}", c, EV, lab, None, f"e{i}") for i, (c, lab) in
           enumerate([("Paris is the capital of France.", 1), ("Rome is the capital of France.", 0)])]
    table = featurize(g, exs, show_progress=False)
    assert "judge" in table.features and np.isfinite(table.X).all()
    from groundqa.verify.calibrate import combiner_columns, fit_with_thresholds

    assert table.features.index("judge") in combiner_columns(list(table.features))
    comb = fit_with_thresholds(table.X, table.y, table.features, 0.9, {})
    assert "judge" in comb.features
    with pytest.raises(ConfigError, match="judge dtype"):
        make_guard("none", None, judge=str(tiny_dir), judge_dtype="int4")
    with pytest.raises(ConfigError, match="top_k"):
        LLMJudgeScorer(str(tiny_dir), top_k=0)
