"""A short answer's exact checks see the answer without its citation marks."""

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
