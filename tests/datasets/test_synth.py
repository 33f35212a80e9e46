"""Synthetic pair generation: every edit changes the claim and gets the right label."""

from __future__ import annotations

import json
import random

from groundqa.datasets.synth import answer_type, negate, pairs_from_qa, pairs_from_squad, perturb_number

CONTEXT = (
    "The Eiffel Tower was opened in 1889 for the World's Fair. It was designed by the company of Gustave Eiffel. "
    "The tower is 330 metres tall. Its design was criticised by Paris artists."
)


def test_edits_change_the_text():
    rng = random.Random(0)
    assert perturb_number("opened in 1889", rng) != "opened in 1889"
    assert perturb_number("no digits", rng) is None
    assert negate("The tower is tall.", rng) == "The tower is not tall."
    assert negate("The tower is not tall.", rng) == "The tower is tall."
    assert answer_type("1889") == "date" and answer_type("330 metres") == "number" and answer_type("Gustave Eiffel") == "name"


def test_pairs_from_qa_labels():
    rng = random.Random(0)
    start = CONTEXT.index("1889")
    pairs = pairs_from_qa("When did the tower open?", "1889", CONTEXT, start, ["1889", "1920", "1750"], rng, "t")
    assert pairs[0].label == 1 and pairs[0].kind == "qa" and "1889" in pairs[0].evidence
    negs = pairs[1:]
    assert negs and all(p.label == 0 for p in negs)
    assert all(p.claim != pairs[0].claim or p.evidence != pairs[0].evidence for p in negs)


def test_pairs_from_squad_deterministic():
    art = {
        "title": "Tower",
        "paragraphs": [
            {"context": CONTEXT, "qas": [{"question": "When did the tower open?", "answers": [{"text": "1889", "answer_start": CONTEXT.index("1889")}]}]},
            {"context": "Paris is the capital of France. It has 2 million people.", "qas": []},
        ],
    }
    a = pairs_from_squad([art], seed=3)
    b = pairs_from_squad([json.loads(json.dumps(art))], seed=3)
    assert a == b and {p.label for p in a} == {0, 1}
