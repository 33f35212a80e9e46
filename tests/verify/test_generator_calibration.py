"""A generator that ships a guard calibration fitted on its own answers gives it to a guard left on
the default one (issue 21: the 1.5B candidates of recipes/qwen15_accurate); an explicit calibration always wins."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from groundqa.errors import ConfigError
from groundqa.generate import TransformersGenerator
from groundqa.generate.probe import CALIBRATION_FILE
from groundqa.index import HybridIndex
from groundqa.pipeline import Pipeline
from groundqa.testing import ExtractiveGenerator, HashEmbedder
from groundqa.verify import Guard
from groundqa.verify.guard import DATA_DIR

from ..index.corpus import make_chunks


def _calibration(path: Path, feature: str = "lex_best", threshold: float = 0.123) -> Path:
    path.write_text(json.dumps({"format": 1, "features": [feature], "mean": [0.5], "scale": [0.2], "coef": [1.0],
                                "intercept": 0.0, "threshold": threshold, "thresholds": {"precision": threshold}}))
    return path


def test_a_default_guard_takes_the_generators_calibration(tmp_path):
    cal = _calibration(tmp_path / CALIBRATION_FILE)
    g = Guard("default", embedder=None)  # the shipped verifier; nothing loads until warm_up
    assert g.calibration_name == "default"
    assert g.use_generator_calibration(cal) is True
    assert g._load_combiner().threshold == pytest.approx(0.123)
    assert g.calibration_name == f"{tmp_path.name}/{CALIBRATION_FILE}"
    assert g.use_generator_calibration(None) is False  # a generator without one changes nothing
    assert g._load_combiner().threshold == pytest.approx(0.123)


def test_an_explicit_calibration_or_other_signals_keep_their_own(tmp_path):
    cal = _calibration(tmp_path / CALIBRATION_FILE)
    mine = _calibration(tmp_path / "mine.json", threshold=0.77)
    explicit = Guard("default", embedder=None, calibration=str(mine))
    assert explicit.use_generator_calibration(cal) is False and explicit._load_combiner().threshold == pytest.approx(0.77)
    # without the shipped verifier the default is calibration_nomodel.json, fitted on other signals
    lexical = Guard(None, embedder=None)
    assert lexical.use_generator_calibration(cal) is False
    assert lexical._default_path() == DATA_DIR / "calibration_nomodel.json"


def test_a_generator_calibration_with_signals_the_guard_lacks_names_the_fix(tmp_path):
    cal = _calibration(tmp_path / CALIBRATION_FILE, feature="not_a_signal")
    g = Guard("default", embedder=None)
    g.use_generator_calibration(cal)
    with pytest.raises(ConfigError, match="generator's calibration .*not_a_signal.*remove that file"):
        g._load_combiner()


def test_transformers_generator_finds_the_file_beside_its_adapter(tmp_path):
    model = SimpleNamespace(config=SimpleNamespace(is_encoder_decoder=False))
    tok = SimpleNamespace(pad_token="<pad>", eos_token="<eos>")
    gen = TransformersGenerator.from_model(model, tok)
    assert gen.calibration_path is None
    gen._adapter = str(tmp_path)
    assert gen.calibration_path is None  # the folder has none
    _calibration(tmp_path / CALIBRATION_FILE)
    assert gen.calibration_path == tmp_path / CALIBRATION_FILE
    assert TransformersGenerator("default").calibration_path is None  # not loaded: nothing is read


class _Recorder:
    """A guard that records the calibration it was handed before each pass."""

    accepts_generation = False
    verifier_name = "recorder"

    def __init__(self) -> None:
        self.handed: list[object] = []
        self.calibration_name = "default"

    def use_generator_calibration(self, path: object) -> bool:
        self.handed.append(path)
        if path is not None:
            self.calibration_name = f"gen:{Path(str(path)).name}"
        return path is not None

    def verify_batch(self, items, generation=None):
        from groundqa.testing import KeywordGuard

        assert self.handed, "the pipeline verified before handing over the generator's calibration"
        return KeywordGuard().verify_batch(items)


def test_the_pipeline_hands_the_generators_calibration_to_its_guard(tmp_path):
    idx = HybridIndex(HashEmbedder())
    idx.add(make_chunks())
    gen = ExtractiveGenerator()
    gen.calibration_path = _calibration(tmp_path / CALIBRATION_FILE)  # type: ignore[attr-defined]
    guard = _Recorder()
    a = Pipeline(idx, gen, guard, top_k=2).ask("Who discovered oxygen?")
    assert guard.handed[-1] == tmp_path / CALIBRATION_FILE
    assert a.models["calibration"] == f"gen:{CALIBRATION_FILE}"  # each answer names what scored it
