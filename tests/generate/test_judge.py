"""The optional LLM-judge signal of the guard, on the tiny random-weight causal LM (see conftest)."""

from __future__ import annotations

import numpy as np
import pytest

from groundqa.errors import ConfigError
from groundqa.testing import HashEmbedder
from groundqa.verify import Guard, LLMJudgeScorer
from groundqa.pipeline.build import build_stages, make_guard, make_judge
from groundqa.train.calibrate import featurize
from groundqa.datasets.claims import GuardExample
from groundqa.verify.evidence import windows_from_texts

EV = ("Paris is the capital of France.", "The Moon orbits the Earth.", "Water boils at one hundred degrees.")


def test_judge_feature_is_the_yes_no_log_odds(tiny_dir):
    judge = make_judge(str(tiny_dir), int8=False, top_k=2)
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
    assert batch.values[0, 0] == pytest.approx(want, abs=1e-4)  # batched (padded) pass against a single one
    assert "Claim: Paris is the capital of France." in judge._gen.prompt(items[0].text, shown)


def test_bench_guard_takes_a_judge(tiny_dir):
    g = make_guard("none", None, judge=str(tiny_dir), judge_dtype="fp32")
    exs = [GuardExample(f"e{i}", c, EV, lab, None, f"e{i}") for i, (c, lab) in
           enumerate([("Paris is the capital of France.", 1), ("Rome is the capital of France.", 0)])]
    table = featurize(g, exs, show_progress=False)
    ctx = [list(table.features).index(f) for f in ("ans_ctx", "ans_gap")]  # NaN for claims read without a question
    assert "judge" in table.features and np.isfinite(np.delete(table.X, ctx, axis=1)).all()
    from groundqa.train.calibrate import combiner_columns, fit_with_thresholds

    assert table.features.index("judge") in combiner_columns(list(table.features))
    comb = fit_with_thresholds(table.X, table.y, table.features, 0.9, {})
    assert "judge" in comb.features
    with pytest.raises(ConfigError, match="judge dtype"):
        make_guard("none", None, judge=str(tiny_dir), judge_dtype="int4")
    with pytest.raises(ConfigError, match="top_k"):
        make_judge(str(tiny_dir), top_k=0)


def test_batched_choice_logprobs_match_one_prompt_at_a_time(tiny_dir):
    from groundqa.generate import TransformersGenerator

    gen = TransformersGenerator(str(tiny_dir), device="cpu")
    queries = [("Is Paris the capital?", [EV[0]]), ("Does the Moon orbit the Earth, and how often?", list(EV)),
               ("Boils?", [EV[2]]), ("Is Rome the capital of France?", [EV[0], EV[1]])]
    choices = ["yes", "no", "The Moon orbits"]  # one and several tokens
    got = gen.choice_logprobs_batch(queries, choices, batch_size=3)  # prompts of unequal length share a batch
    assert len(got) == len(queries)
    for (q, p), row in zip(queries, got):
        assert row == pytest.approx(gen.choice_logprobs(q, p, choices), abs=1e-4)
    with pytest.raises(ConfigError, match="at least one choice"):
        gen.choice_logprobs_batch(queries[:1], [])
    with pytest.raises(ConfigError, match="batch_size"):
        gen.choice_logprobs_batch(queries[:1], choices, batch_size=0)


def test_guard_takes_a_judge_by_name_or_scorer(tiny_dir):
    # by name through the builder (the TOML's [guard] judge = NAME); the guard itself takes a scorer
    cal = {"format": 1, "features": [], "mean": [], "scale": [], "coef": [], "intercept": 0.0}
    assert "judge" not in Guard(None, embedder=None, calibration=cal).features
    assert "judge" not in Guard(None, embedder=None, calibration=cal, judge="none").features
    g = build_stages({"guard": {"verifier": "none", "calibration": cal, "judge": str(tiny_dir)}, "generator": {"model": str(tiny_dir)}},
                     retriever=object()).guard
    assert g.features[-1] == "judge" and isinstance(g.scorers[-1], LLMJudgeScorer)
    g = Guard(None, embedder=None, calibration=cal, judge=make_judge(str(tiny_dir)))
    assert g.features[-1] == "judge" and isinstance(g.scorers[-1], LLMJudgeScorer)
    with pytest.raises(ConfigError, match="make_judge"):
        Guard(None, embedder=None, calibration=cal, judge=str(tiny_dir))  # a name alone: the guard builds no model
    judge = make_judge(str(tiny_dir), top_k=1, batch_size=2)
    g = Guard(None, embedder=None, calibration=cal, judge=judge)
    assert g.scorers[-1] is judge
    items = g.contexts([("Paris is the capital of France.", "Paris is the capital of France."), ("Snow is black.", "Snow is black.")],
                       windows_from_texts(EV))
    batch = judge.score(items)
    assert batch.values.shape == (2, 1) and np.isfinite(batch.values).all()
    with pytest.raises(ConfigError, match="batch_size"):
        make_judge(str(tiny_dir), batch_size=0)


def test_judge_reads_each_claims_own_windows_within_the_word_budget(tiny_dir):
    judge = make_judge(str(tiny_dir), top_k=2, max_words=12)
    g = Guard(None, embedder=None, calibration={"format": 1, "features": [], "mean": [], "scale": [], "coef": [], "intercept": 0.0})
    windows = windows_from_texts(EV, max_sentences=1)
    a, b = g.contexts([("Paris is the capital of France.", "Paris is the capital of France."), ("Water boils at one hundred degrees.", "Water boils at one hundred degrees.")], windows)
    ta, ia = judge.evidence(a)
    tb, ib = judge.evidence(b)
    assert ta[0] == EV[0] and tb[0] == EV[2] and ia == a.top[0] and ib == b.top[0]
    assert all(sum(len(t.split()) for t in texts) <= 12 or len(texts) == 1 for texts in (ta, tb))


def test_a_judge_guard_loads_the_shipped_judge_calibration_and_a_missing_one_is_named(tiny_dir):
    g = Guard("default", embedder="hash", judge=make_judge(str(tiny_dir)))
    assert "judge" in g._load_combiner().features  # calibration_judge.json; no model is loaded
    with pytest.raises(ConfigError, match="groundqa calibrate"):
        Guard(None, embedder=None, judge=make_judge(str(tiny_dir)))._load_combiner()  # no shipped fit for a judge without the model
