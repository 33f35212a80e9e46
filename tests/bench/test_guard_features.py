"""bench guard's saved feature tables: several runs' columns merge by example id."""

from __future__ import annotations

import numpy as np
import pytest

from groundqa.bench.guard import load_feature_tables
from groundqa.errors import ConfigError
from groundqa.verify.data import GuardExample


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
