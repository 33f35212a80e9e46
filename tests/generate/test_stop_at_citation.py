"""Decoding stops once the answer's citation number is complete: the closing bracket and the
end-of-text token are certain then, and cost two of a short answer's eight decoding steps."""

from __future__ import annotations

import pytest

from groundqa.generate.hf import _complete_citation, _StopOnStrings, close_citation


@pytest.mark.parametrize("text, shown, done", [
    ("1884 [1", 4, True),           # no passage 10..19 is shown: the number is complete
    ("1884 [4", 4, True),
    ("1884 [1", 12, False),         # [1 could still become [10], [11] or [12]
    ("1884 [12", 12, True),
    ("1884 [5", 4, False),          # names no shown passage: let the model go on
    ("1884 [0", 4, False),
    ("1884 [1]", 4, False),         # already closed: eos or a stop string ends it
    ("1884", 4, False),
    ("a list [1, 2", 4, False),
])
def test_a_citation_number_is_complete_when_no_digit_could_extend_it(text, shown, done):
    assert _complete_citation(text, shown) is done


def test_close_citation_adds_only_the_missing_bracket():
    assert close_citation("1884 [1") == "1884 [1]"
    assert close_citation("1884 [1]") == "1884 [1]"
    assert close_citation("I cannot answer.") == "I cannot answer."


class _Tok:
    """Token i decodes to PIECES[i]."""

    PIECES = ["<eos>", "188", "4", " [", "1", "]", "Question", ":"]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.PIECES[int(i)] for i in ids if not (skip_special_tokens and int(i) == 0))


def test_each_row_stops_at_its_own_complete_citation():
    import torch

    crit = _StopOnStrings(_Tok(), prompt_len=1, stop=("Question:",), eos_ids={0}, cited=[4, 12])
    # row 0 shows 4 passages: "[1" is complete; row 1 shows 12: "[1" may go on
    ids = torch.tensor([[7, 1, 2, 3, 4], [7, 1, 2, 3, 4]])
    assert crit(ids, None).tolist() == [True, False]


def test_without_cited_only_stop_strings_and_eos_end_a_row():
    import torch

    crit = _StopOnStrings(_Tok(), prompt_len=1, stop=("Question:",), eos_ids={0})
    assert crit(torch.tensor([[7, 1, 2, 3, 4]]), None).tolist() == [False]
    crit = _StopOnStrings(_Tok(), prompt_len=1, stop=("Question:",), eos_ids={0})
    assert crit(torch.tensor([[7, 1, 6, 7, 0]]), None).tolist() == [True]
