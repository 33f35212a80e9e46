"""Claim splitting, citation marks, short answers, and the lexical normalisation."""

from __future__ import annotations

import pytest

from groundqa.verify.claims import qa_claim, split_claims, strip_citations
from groundqa.verify.lexical import normalise_number, units, word_overlap


def test_split_keeps_spans_and_drops_citations():
    answer = "The tower opened in 1889 [1]. It is 330 metres tall [2, 3]."
    claims = split_claims(answer)
    assert [c.text for c in claims] == ["The tower opened in 1889.", "It is 330 metres tall."]
    assert [c.citations for c in claims] == [(1,), (2, 3)]
    for c in claims:
        assert answer[c.start : c.end].startswith(c.text.split()[0])


def test_short_answer_is_read_with_its_question():
    claims = split_claims("1889", "When did the Eiffel Tower open?")
    assert len(claims) == 1 and claims[0].with_question
    assert claims[0].text == "When did the Eiffel Tower open? 1889"
    assert (claims[0].start, claims[0].end) == (0, 4)
    assert qa_claim("Who wrote it", "Tolstoy") == "Who wrote it? Tolstoy"


def test_long_answer_is_not_merged_with_question_and_empty_answer_has_no_claims():
    claims = split_claims("Paris is the capital of France. It lies on the Seine.", "Where is Paris?")
    assert len(claims) == 2 and not any(c.with_question for c in claims)
    assert split_claims("   ") == []


def test_strip_citations():
    assert strip_citations("Oxygen was found [12].") == ("Oxygen was found.", (12,))


@pytest.mark.parametrize(
    "tok,expected",
    [("1,000", "1000"), ("3.50", "3.5"), ("1990s", "1990"), ("21st", "21"), ("seven", "7"), ("007", "7"), ("word", None)],
)
def test_normalise_number(tok, expected):
    assert normalise_number(tok) == expected


def test_units_numbers_dates_names_negation():
    u = units("In March 1889, Gustave Eiffel did not open 3 million doors.")
    assert "1889" in u.dates and "month3" in u.dates
    assert {"1889", "3", "3000000"} <= set(u.numbers)
    assert "eiffel" in u.names and u.negated
    assert not units("The tower opened.").negated


def test_word_overlap_uses_stems_and_number_formats():
    assert word_overlap("The towers opened with 1,000 visitors", "the tower was opening; 1000 visitor came") == 1.0
    assert word_overlap("Berlin is large", ["Paris is large"]) == 0.5
