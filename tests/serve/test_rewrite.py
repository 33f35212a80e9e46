from __future__ import annotations

import pytest

from groundqa.serve.rewrite import content_words, is_follow_up, rewrite_question

CONV = [
    {"role": "user", "content": "How do I transfer money to another account?"},
    {"role": "assistant", "content": "Open Payments and choose Transfer."},
]


@pytest.mark.parametrize(
    "question,expected",
    [
        ("and how long does that take?", "how long does that take (transfer money another account)?"),
        ("What about fees?", "fees (transfer money another account)?"),
        ("is it free?", "is it free (transfer money another account)?"),
    ],
)
def test_follow_ups_carry_the_topic(question: str, expected: str) -> None:
    r = rewrite_question(question, CONV)
    assert r.rewritten and r.question == expected


@pytest.mark.parametrize("question", ["How do I freeze a lost debit card?", "What is the fee for international card payments?"])
def test_standalone_questions_are_left_alone(question: str) -> None:
    r = rewrite_question(question, CONV)
    assert not r.rewritten and r.question == question


def test_no_conversation_or_no_user_topic() -> None:
    assert not rewrite_question("and how long?", []).rewritten
    assert not rewrite_question("and how long?", [{"role": "assistant", "content": "Hello! How can I help?"}]).rewritten


def test_latest_topical_user_turn_wins() -> None:
    conv = CONV + [{"role": "user", "content": "How do I order a new card?"}, {"role": "user", "content": "thanks"}]
    assert rewrite_question("how long does that take?", conv).topic == ("order", "new", "card")


def test_helpers() -> None:
    assert content_words("How do I reset my password?") == ["reset", "password"]
    assert is_follow_up("and then?") and not is_follow_up("How do I reset my online banking password?")
