import numpy as np
import pytest

from groundqa.errors import ConfigError
from groundqa.index.filters import filter_mask

from .corpus import make_chunks


def ids(mask, chunks):
    return [c.id for c, keep in zip(chunks, mask) if keep]


def test_equality_membership_range_and_special_fields():
    chunks = make_chunks()
    assert ids(filter_mask(chunks, {"title": "oxygen"}), chunks) == ["oxygen-11", "oxygen-12"]
    assert set(ids(filter_mask(chunks, {"title": ["warsaw", "amazon"]}), chunks)) == {"warsaw-03", "warsaw-04", "amazon-09", "amazon-10"}
    assert ids(filter_mask(chunks, {"year": {"$gte": 2015, "$lt": 2016}}), chunks) == ["amazon-09", "amazon-10"]
    assert ids(filter_mask(chunks, {"doc_id": {"$in": ["normans"]}, "lang": "en"}), chunks) == ["normans-05", "normans-06"]
    assert ids(filter_mask(chunks, {"source": "oxygen.md", "lang": {"$ne": "en"}}), chunks) == ["oxygen-12"]  # i=12 is "de"
    assert filter_mask(chunks, None) is None
    assert not filter_mask(chunks, {"missing_field": 1}).any()


def test_range_on_non_numbers_is_false_not_an_error():
    chunks = make_chunks()
    assert not filter_mask(chunks, {"title": {"$gt": 3}}).any()


def test_bad_filters_fail_with_the_fix():
    chunks = make_chunks()
    with pytest.raises(ConfigError, match=r"unknown operator\(s\) \['\$like'\]"):
        filter_mask(chunks, {"title": {"$like": "ox"}})
    with pytest.raises(ConfigError, match=r"\$gte needs a number"):
        filter_mask(chunks, {"year": {"$gte": "2015"}})
    with pytest.raises(ConfigError, match="pass a mapping"):
        filter_mask(chunks, [("title", "x")])
    assert isinstance(filter_mask(chunks, {"title": "x"}), np.ndarray)


def test_unhashable_and_huge_values_are_config_errors_not_crashes():
    """Issue 15: `{"n": {"$in": [[1]]}}` raised TypeError (a 500 in the service)."""
    chunks = make_chunks()
    for bad in ({"n": {"$in": [[1]]}}, {"n": {"$in": [{"a": 1}]}}, {"n": [[1], 2]}):
        with pytest.raises(ConfigError, match="must be strings, numbers, booleans or null"):
            filter_mask(chunks, bad)
    with pytest.raises(ConfigError, match="too large"):
        filter_mask(chunks, {"year": {"$gt": 10**400}})


def test_range_over_ints_beyond_float_range():
    from groundqa.types import Chunk

    chunks = [Chunk(f"c{i}", "d", "t", 0, 1, metadata={"n": v}) for i, v in enumerate([10**400, -(10**400), 5])]
    assert ids(filter_mask(chunks, {"n": {"$gt": 1e300}}), chunks) == ["c0"]
    assert ids(filter_mask(chunks, {"n": {"$lt": 0}}), chunks) == ["c1"]
