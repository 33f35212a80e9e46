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
