import pytest

from groundqa.errors import ConfigError
from groundqa.index import fusion


def test_rrf_hand_computed():
    # a: ranks 1 and 2 -> 1/61 + 1/62; b: ranks 2 and 1 -> same; c: rank 3 in the first list only
    fused = dict(fusion.rrf([["a", "b", "c"], ["b", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)


def test_rrf_weights_and_ties_keep_first_appearance():
    ranked = fusion.rrf([["a", "b"], ["b", "a"]], k=0)
    assert [key for key, _ in ranked] == ["a", "b"]  # equal scores: order of first appearance
    ranked = fusion.rrf([["a", "b"], ["b", "a"]], k=0, weights=[1.0, 3.0])
    # b: 1/2 + 3/1 = 3.5 ; a: 1/1 + 3/2 = 2.5
    assert ranked == [("b", pytest.approx(3.5)), ("a", pytest.approx(2.5))]


def test_weighted_minmax():
    fused = dict(fusion.weighted([{"a": 10.0, "b": 5.0, "c": 0.0}, {"b": 0.9, "c": 0.5}], weights=[1.0, 2.0]))
    # list 1 -> a 1, b .5, c 0 ; list 2 -> b 1, c 0
    assert fused == {"a": pytest.approx(1.0), "b": pytest.approx(2.5), "c": pytest.approx(0.0)}
    assert fusion.minmax({"x": 3.0, "y": 3.0}) == {"x": 1.0, "y": 1.0}
    assert fusion.minmax({}) == {}


def test_bad_arguments_name_the_problem():
    with pytest.raises(ConfigError, match="one weight per retriever"):
        fusion.rrf([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ConfigError, match="rrf k=-1"):
        fusion.rrf([["a"]], k=-1)
    with pytest.raises(ConfigError, match="weights must be >= 0"):
        fusion.weighted([{"a": 1.0}], weights=[-1.0])
