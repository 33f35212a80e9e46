"""Helpers of issue 21's analysis scripts: which collected states a probe reads, which collected
answers are new, and where a gold answer first appears among retrieved passages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_extra_states_pick_the_places_the_probe_reads():
    probe = _script("generator_hidden_probe")
    h = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float16)  # answer_mean | prompt_last, 2 values each
    both = {"h": h, "place": np.array("answer_mean,prompt_last")}
    assert probe.extra_states(both, "answer_mean").tolist() == [[1, 2], [5, 6]]
    assert probe.extra_states(both, "prompt_last").tolist() == [[3, 4], [7, 8]]
    assert probe.extra_states(both, "prompt_last,answer_mean").tolist() == [[3, 4, 1, 2], [7, 8, 5, 6]]
    old = {"h": h[:, :2]}  # collected before the place was recorded: the answer mean only
    assert probe.extra_states(old, "answer_mean").tolist() == [[1, 2], [5, 6]]
    with pytest.raises(SystemExit, match="--place prompt_last"):
        probe.extra_states(old, "prompt_last")


def test_fresh_drops_calibration_questions_asked_again_as_the_calibration_set_asked_them():
    probe = _script("generator_hidden_probe")
    e = {"ids": np.array(["q1#k4", "q2#k4", "q1#k6", "q9#k4"])}
    assert probe.fresh(e, {"q1", "q2"}).tolist() == [False, False, True, True]


def test_first_rank_finds_the_first_passage_holding_a_gold_answer():
    recall = _script("calibration_recall")
    texts = ["The default is **5**.", "Use `pip install 'pkg[extra]'` to add it.", "nothing here"]
    assert recall.first_rank(texts, ["pip install pkg[extra]"]) == 1
    assert recall.first_rank(texts, ["The default is 5", "nothing"]) == 0
    assert recall.first_rank(texts, ["absent"]) is None and recall.first_rank(texts, ["  "]) is None
