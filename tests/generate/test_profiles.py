"""The generator profiles and the shipped default adapter (checked without loading any weights)."""

from __future__ import annotations

import json

import pytest

from groundqa.errors import ModelNotFoundError
from groundqa.generate.profiles import PROFILES, adapters_dir, resolve_profile

HELD_OUT_V11 = {"Scottish_Parliament", "Sky_(United_Kingdom)", "Southern_California", "Steam_engine", "Super_Bowl_50",
                "Teacher", "United_Methodist_Church", "University_of_Chicago", "Victoria_(Australia)",
                "Victoria_and_Albert_Museum", "Warsaw", "Yuan_dynasty"}


def test_default_profile_is_the_fine_tuned_qwen_05b():
    assert PROFILES["default"].model == "qwen2.5-coder-0.5b"
    model, adapter, _ = resolve_profile("default")
    assert model == "qwen2.5-coder-0.5b" and adapter is not None
    assert resolve_profile("fast")[0] == "smollm2-135m"  # the tests' and CI's small model
    assert resolve_profile("some/hub-id") == ("some/hub-id", None, "auto")


def test_shipped_default_adapter_and_its_card():
    folder = adapters_dir() / PROFILES["default"].adapter
    cfg = json.loads((folder / "adapter_config.json").read_text())
    card = json.loads((folder / "groundqa_card.json").read_text())
    assert (folder / "adapter_model.int8.safetensors").stat().st_size > 1_000_000  # int8 (issue 23)
    assert card["base"] == "qwen2.5-coder-0.5b" and card["method"] == "lora"
    assert cfg["r"] == card["hyperparameters"]["lora_r"]
    assert card["data"]["train_unanswerable"] > 0  # unanswerable examples were trained on
    assert not set(card["data"]["dev_documents"]) & HELD_OUT_V11
    assert card["template"]["decline"] and card["dev"]["after"]["f1"] > card["dev"]["before"]["f1"]
    readme = (folder / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "Apache-2.0" in readme  # the data's and the base model's licences


def test_missing_adapter_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr("groundqa.generate.profiles.adapters_dir", lambda: tmp_path)
    with pytest.raises(ModelNotFoundError, match="--generator qwen2.5-coder-0.5b"):
        resolve_profile("default")


def test_accurate_profile_ships_its_adapter_probe_and_calibration():
    """Issue 21, fourteenth session: the 1.5B adapter as an opt-in profile, with the probe and the
    guard calibration fitted on its own answers (the pipeline hands that calibration to the guard)."""
    from groundqa.verify.combiner import Combiner

    model, adapter, _ = resolve_profile("accurate")
    assert model == "qwen2.5-coder-1.5b" and adapter is not None
    folder = adapters_dir() / PROFILES["accurate"].adapter
    card = json.loads((folder / "groundqa_card.json").read_text())
    assert card["base"] == "qwen2.5-coder-1.5b" and card["decline_margin"] == 0.6
    assert not set(card["data"]["dev_documents"]) & HELD_OUT_V11
    assert (folder / "adapter_model.int8.safetensors").stat().st_size > 1_000_000
    probe = json.loads((folder / "groundqa_probe.json").read_text())
    assert probe["layer"] == 20
    cal = Combiner.load(folder / "groundqa_calibration.json")
    assert "gen_probe" in cal.features and 0.5 < cal.threshold < 0.8
    readme = (folder / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "Apache-2.0" in readme
