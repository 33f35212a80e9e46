"""A short answer's exact checks see the answer without its citation marks."""

import math

import pytest

from groundqa.types import Chunk, Passage
from groundqa.verify.claims import claim_focus, split_claims


def test_focus_of_a_cited_short_answer_drops_the_mark():
    answer = "1884 [1]"
    (claim,) = split_claims(answer, "In what year did Tesla emigrate?")
    assert claim.with_question and claim_focus(claim, answer) == "1884"


def test_guard_does_not_call_the_citation_number_missing(real_embedder):
    from groundqa.verify.guard import Guard

    text = "In 1884, Tesla emigrated to the United States."
    p = Passage(Chunk("c1", "tesla", text, 0, len(text)), 1.0, 1)
    result = Guard(None, embedder=real_embedder).verify("In what year did Tesla emigrate to the United States?", "1884 [1]", [p])
    (claim,) = result.claims
    assert not any("'1'" in r for r in claim.reasons)
    assert claim.supported


def test_a_bare_yes_or_no_asserts_the_question():
    from groundqa.verify.claims import is_yes_no

    q = "Are Wenling and Xinzheng both in China?"
    for answer in ("yes", "No.", " Yes "):
        (claim,) = split_claims(answer, q)
        assert is_yes_no(answer) and claim_focus(claim, answer) == q
    (claim,) = split_claims("Nottingham", q)
    assert claim_focus(claim, "Nottingham") == "Nottingham" and not is_yes_no("Yes, both are.")


def test_guard_finds_a_yes_answers_words_in_the_evidence(real_embedder):
    from groundqa.verify.guard import Guard

    text = "Wenling is a city in Zhejiang, China. Xinzheng is a city in Henan, China."
    p = Passage(Chunk("c1", "cities", text, 0, len(text)), 1.0, 1)
    g = Guard(None, embedder=real_embedder)
    result = g.verify("Are Wenling and Xinzheng both in China?", "yes", [p])
    (claim,) = result.claims
    sig = claim.signals
    assert sig["focus_all"] == 1.0 and sig["missing_names"] == 0.0 and sig["log_len"] == pytest.approx(math.log(2))
    wrong = g.verify("Are Wenling and Xinzheng both in Japan?", "yes", [p]).claims[0]
    assert wrong.signals["focus_all"] < 1.0 and wrong.probability < claim.probability


def test_a_yes_is_one_word_long_for_the_length_signal():
    from groundqa.verify.claims import claim_inputs

    q = "Were Up and The Watercolor released in the same year?"
    (claim,) = split_claims("yes", q)
    text, focus, asserted = claim_inputs(claim, "yes")
    assert text == q + " yes" and focus == q and asserted == "yes"
    (claim,) = split_claims("1884 [1]", q)
    assert claim_inputs(claim, "1884 [1]")[1:] == ("1884", "1884")


def test_segments_lend_the_subject_only_to_a_clause_without_one():
    from groundqa.verify.claims import claim_segments

    segs = claim_segments("The redback spider has a widespread distribution in Australia, and inadvertent introductions have led to colonies in Japan.")
    assert segs == ["The redback spider has a widespread distribution in Australia", "inadvertent introductions have led to colonies in Japan."]
    segs = claim_segments("The offer was also extended to Criss Oliva, and also declined as he did not want to leave Savatage.")
    assert segs[1] == "The offer also declined as he did not want to leave Savatage."
    assert claim_segments("Paris is the capital of France.") == ["Paris is the capital of France."]
