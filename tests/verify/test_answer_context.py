"""The answer-context signals (``ans_ctx``, ``ans_gap``): does the answer sit where the question is?"""

from __future__ import annotations

import math

import numpy as np

from groundqa.verify.claims import qa_claim
from groundqa.verify.evidence import lexical_rank, windows_from_texts
from groundqa.verify.scorers import ClaimContext, LexicalScorer, answer_context

PASSAGE = (
    "The Eiffel Tower was built for the 1889 World's Fair in Paris. "
    "Gustave Eiffel's company designed and built it over two years. "
    "In 1957 a radio antenna was added to the top, making the tower taller. "
    "The tower receives about seven million visitors every year."
)
QUESTION = "When was a radio antenna added to the Eiffel Tower?"


def ctx(answer: str, question: str = QUESTION, passage: str = PASSAGE) -> ClaimContext:
    wins = tuple(windows_from_texts([passage]))
    text = qa_claim(question, answer)
    return ClaimContext(text, answer, wins, tuple(lexical_rank(text, wins, 4)), asserted=answer)


def test_right_answer_sits_in_the_sentence_that_matches_the_question():
    right = answer_context(ctx("1957"))
    wrong = answer_context(ctx("1889"))  # a year of the passage, in a sentence about something else
    assert right[0] > wrong[0] and right[1] < wrong[1]
    assert right[1] == 0.0  # no window covers the question better than the answer's own
    assert 0.0 <= wrong[0] <= 1.0 and wrong[1] > 0.0


def test_an_answer_no_window_holds_scores_zero_and_the_whole_gap():
    c, g = answer_context(ctx("1962"))
    assert c == 0.0 and g > 0.5


def test_markdown_and_case_do_not_hide_the_answer():
    passage = "Configuration\n\nSet the `max_age` option to **600** seconds to cache preflight responses for CORS."
    c, g = answer_context(ctx("`600`", "How many seconds does the CORS max_age option cache preflight responses?", passage))
    assert c > 0.5 and g == 0.0


def test_a_claim_without_a_question_has_no_answer_context():
    wins = tuple(windows_from_texts([PASSAGE]))
    sentence = "The tower was built for the 1889 World's Fair."
    c = ClaimContext(sentence, sentence, wins, tuple(lexical_rank(sentence, wins, 4)))
    assert all(math.isnan(v) for v in answer_context(c))
    row = LexicalScorer().score([c, ctx("1957")]).values
    names = LexicalScorer.features
    assert np.isnan(row[0, names.index("ans_ctx")]) and row[1, names.index("ans_ctx")] > 0.5
