"""The shipped verifier and calibrations: present, small enough, loadable offline, sensible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.types import Chunk, Passage
from groundqa.verify import Guard
from groundqa.verify.combiner import Combiner
from groundqa.verify.guard import DATA_DIR
from groundqa.verify.reader import DEFAULT_READER_DIR
from groundqa.verify.scorers import DEFAULT_VERIFIER_DIR

TEXT = "The Eiffel Tower was opened in 1889 for the World's Fair. It was designed by the company of Gustave Eiffel."


def test_shipped_files():
    weights = DEFAULT_VERIFIER_DIR / "model.int8.safetensors"  # int8 with a scale per row (issue 23)
    assert weights.exists() and weights.stat().st_size <= 25 * 1024 * 1024
    assert not (DEFAULT_VERIFIER_DIR / "model.safetensors").exists()  # it would take precedence
    meta = json.loads((DEFAULT_VERIFIER_DIR / "groundqa_verifier.json").read_text())
    assert meta["input_order"] == "claim_first"
    assert (DATA_DIR / "README.md").exists()  # the model card
    for name in ("calibration.json", "calibration_reader.json", "calibration_nomodel.json", "calibration_judge.json", "calibration_synthetic.json"):
        comb = Combiner.load(DATA_DIR / name)
        assert 0.0 < comb.threshold < 1.0 and comb.info.get("data")
    assert "judge" in Combiner.load(DATA_DIR / "calibration_judge.json").features
    # the extractive reader (issue 21): int8 like the verifier, read by the default calibration only
    reader = DEFAULT_READER_DIR / "model.int8.safetensors"
    assert reader.exists() and reader.stat().st_size <= 25 * 1024 * 1024
    assert not (DEFAULT_READER_DIR / "model.safetensors").exists() and (DEFAULT_READER_DIR / "README.md").exists()
    assert "rd_span" in Combiner.load(DATA_DIR / "calibration_reader.json").features
    assert not any(f.startswith("rd_") for f in Combiner.load(DATA_DIR / "calibration.json").features)


def test_the_reader_is_opt_in_and_brings_its_own_calibration(real_embedder):
    plain = Guard("default", embedder=real_embedder)
    with_reader = Guard("default", embedder=real_embedder, reader="default")
    assert "rd_span" in with_reader.features and "rd_span" not in plain.features
    assert "rd_span" in with_reader._load_combiner().features  # calibration_reader.json
    assert not any(f.startswith("rd_") for f in plain._load_combiner().features)  # calibration.json


def test_the_shipped_reader_prefers_the_right_span(real_embedder):
    g = Guard("default", embedder=real_embedder, reader="default")
    passages = [Passage(Chunk("c", "eiffel", TEXT, 0, len(TEXT), "eiffel.txt"), 1.0, 1)]
    right = g.verify("When did the Eiffel Tower open?", "1889", passages).claims[0].signals
    wrong = g.verify("When did the Eiffel Tower open?", "Gustave Eiffel", passages).claims[0].signals
    assert wrong["rd_ans"] < right["rd_ans"] <= 0.0 and wrong["rd_span"] < right["rd_span"]



@pytest.fixture(scope="module")
def guard(real_embedder):
    g = Guard("default", embedder=real_embedder)
    g.warm_up()
    return g


def test_default_guard_judges_simple_claims(guard):
    passages = [Passage(Chunk("c", "eiffel", TEXT, 100, 100 + len(TEXT), "eiffel.txt"), 1.0, 1)]
    good = guard.verify("When did the Eiffel Tower open?", "1889", passages)
    bad = guard.verify("When did the Eiffel Tower open?", "1925", passages)
    wrong = guard.verify(None, "The Eiffel Tower was designed by Thomas Edison.", passages)
    assert good.verdict == "supported"
    assert bad.verdict == "unsupported" and wrong.verdict == "unsupported"
    assert good.probability > wrong.probability and good.probability > bad.probability
    cit = good.claims[0].citation
    assert cit.doc_id == "eiffel" and cit.start >= 100 and "1889" in cit.text


def test_shipped_model_ranks_entailment(guard):
    ce = next(s for s in guard.scorers if s.name == "cross_encoder")
    p = ce.predict([
        ("The tower opened in 1889.", TEXT),
        ("The tower opened in 1925.", TEXT),
        ("Gustave Eiffel's company designed the tower.", TEXT),
        ("The tower was not designed by Eiffel's company.", TEXT),
    ])
    assert p[0] > p[1] and p[2] > p[3]
