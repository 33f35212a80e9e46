"""The official SQuAD metrics, checked by hand and on committed samples of the BERT predictions.

The full-file reproduction (EM 86.2 / F1 92.2 on v1.1, 78.7 / 81.8 on v2.0) lives in
benchmarks/generator_squad_metric.py and its committed output benchmarks/results/generator/generator_squad_metric.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.datasets.squad import (
    QAItem,
    best_over,
    context_pool,
    evaluate_predictions,
    exact_match,
    f1,
    f1_v1,
    load_squad,
    normalize_answer,
    passages_for,
    split_articles,
)
from groundqa.errors import ConfigError

FIX = Path(__file__).parents[1] / "fixtures"


def _fixture(name: str) -> dict:
    return json.loads((FIX / f"squad_{name}_sample.json").read_text())


def test_normalize_answer_official_rules():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("theory") == "theory"  # 'the' only as a whole word
    assert normalize_answer("  A ") == ""


@pytest.mark.parametrize(
    "pred, gold, em, f",
    [
        ("Super Bowl 50", "Super Bowl", 0.0, 0.8),  # P 2/3, R 1
        ("computational complexity theory", "computability theory", 0.0, 0.4),  # P 1/3, R 1/2
        ("the Denver Broncos", "Denver Broncos", 1.0, 1.0),
        ("Broncos Broncos", "Broncos", 0.0, 2 / 3),  # counts clip: P 1/2, R 1
        ("Paris", "London", 0.0, 0.0),
    ],
)
def test_em_and_f1_hand_checked(pred, gold, em, f):
    assert exact_match(pred, gold) == em
    assert f1(pred, gold) == pytest.approx(f)
    assert f1_v1(pred, gold) == pytest.approx(f)


def test_no_answer_rules_differ_between_versions():
    assert f1("", "") == 1.0  # v2: an empty prediction for an unanswerable question is right
    assert f1_v1("", "") == 0.0  # v1.1's script has no such case
    assert best_over([], "", "2.0") == (1.0, 1.0)
    assert best_over([], "Las Vegas", "2.0") == (0.0, 0.0)
    assert best_over(["Tijuana"], "", "2.0") == (0.0, 0.0)
    with pytest.raises(ConfigError, match="at least one gold answer"):
        best_over([], "x", "1.1")


def test_best_over_takes_the_maximum_gold():
    assert best_over(["Freeview", "ITV Digital"], "ITV Digital", "1.1") == (1.0, 1.0)
    em, f = best_over(["Catholic", "Catholic orthodoxy"], "orthodoxy", "1.1")
    assert em == 0.0 and f == pytest.approx(2 / 3)


def test_v11_sample_of_bert_predictions():
    fx = _fixture("v11")  # 30 questions; one wrong: 'Super Bowl 50' vs 'Super Bowl' (F1 0.8)
    s = evaluate_predictions(fx["dataset"], fx["predictions"], version="1.1")
    assert s.total == 30 and s.missing == 0
    assert s.exact == pytest.approx(100 * 29 / 30)
    assert s.f1 == pytest.approx(100 * (29 + 0.8) / 30)


def test_v20_sample_of_bert_predictions():
    fx = _fixture("v20")  # 35 questions, 18 unanswerable; 11 wrong, four with partial F1
    s = evaluate_predictions(fx["dataset"], fx["predictions"])  # version detected from is_impossible
    assert (s.total, s.has_ans_total, s.no_ans_total) == (35, 17, 18)
    assert s.exact == pytest.approx(100 * 24 / 35)
    assert s.f1 == pytest.approx(100 * (24 + 2 / 3 + 0.4 + 2 / 3 + 2 / 3) / 35)
    assert s.no_ans_exact == pytest.approx(100 * 16 / 18)


def test_missing_predictions_count_as_wrong():
    fx = _fixture("v11")
    preds = dict(fx["predictions"])
    preds.pop(next(iter(preds)))
    s = evaluate_predictions(fx["dataset"], preds, version="1.1")
    assert s.missing == 1 and s.exact < 100 * 29 / 30


def test_load_squad_json_and_jsonl(tmp_path):
    f = tmp_path / "v2.json"
    f.write_text(json.dumps(_fixture("v20")["dataset"]))
    items = load_squad(f)
    assert len(items) == 35
    assert sum(not it.answerable for it in items) == 18
    it = next(i for i in items if i.answerable)
    assert it.context[it.answer_starts[0]:].startswith(it.answers[0])
    p = tmp_path / "d.jsonl"
    p.write_text(
        json.dumps({"question": "Who?", "answer": "Ann", "context": "Ann came.", "doc_id": "d1"}) + "\n"
        + json.dumps({"question": "Where?", "answer": "", "contexts": ["Bob left.", "Cy sat."]}) + "\n"
    )
    a, b = load_squad(p)
    assert a.answers == ("Ann",) and a.doc_id == "d1" and a.answer_starts == (0,)
    assert not b.answerable and b.contexts == ("Bob left.", "Cy sat.")
    with pytest.raises(ConfigError, match="does not exist"):
        load_squad(tmp_path / "nope.json")


def test_passages_put_gold_among_same_document_distractors(tmp_path):
    import random

    f = tmp_path / "v1.json"
    f.write_text(json.dumps(_fixture("v11")["dataset"]))
    items = load_squad(f)
    assert set(context_pool(items)) == {it.doc_id for it in items}
    it = items[0]
    pool = {it.doc_id: [it.context, "other one", "other two", "other three"], "z": ["far away"]}
    shown, gold = passages_for(it, pool, 2, random.Random(0))
    assert len(shown) == 3 and shown[gold - 1] == it.context
    assert all(p in pool[it.doc_id] for p in shown)
    shown, gold = passages_for(it, pool, 2, random.Random(0), drop_gold=True)
    assert gold is None and it.context not in shown and len(shown) == 3


def test_split_articles_sorted_by_title():
    data = {"data": [{"title": t, "paragraphs": []} for t in ["c", "a", "b", "d"]]}
    train, held = split_articles(data, 3)
    assert [a["title"] for a in train["data"]] == ["a", "b", "c"]
    assert [a["title"] for a in held["data"]] == ["d"]


def test_samples_are_nested_and_seeded():
    from groundqa.datasets.squad import sample_items

    items = [QAItem(id=str(i), question="q", answers=("a",), context="c", doc_id="d") for i in range(50)]
    big, small = sample_items(items, 20, seed=3), sample_items(items, 5, seed=3)
    assert small == big[:5] and len({it.id for it in big}) == 20
    assert sample_items(items, 20, seed=4) != big


# ---------------------------------------------------------------- document ids (issue 16)


def _untitled(contexts):
    return {"version": "1.1", "data": [{"paragraphs": [{"context": c, "qas": [{"id": f"q{i}", "question": "What?", "answers": [{"text": c.split()[0], "answer_start": 0}]}]}]}
                                        for i, c in enumerate(contexts)]}


def test_untitled_articles_get_distinct_stable_ids(tmp_path):
    """Before issue 16 every untitled article's paragraph was '#0': one text indexed, the rest dropped."""
    f = tmp_path / "untitled.json"
    ctxs = ["Alpha paper text.", "Beta paper text.", "Gamma paper text."]
    f.write_text(json.dumps(_untitled(ctxs)))
    items = load_squad(f)
    keys = {(it.doc_id, it.paragraph_index) for it in items}
    assert len(keys) == 3 and all(d.startswith("untitled-") for d, _ in keys)
    # the id is a hash of the article's text: the same in a reordered file
    f.write_text(json.dumps(_untitled(ctxs[::-1])))
    assert {(it.context, it.doc_id) for it in load_squad(f)} == {(it.context, it.doc_id) for it in items}
    # a blank title is no title
    data = _untitled(ctxs)
    for a in data["data"]:
        a["title"] = "  "
    f.write_text(json.dumps(data))
    assert len({it.doc_id for it in load_squad(f)}) == 3
    assert set(context_pool(items)) == {it.doc_id for it in items}  # distractors come from other papers
    assert len(split_articles(data, 2)[0]["data"]) == 2  # sorting no longer needs a title


