"""The extractive reader's signals (``rd_ans``, ``rd_span``, ``rd_null``): the arithmetic over span
logits, checked with a reader whose logits are known (a stand-in model that points at one word)."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from groundqa.errors import ModelNotFoundError
from groundqa.verify.claims import qa_claim
from groundqa.verify.evidence import lexical_rank, windows_from_texts
from groundqa.verify.reader import RD_FLOOR, ReaderScorer, _occurrences, load_reader, passage_texts
from groundqa.verify.scorers import DEFAULT_VERIFIER_DIR, ClaimContext

PASSAGE = ("The treaty was signed in Paris in 1763. The delegates had first met in Lyon the year before. "
           "It ended the war between the two crowns.")
QUESTION = "Where was the treaty signed?"


class PointingReader:
    """A reader that puts the whole answer on one word: start and end logit 5 at its first token,
    1 at [CLS] (no answer), 0 elsewhere."""

    def __init__(self, tok, word: str) -> None:
        self.target = tok(word, add_special_tokens=False)["input_ids"][0]

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None):
        import torch

        logits = torch.zeros(input_ids.shape, dtype=torch.float32)
        for b in range(input_ids.shape[0]):
            hits = (input_ids[b] == self.target).nonzero()
            if len(hits):
                logits[b, int(hits[0])] = 5.0
        logits[:, 0] = 1.0
        return SimpleNamespace(start_logits=logits, end_logits=logits.clone())


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(DEFAULT_VERIFIER_DIR))


def claim(answer: str, question: str = QUESTION) -> ClaimContext:
    wins = tuple(windows_from_texts([PASSAGE]))
    text = qa_claim(question, answer)
    return ClaimContext(text, answer, wins, tuple(lexical_rank(text, wins, 4)), asserted=answer)


def test_the_readers_choice_scores_zero_a_rival_span_less_an_absent_answer_the_floor(tok):
    sc = ReaderScorer((PointingReader(tok, "paris"), tok))
    assert sc.features == ("rd_ans", "rd_span", "rd_null")
    rows = sc.score([claim("Paris"), claim("Lyon"), claim("Berlin")]).values
    assert rows[0].tolist() == [0.0, 8.0, -8.0]  # the best span (5 + 5) is the answer; [CLS] 1 + 1
    assert rows[1][0] == -10.0 and rows[1][1] == -2.0  # Lyon's span is 0 + 0
    assert rows[2][0] == RD_FLOOR and rows[2][1] == RD_FLOOR  # no span of the passage
    assert rows[1][2] == rows[2][2] == -8.0  # rd_null does not depend on the answer


def test_nothing_to_point_at_means_no_answer_wins(tok):
    sc = ReaderScorer((PointingReader(tok, "zanzibar"), tok))
    ans, span, null = sc.score([claim("Paris")]).values[0]
    assert ans == 0.0  # every span scores 0: the answer ties with the best
    assert span == -2.0 and null == 2.0  # [CLS] (2) beats every span (0)


def test_a_claim_without_a_question_has_no_reader_signals(tok):
    sc = ReaderScorer((PointingReader(tok, "paris"), tok))
    wins = tuple(windows_from_texts([PASSAGE]))
    sentence = "The treaty was signed in Paris."
    row = sc.score([ClaimContext(sentence, sentence, wins, tuple(lexical_rank(sentence, wins, 4)))]).values[0]
    assert all(math.isnan(v) for v in row)


def test_passages_come_back_from_their_windows():
    wins = windows_from_texts([PASSAGE])
    assert passage_texts(wins) == [PASSAGE]
    # windows of two passages (their passage index differs) give two texts, in order
    two = list(wins) + [replace(w, passage=1, start=w.start + 500, end=w.end + 500) for w in windows_from_texts(["Other text. Two parts."])]
    two = [replace(w, passage=0) if w.passage == -1 else w for w in two]
    assert passage_texts(two) == [PASSAGE, "Other text. Two parts."]


def test_occurrences_ignore_case_and_backticks():
    assert _occurrences("`max_age`", "Set max_age to 600, or MAX_AGE.") == [(4, 11), (23, 30)]
    assert _occurrences("Paris", "no such city") == []


def test_a_folder_without_a_reader_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelNotFoundError, match="reader_train.py"):
        load_reader(tmp_path)


def test_best_span_keeps_within_the_length_and_takes_the_first_on_a_tie():
    from groundqa.verify.reader import best_span

    start = np.array([0.0, 3.0, 0.0, 3.0])
    end = np.array([0.0, 0.0, 0.0, 5.0])
    assert best_span(start, end, 1) == (8.0, 3, 3)  # a one-token span: only (3, 3) reaches the 5
    assert best_span(start, end, 3) == (8.0, 1, 3)  # (1, 3) and (3, 3) tie: the first wins
