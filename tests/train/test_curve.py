"""`groundqa finetune --curve`: the learning curve / ROI report (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.errors import ConfigError
from groundqa.train.curve import CurveConfig, parse_sizes, price_per_hour, recommend, run_curve
from groundqa.train.finetune import FinetuneConfig

DATA = Path(__file__).parent / "data_curve_tiny.json"  # 6 invented articles, 3 questions each


def _pt(n, f1, **kw):
    return {"n": n, "f1": f1, "f1_se": 2.0, "examples_seen": n, "examples_per_s": 0.5, "price_per_hour": 2.0} | kw


def test_recommendation_numbers():
    base = {"f1": 10.0}
    pts = [_pt(100, 30.0), _pt(200, 40.0), _pt(400, 45.0), _pt(800, 45.5)]
    r = recommend(base, pts, flat_gain=1.0)
    assert r["gain_over_base"] == 35.5 and r["best_n"] == 800
    assert r["gain_per_100_examples_last_step"] == pytest.approx(100 * 0.5 / 400)
    assert r["last_step"] == [400, 800]
    assert r["flattens_at"] == 800  # 400 -> 800 buys 0.5 F1 per doubling, the first step below 1.0
    # least squares on the last three points (200, 400, 800): slope 2.75 F1 per doubling
    assert r["per_doubling"] == pytest.approx(2.75) and r["fit_points"] == [200, 400, 800] and r["next_n"] == 1600
    # the fit passes through (log2 400, mean 43.5); 1600 is two doublings further: 43.5 + 2 * 2.75 = 49.0
    assert r["fit_expected_gain"] == pytest.approx(3.5) and r["last_doubling_gain"] == pytest.approx(0.5)
    # the fit lags the bend: the expectation takes the last doubling's +0.5
    assert r["next_expected_gain"] == pytest.approx(0.5) and r["next_expected_f1"] == pytest.approx(46.0)
    assert r["next_train_seconds"] == pytest.approx(1600 / 0.5) and r["next_train_cost"] == pytest.approx(1600 / 0.5 / 3600 * 2, abs=1e-4)
    assert "does not pay" in r["verdict"]
    noisy = recommend(base, [_pt(100, 20.0), _pt(200, 30.0), _pt(400, 31.5)])  # +1.5 expected, s.e. 2.0
    assert "not decided" in noisy["verdict"] and "--eval-questions" in noisy["verdict"]
    steep = recommend(base, [_pt(100, 20.0), _pt(200, 30.0), _pt(400, 40.0)])
    assert steep["next_expected_gain"] == pytest.approx(10.0) and "more data still pays" in steep["verdict"]
    flat = recommend(base, [_pt(100, 30.0), _pt(200, 30.2), _pt(400, 30.3)], flat_gain=1.0)
    assert flat["flattens_at"] == 200 and "does not pay" in flat["verdict"]
    one = recommend(base, [_pt(100, 30.0)])
    assert one["gain_per_100_examples_last_step"] == 20.0 and "one point only" in one["verdict"]


def test_price_from_the_flag_or_the_table(tmp_path):
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"cpu": 0.1, "NVIDIA H200": 3.5, "H200": 9.0}))
    assert price_per_hour(CurveConfig(sizes=(1,), cost_per_hour=2.0, price_table=str(table)), "cpu") == (2.0, "--cost-per-hour")
    assert price_per_hour(CurveConfig(sizes=(1,), price_table=str(table)), "cuda:NVIDIA H200")[0] == 3.5  # longest match
    assert price_per_hour(CurveConfig(sizes=(1,), price_table=str(table)), "cuda:A100")[0] is None
    assert price_per_hour(CurveConfig(sizes=(1,)), "cpu")[0] is None


def test_curve_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="grow"):
        CurveConfig(sizes=(16, 8))
    with pytest.raises(ConfigError, match="--curve"):
        parse_sizes("8,a")
    with pytest.raises(ConfigError, match="price_table"):
        CurveConfig(sizes=(8,), price_table=str(tmp_path / "none.json"))


def _cfg(out, base, **kw):
    return FinetuneConfig(**({"data": str(DATA), "base": base, "out": str(out), "lora": True, "lora_r": 2, "batch_size": 2,
                              "grad_accum": 1, "dev_docs": 0.2, "dev_sample": 1, "max_new_tokens": 4, "eval_steps": 50,
                              "threads": 1} | kw))


def test_curve_is_resumable_and_refuses_other_settings(tmp_path, tiny_dir, monkeypatch):
    import groundqa.train.curve as curve_mod

    calls = []
    real = curve_mod.finetune

    def counting(cfg, **kw):
        calls.append(len(kw["split"][0]))
        return real(cfg, **kw)

    monkeypatch.setattr(curve_mod, "finetune", counting)
    out = tmp_path / "c"
    rep = run_curve(_cfg(out, str(tiny_dir)), CurveConfig(sizes=(2, 4), eval_questions=3, cost_per_hour=1.0), log=lambda m: None)
    assert calls == [2, 4]
    assert [p["n"] for p in rep["points"].values()] == [2, 4] and rep["base"]["n"] == 0
    for p in rep["points"].values():
        assert p["seconds"] > 0 and p["cost"] == pytest.approx(p["seconds"] / 3600, abs=1e-4) and p["device"] == "cpu"
        assert p["examples_seen"] >= p["n"] and p["examples_per_s"] > 0 and "perplexity" in p["forgetting"]
        assert {"em", "f1", "answered_rate", "decline_rate", "gold_citation_rate"} <= set(p)
    # the held-out documents are never trained on, and the slices are nested
    s = rep["setup"]
    assert not set(s["eval_docs"]) & set(s["dev_docs"])
    for n in (2, 4):
        card = json.loads((out / f"n{n}" / "groundqa_card.json").read_text())
        assert not set(card["data"]["dev_documents"]) & set(s["eval_docs"]) and card["data"]["train_examples"] == n
    md = (out / "curve.md").read_text()
    assert "| base |" in md and "| 4 |" in md and "Gain per 100 examples" in md and (out / "curve.png").stat().st_size > 1000
    # a rerun with one more size trains only the new point; the base is not evaluated again
    base_seconds = rep["base"]["seconds"]
    rep2 = run_curve(_cfg(out, str(tiny_dir)), CurveConfig(sizes=(2, 4, 6), eval_questions=3, cost_per_hour=1.0), log=lambda m: None)
    assert calls == [2, 4, 6] and rep2["base"]["seconds"] == base_seconds and len(rep2["points"]) == 3
    assert rep2["recommendation"]["fit_points"] == [2, 4, 6]
    with pytest.raises(ConfigError, match="other settings.*seed"):
        run_curve(_cfg(out, str(tiny_dir), seed=5), CurveConfig(sizes=(2,), eval_questions=3), log=lambda m: None)
    with pytest.raises(ConfigError, match="training documents hold"):
        run_curve(_cfg(tmp_path / "big", str(tiny_dir)), CurveConfig(sizes=(500,), eval_questions=3), log=lambda m: None)


@pytest.mark.slow
def test_curve_with_the_fast_model_through_the_cli(tmp_path):
    """The `fast` profile's base model (SmolLM2-135M) on the tiny data: two points and the report."""
    from groundqa.cli import main

    out = tmp_path / "fast"
    rc = main(["finetune", "--data", str(DATA), "--base", "smollm2-135m", "--out", str(out), "--lora", "--lora-r", "4",
               "--curve", "2,4", "--eval-questions", "3", "--dev-docs", "0.2", "--dev-sample", "1", "--batch-size", "2",
               "--grad-accum", "1", "--threads", "1", "--no-progress", "--cost-per-hour", "0.5"])
    assert rc == 0
    rep = json.loads((out / "curve.json").read_text())
    assert rep["base"]["forgetting"]["general_total"] == 6 and rep["price"]["per_hour"] == 0.5
    assert [rep["points"][k]["n"] for k in ("2", "4")] == [2, 4]
    assert rep["total_cost"] == pytest.approx(rep["total_seconds"] / 3600 * 0.5, abs=1e-4)
    assert "Verdict:" in (out / "curve.md").read_text() and (out / "curve.png").exists()
