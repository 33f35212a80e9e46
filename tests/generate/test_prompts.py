"""Prompt building, citation parsing, decline detection, stop strings (pure functions)."""

from __future__ import annotations

import pytest

from groundqa.errors import ConfigError
from groundqa.generate import DECLINE, PromptTemplate, cut_at_stop, is_decline, parse_citations, strip_citations
from groundqa.generate.prompts import truncate_words, window_around


def test_user_message_numbers_passages_and_names_the_decline_sentence():
    t = PromptTemplate()
    msg = t.user_message("Who won?", ["Alpha  beta.", "Gamma\ndelta."])
    assert "[1] Alpha beta.\n[2] Gamma delta." in msg
    assert msg.endswith("Question: Who won?")
    assert DECLINE in msg


def test_template_validation_names_the_field():
    with pytest.raises(ConfigError, match="layout"):
        PromptTemplate(layout="{instruction} {question}")
    with pytest.raises(ConfigError, match="passage_format"):
        PromptTemplate(passage_format="{text}")
    with pytest.raises(ConfigError, match="max_passage_words"):
        PromptTemplate(max_passage_words=-1)


def test_template_round_trips_through_a_dict():
    t = PromptTemplate(system="Be terse.", max_passage_words=5, stop=("###",))
    assert PromptTemplate.from_dict(t.to_dict()) == t
    assert "a b c d e ..." in t.user_message("q", ["a b c d e f g"])


def test_targets():
    t = PromptTemplate()
    assert t.target("Denver  Broncos", 2) == "Denver Broncos [2]"
    assert t.target(None, None) == DECLINE


def test_citations_parsed_in_order_without_repeats_and_in_range():
    assert parse_citations("Paris [2] and Lyon [1][2] [9]", n_passages=3) == (2, 1)
    assert parse_citations("no marks") == ()
    assert strip_citations("Denver Broncos [1].") == "Denver Broncos ."
    assert strip_citations("Denver Broncos [1]") == "Denver Broncos"


def test_decline_detection():
    assert is_decline(DECLINE)
    assert is_decline("the documents do not contain the answer")
    assert is_decline("The documents do not contain the answer. [1]")
    assert not is_decline("The documents say Paris.")
    assert not is_decline("")


def test_cut_at_stop_takes_the_earliest():
    assert cut_at_stop("Paris\n\nQuestion: next", ("Question:", "\n\n")) == ("Paris", True)
    assert cut_at_stop("Paris", ("\n\n",)) == ("Paris", False)


def test_window_around_keeps_the_answer():
    text = " ".join(f"w{i}" for i in range(100)) + " ANSWER here " + " ".join(f"v{i}" for i in range(100))
    s = text.index("ANSWER")
    win = window_around(text, s, s + 6, 20)
    assert "ANSWER" in win and len(win.replace("...", "").split()) <= 20
    assert truncate_words("a b c", 5) == "a b c"
