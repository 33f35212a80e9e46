import pytest

from groundqa.errors import ConfigError
from groundqa.policy import WITHHELD_TEXT, apply_policy, relevance_gate

TEXT = "Warsaw is the capital of Poland [1]. It has 90 million people [2]."
CLAIMS_OK = [(0, 36, True), (37, len(TEXT), True)]
CLAIMS_BAD = [(0, 36, True), (37, len(TEXT), False)]


def test_all_supported_is_returned_under_every_policy():
    for policy in ("return", "flag", "strip", "abstain"):
        d = apply_policy(policy, TEXT, CLAIMS_OK)
        assert (d.text, d.verdict, d.reason) == (TEXT, "supported", None)


def test_unsupported_claim_per_policy():
    assert apply_policy("return", TEXT, CLAIMS_BAD).verdict == "unsupported"
    flagged = apply_policy("flag", TEXT, CLAIMS_BAD)
    assert flagged.text == TEXT and flagged.verdict == "flagged" and "1 of 2 claims" in flagged.reason
    trimmed = apply_policy("strip", TEXT, CLAIMS_BAD)
    assert trimmed.text == "Warsaw is the capital of Poland [1]." and trimmed.verdict == "trimmed" and trimmed.dropped == (1,)
    withheld = apply_policy("abstain", TEXT, CLAIMS_BAD)
    assert withheld.text == WITHHELD_TEXT and withheld.verdict == "withheld"


def test_strip_with_nothing_left_withholds_and_decline_passes():
    d = apply_policy("strip", TEXT, [(0, 36, False), (37, len(TEXT), False)])
    assert d.verdict == "withheld"
    d = apply_policy("abstain", "The documents do not contain the answer.", [], declined=True)
    assert d.verdict == "declined" and d.text.startswith("The documents")


def test_bad_policy_and_relevance_gate():
    with pytest.raises(ConfigError, match="policy='maybe' is not valid; choose one of: return, flag, strip, abstain"):
        apply_policy("maybe", TEXT, CLAIMS_OK)
    assert relevance_gate([], 0.3).startswith("no relevant passage")
    assert "below 0.300" in relevance_gate([0.1, 0.2], 0.3)
    assert relevance_gate([0.1, 0.5], 0.3) is None and relevance_gate([0.1], None) is None


def test_an_answer_without_claims_is_not_supported():
    assert apply_policy("abstain", "Your answer is:", []).verdict == "withheld"
    assert apply_policy("strip", "Your answer is:", []).verdict == "withheld"
    d = apply_policy("flag", "Your answer is:", [])
    assert d.verdict == "flagged" and "no claim" in d.reason