def test_articles_sharing_a_title_number_their_paragraphs_on(tmp_path):
    data = {"data": [
        {"title": "T", "paragraphs": [{"context": "One.", "qas": [{"id": "a", "question": "?", "answers": []}]},
                                      {"context": "Two.", "qas": [{"id": "b", "question": "?", "answers": []}]}]},
        {"title": "T", "paragraphs": [{"context": "Three.", "qas": [{"id": "c", "question": "?", "answers": []}]},
                                      {"context": "One.", "qas": [{"id": "d", "question": "?", "answers": []}]}]},
    ]}
    f = tmp_path / "t.json"
    f.write_text(json.dumps(data))
    got = {it.id: (it.doc_id, it.paragraph_index) for it in load_squad(f)}
    assert got == {"a": ("T", 0), "b": ("T", 1), "c": ("T", 2), "d": ("T", 0)}  # the repeated text keeps its number


def test_jsonl_rows_of_one_title_get_one_number_per_context(tmp_path):
    p = tmp_path / "rows.jsonl"
    rows = [{"question": "?", "answer": "", "context": c, "title": "Paper"} for c in ("First.", "Second.", "First.")]
    rows.append({"question": "?", "answer": "", "context": "No title here."})
    rows.append({"question": "?", "answer": "", "context": "Nor here."})
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items = load_squad(p)
    assert [(it.doc_id, it.paragraph_index) for it in items[:3]] == [("Paper", 0), ("Paper", 1), ("Paper", 0)]
    assert items[3].doc_id.startswith("ctx-") and items[3].doc_id != items[4].doc_id
