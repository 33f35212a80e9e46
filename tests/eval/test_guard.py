"""bench guard's saved feature tables: several runs' columns merge by example id."""

from __future__ import annotations

import numpy as np
import pytest

from groundqa.eval.guard import load_feature_tables
from groundqa.errors import ConfigError
from groundqa.datasets.claims import GuardExample


def _save(path, ids, features, X, seconds):
    np.savez(path, X=np.asarray(X, dtype=float), y=np.array([1, 0, 1]), groups=np.array(ids), features=np.array(features),
             ids=np.array(ids), n_claims=3, seconds=seconds)


def test_tables_merge_column_wise_and_a_later_column_wins(tmp_path):
    ids = ["a", "b", "c"]
    exs = [GuardExample(i, "claim", ("evidence",), 1, None, i) for i in ids]
    _save(tmp_path / "one.npz", ids, ["lex_best", "nli_concat"], [[1, 2], [3, 4], [5, 6]], 2.0)
    _save(tmp_path / "two.npz", ids, ["nli_concat", "judge"], [[7, 8], [9, 10], [11, 12]], 3.0)
    t = load_feature_tables([str(tmp_path / "one.npz"), str(tmp_path / "two.npz")], exs, "data.jsonl")
    assert t.features == ("lex_best", "nli_concat", "judge")
    assert t.X.tolist() == [[1, 7, 8], [3, 9, 10], [5, 11, 12]]
    assert t.seconds == 5.0 and t.ids == ids and t.y.tolist() == [1, 0, 1]
    other = [GuardExample(i, "claim", ("evidence",), 1, None, i) for i in ["a", "b", "x"]]
    with pytest.raises(ConfigError, match="other data"):
        load_feature_tables([str(tmp_path / "one.npz")], other, "data.jsonl")


def test_a_pipeline_answer_file_windows_each_passage_like_the_pipeline(tmp_path):
    import json

    from groundqa.testing import HashEmbedder
    from groundqa.train.calibrate import featurize
    from groundqa.datasets.claims import load_guard_file
    from groundqa.verify.guard import Guard

    passages = ["Paris is the capital of France. It lies on the Seine.", "The Moon orbits the Earth. It has no air."]
    rec = {"id": "q1", "question": "What is the capital of France?", "claim": "Paris", "passages": passages, "label": "supported"}
    f = tmp_path / "answers.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "id": "q2", "claim": "Rome", "label": "unsupported"}) + "\n")
    fmt, exs = load_guard_file(f)
    assert fmt == "plain" and exs[0].evidence == tuple(passages) and exs[0].meta["passages"] and exs[0].question
    g = Guard(None, embedder=HashEmbedder(), calibration={"format": 1, "features": [], "mean": [], "scale": [], "coef": [], "intercept": 0.0})
    seen = []
    real = g.contexts
    g.contexts = lambda claims, windows: seen.append([w.text for w in windows]) or real(claims, windows)
    table = featurize(g, exs, fmt=fmt, show_progress=False)
    # sentence windows inside each passage, never one window per whole passage
    assert "Paris is the capital of France." in seen[0] and passages[0] + " " + passages[1] not in seen[0]
    assert table.y.tolist() == [1, 0]
    f.write_text(json.dumps({"id": "x", "claim": "c", "label": "supported"}) + "\n")
    with pytest.raises(ConfigError, match="claim\\+passages\\+label"):
        load_guard_file(f)
