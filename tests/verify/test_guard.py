"""The guard end to end with fakes: hash embedder, a tiny random-weight cross-encoder, a fitted combiner."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from groundqa.errors import ConfigError
from groundqa.testing import HashEmbedder
from groundqa.types import Chunk, Passage
from groundqa.verify import Guard
from groundqa.pipeline.build import make_guard
from groundqa.train.calibrate import featurize, fit_with_thresholds
from groundqa.datasets.claims import GuardExample, load_guard_file
from groundqa.verify.evidence import evidence_windows, windows_from_texts
from groundqa.verify.scorers import CrossEncoderScorer, entailment_index

DOC = "Intro text. The Eiffel Tower opened in 1889. It is 330 metres tall. Gustave Eiffel's company built it."


def _passages():
    start = DOC.index("The Eiffel")
    text = DOC[start:]
    return [Passage(Chunk("c1", "d1", text, start, len(DOC), "eiffel.txt"), 1.0, 1)]


def _examples():
    ev = ("The Eiffel Tower opened in 1889.", "It is 330 metres tall.", "Gustave Eiffel's company built it.")
    out = []
    for i in range(12):
        out.append(GuardExample(f"s{i}", ["The Eiffel Tower opened in 1889.", "The tower is 330 metres tall.", "Eiffel's company built the tower."][i % 3], ev, 1, None, f"s{i}"))
        out.append(GuardExample(f"u{i}", ["The Eiffel Tower opened in 1925.", "The tower is painted bright green.", "Napoleon built the tower in Rome."][i % 3], ev, 0, None, f"u{i}"))
    return out


@pytest.fixture(scope="module")
def fitted_guard():
    g = make_guard("none", HashEmbedder())
    table = featurize(g, _examples(), show_progress=False)
    comb = fit_with_thresholds(table.X, table.y, table.features, 0.9, {"data": "test"})
    return Guard(None, embedder=HashEmbedder(), calibration=comb.to_dict())


def test_windows_spans_point_into_the_document():
    for w in evidence_windows(_passages()):
        assert DOC[w.start : w.end] == w.text and w.doc_id == "d1"
    ws = windows_from_texts(["A b.", "C d."], pre_split=True)
    assert [w.text for w in ws] == ["A b.", "A b. C d.", "C d."]


def test_verify_supported_and_unsupported(fitted_guard):
    res = fitted_guard.verify("How tall is it?", "The Eiffel Tower opened in 1889 [1]. It is painted bright green.", _passages())
    assert [c.verdict for c in res.claims] == ["supported", "unsupported"]
    assert res.verdict == "unsupported" and res.probability == min(c.probability for c in res.claims)
    cit = res.claims[0].citation
    assert cit is not None and cit.doc_id == "d1" and DOC[cit.start : cit.end] == cit.text and "1889" in cit.text
    assert res.claims[1].reasons  # an unsupported claim says why


def test_missing_number_is_vetoed_with_reason(fitted_guard):
    res = fitted_guard.verify(None, "The Eiffel Tower opened in 1925.", _passages())
    c = res.claims[0]
    assert c.verdict == "unsupported" and any("1925" in r for r in c.reasons)
    assert c.probability < fitted_guard.threshold


def test_short_answer_and_empty_answer(fitted_guard):
    res = fitted_guard.verify("When did the Eiffel Tower open?", "1889", _passages())
    assert len(res.claims) == 1 and (res.claims[0].start, res.claims[0].end) == (0, 4)
    assert res.claims[0].verdict == "supported"
    assert fitted_guard.verify("q?", "", _passages()).verdict == "no_claims"
    batch = fitted_guard.verify_batch([("q?", "1925", _passages()), (None, "The tower is 330 metres tall.", _passages())])
    assert [r.verdict for r in batch] == ["unsupported", "supported"]
    json.dumps(batch[0].to_dict())


def test_calibration_must_match_the_signals(fitted_guard):
    cal = fitted_guard.combiner.to_dict()
    g = Guard(None, embedder=None, calibration=cal)
    with pytest.raises(ConfigError, match="emb_best"):
        g.warm_up()
    with pytest.raises(ConfigError, match="top_k=0"):
        Guard(None, top_k=0)
    with pytest.raises(ConfigError, match="threshold=2"):
        Guard(None, embedder=HashEmbedder(), calibration=cal, threshold=2).threshold


def test_entailment_label_detection():
    assert entailment_index({0: "entailment", 1: "neutral", 2: "contradiction"}) == 0
    assert entailment_index({0: "not_supported", 1: "supported"}) == 1
    assert entailment_index({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}) == 2
    assert entailment_index({0: "LABEL_0", 1: "LABEL_1"}) == 1
    assert entailment_index({0: "consistent"}) is None


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A random-weight 2-layer BERT classifier with MiniLM's tokenizer, built from a config."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from groundqa.models import resolve_model

    path = tmp_path_factory.mktemp("tiny_ce")
    tok = AutoTokenizer.from_pretrained(str(resolve_model("minilm-l6").path))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=2, id2label={0: "not_supported", 1: "supported"}, label2id={"not_supported": 0, "supported": 1})
    BertForSequenceClassification(cfg).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    (path / "groundqa_verifier.json").write_text(json.dumps({"input_order": "claim_first", "name": "tiny"}))
    return path


def test_cross_encoder_plumbing(tiny_cross_encoder):
    ce = CrossEncoderScorer(str(tiny_cross_encoder), top_k=2)
    p = ce.predict([("a claim", "some evidence"), ("another", "text"), ("a claim", "some evidence")])
    assert p.shape == (3,) and np.all((p > 0) & (p < 1)) and p[0] == pytest.approx(p[2], abs=1e-6)
    g = make_guard(str(tiny_cross_encoder), HashEmbedder())
    table = featurize(g, _examples(), show_progress=False)
    from groundqa.train.calibrate import GENERATION_FEATURES

    feats = [f for f in g.features if f not in GENERATION_FEATURES]  # no generator here
    assert table.X.shape == (24, len(feats)) and "nli_best" in g.features
    # every signal is a number, but the answer context of claims read without a question (NaN: the combiner's mean)
    ctx = [feats.index("ans_ctx"), feats.index("ans_gap")]
    assert np.isfinite(np.delete(table.X, ctx, axis=1)).all() and np.isnan(table.X[:, ctx]).all()
    with pytest.raises(Exception, match="neither 'default'"):
        CrossEncoderScorer("no/such/folder/x").warm_up()


def test_bench_and_calibrate_cli(tmp_path):
    data = tmp_path / "plain.jsonl"
    with open(data, "w") as f:
        for ex in _examples() * 2:
            f.write(json.dumps({"id": ex.id + str(len(ex.claim)), "claim": ex.claim, "evidence": list(ex.evidence), "label": "supported" if ex.label else "unsupported"}) + "\n")
    fmt, exs = load_guard_file(data)
    assert fmt == "plain" and len(exs) == 48
    out = tmp_path / "m.json"
    r = subprocess.run([sys.executable, "-m", "groundqa", "bench", "guard", "--data", str(data), "--verifier", "none", "--embedder", "hash", "--json", str(out), "--report", str(tmp_path / "rep")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = json.loads(out.read_text())
    for k in ("balanced_accuracy", "auroc", "f1_unsupported", "ece", "claims_per_s", "baselines"):
        assert k in m
    assert set(m["baselines"]) == {"claim_length", "word_overlap", "embedding_cosine"}
    assert (tmp_path / "rep" / "pr_unsupported.png").exists() and (tmp_path / "rep" / "reliability.png").exists()
    cal = tmp_path / "cal.json"
    r = subprocess.run([sys.executable, "-m", "groundqa", "calibrate", "--data", str(data), "--verifier", "none", "--embedder", "hash", "--out", str(cal)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    g = Guard(None, embedder=HashEmbedder(), calibration=cal)
    assert 0 < g.threshold < 1 and "precision" in g.combiner.thresholds
    r = subprocess.run([sys.executable, "-m", "groundqa", "calibrate", "--data", str(tmp_path / "nope.jsonl"), "--out", str(cal)], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_quantized_cross_encoder_runs(tiny_cross_encoder):
    ce = CrossEncoderScorer(str(tiny_cross_encoder), quantize=True)
    p = ce.predict([("a claim", "some evidence")])
    assert p.shape == (1,) and 0 < p[0] < 1


def test_generation_signals_move_the_probability_and_are_neutral_when_absent():
    """A combiner fitted with the generator's confidence: a confident answer scores higher than a
    doubtful one with the same words; without signals the columns take the calibration mean."""
    from groundqa.train.calibrate import COMBINER_FEATURES, GENERATION_FEATURES

    g = make_guard("none", HashEmbedder())
    ex = _examples()
    table = featurize(g, ex, show_progress=False)
    rng = np.random.default_rng(0)
    gen = np.where(table.y[:, None] == 1, rng.normal(-0.2, 0.1, (len(ex), len(GENERATION_FEATURES))), rng.normal(-2.5, 0.3, (len(ex), len(GENERATION_FEATURES))))
    assert not set(GENERATION_FEATURES) & set(table.features)  # claim benchmarks have no generator
    X = np.hstack([table.X, gen])
    feats = table.features + GENERATION_FEATURES
    comb = fit_with_thresholds(X, table.y, feats, 0.9, {"data": "test"}, wanted=COMBINER_FEATURES + GENERATION_FEATURES)
    assert set(GENERATION_FEATURES) <= set(comb.features)
    guard = Guard(None, embedder=HashEmbedder(), calibration=comb.to_dict())
    item = ("When did it open?", "1889", _passages())
    sure = {"lp_mean": -0.1, "lp_min": -0.2, "margin_min": -0.1, "span_score": 1.0}
    doubt = {"lp_mean": -3.0, "lp_min": -4.0, "margin_min": -3.0, "span_score": 0.0}
    hi, lo = guard.verify_batch([item, item], generation=[sure, doubt])
    assert hi.probability > lo.probability
    assert hi.claims[0].signals["gen_lp_mean"] == -0.1
    if not lo.claims[0].supported:  # reasons are given for unsupported claims
        assert any("not a span" in r for r in lo.claims[0].reasons)
    plain = guard.verify(*item)
    assert "gen_lp_mean" not in plain.claims[0].signals  # absent, not NaN (the JSON stays valid)
    json.dumps(plain.to_dict(), allow_nan=False)
    with pytest.raises(ConfigError, match="one per item"):
        guard.verify_batch([item], generation=[sure, doubt])


def test_threshold_none_takes_the_calibrations_own_and_balanced_the_balanced_one():
    """The shipped calibration's own threshold is its target-precision one (issue 21); 'balanced'
    used to name the same key, so it could not reach the balanced threshold."""
    cal = {"format": 1, "features": ["lex_best"], "mean": [0.5], "scale": [0.2], "coef": [1.0], "intercept": 0.0,
           "threshold": 0.8, "thresholds": {"balanced": 0.4, "precision": 0.8, "target_precision": 0.9}}
    assert Guard(None, embedder=None, calibration=cal).threshold == 0.8
    assert Guard(None, embedder=None, calibration=cal, threshold="balanced").threshold == 0.4
    assert Guard(None, embedder=None, calibration=cal, threshold="precision").threshold == 0.8
    shipped = json.loads((__import__("groundqa.verify.guard", fromlist=["DATA_DIR"]).DATA_DIR / "calibration.json").read_text())
    assert shipped["threshold"] == shipped["thresholds"]["precision"]
    assert {"gen_lp_mean", "gen_lp_min", "gen_margin_min"} <= set(shipped["features"])  # fitted with the generator's confidence
