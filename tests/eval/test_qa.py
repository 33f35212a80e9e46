"""The end-to-end QA benchmark's runner, metrics and report, with the public fakes."""

import pytest

from groundqa.eval.qa import PipelineRecord, build_context_index, reliability, risk_coverage, run_pipeline_qa, summarize, write_report
from groundqa.datasets.squad import QAItem
from groundqa.pipeline import Pipeline
from groundqa.testing import ExtractiveGenerator, HashEmbedder, KeywordGuard

CONTEXTS = {
    ("Oxygen", 0): "Oxygen is a chemical element with symbol O. Joseph Priestley and Carl Scheele discovered oxygen in the 1770s.",
    ("Warsaw", 0): "Warsaw is the capital of Poland. The city stands on the Vistula River.",
}
ITEMS = [
    QAItem("q1", "Who discovered oxygen?", ("Joseph Priestley and Carl Scheele",), CONTEXTS[("Oxygen", 0)], "Oxygen"),
    QAItem("q2", "What river does Warsaw stand on?", ("Vistula River",), CONTEXTS[("Warsaw", 0)], "Warsaw"),
    QAItem("q3", "How many moons does zzz have?", (), CONTEXTS[("Warsaw", 0)], "Warsaw"),
]


def rec(support, f1, answered=True, golds=("x",), generated="p"):
    return PipelineRecord("i", "q", golds, "p" if answered else "", answered, "supported" if answered else "withheld",
                          support, f1 if answered else 0.0, f1 if answered else 0.0, generated=generated, raw_em=f1, raw_f1=f1)


def test_risk_coverage_hand_computed():
    # the curve runs past the policy's threshold: a withheld answer (support 0.1) is the last point;
    # a generator decline (no generated text) never counts as an answer
    rs = [rec(0.9, 1.0), rec(0.5, 0.0), rec(0.5, 1.0), rec(0.1, 0.0, answered=False), rec(1.0, 0.0, answered=False, generated="")]
    pts = risk_coverage(rs)
    assert pts == [
        {"threshold": 0.9, "coverage": 0.2, "f1": 100.0, "f1_all": 20.0},
        {"threshold": 0.5, "coverage": 0.6, "f1": pytest.approx(200 / 3), "f1_all": 40.0},
        {"threshold": 0.1, "coverage": 0.8, "f1": 50.0, "f1_all": 40.0},
    ]


def test_risk_coverage_with_unanswerable_questions():
    # v2: withholding an answer to an unanswerable question is right (F1 1 as the empty prediction)
    rs = [rec(0.9, 1.0), rec(0.4, 0.0, answered=False, golds=()), rec(0.2, 0.0, answered=False)]
    pts = risk_coverage(rs)
    assert pts[0] == {"threshold": 0.9, "coverage": pytest.approx(1 / 3), "f1": 100.0, "f1_all": pytest.approx(200 / 3),
                      "noans_declined": 100.0, "hasans_answered": 50.0}
    assert pts[-1]["noans_declined"] == 0.0 and pts[-1]["hasans_answered"] == 100.0 and pts[-1]["f1_all"] == pytest.approx(100 / 3)
    s = summarize(rs, version="2.0")
    assert s["unguarded"] == {"f1": pytest.approx(33.33, abs=0.01), "answered_rate": 100.0}


def test_reliability_bins():
    rows = reliability([0.05, 0.15, 0.95, 1.0], [False, True, True, True], bins=10)
    assert [(r["lo"], r["n"], r["accuracy"]) for r in rows] == [(0.0, 1, 0.0), (0.1, 1, 1.0), (0.9, 2, 1.0)]


def test_run_summarize_and_report(tmp_path):
    index = build_context_index(ITEMS, HashEmbedder(), show_progress=False)
    assert sorted(index.doc_ids()) == ["Oxygen#0", "Warsaw#0"]
    pipe = Pipeline(index, ExtractiveGenerator(), KeywordGuard(), top_k=1)
    records = run_pipeline_qa(ITEMS, pipe, batch_size=2, version="2.0", show_progress=False)
    assert [r.id for r in records] == ["q1", "q2", "q3"]
    assert records[0].answered and 0 < records[0].f1 < 1 and records[0].gold_retrieved  # the fake answers a whole sentence
    assert not records[2].answered and records[2].em == 1.0  # declined an unanswerable question: right
    assert records[0].generated and records[0].raw_f1 == records[0].f1  # returned as generated
    s = summarize(records, version="2.0")
    for key in ("em", "f1", "answered_rate", "noans_declined_rate", "hasans_answered_rate", "supported_rate", "latency_ms"):
        assert key in s
    assert s["noans_declined_rate"] == 100.0 and s["n"] == 3
    report = write_report(records, s, tmp_path / "rep")
    assert report.read_text().startswith("# groundqa QA benchmark")
    for png in ("risk_coverage.png", "reliability.png", "latency.png"):
        assert (tmp_path / "rep" / png).stat().st_size > 1000


# ---------------------------------------------------------------- document ids (issue 16)

PUBMED_UNTITLED = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "pubmedqa_untitled_sample.json"


def test_untitled_articles_are_all_indexed_and_retrieved():
    """Six PubMedQA papers as untitled one-paragraph articles: six documents in the index (before
    issue 16: one, '#0'), and each question's own paper found by retrieval."""
    from groundqa.datasets.squad import load_squad

    items = load_squad(PUBMED_UNTITLED)
    assert len(items) == 6
    index = build_context_index(items, HashEmbedder(), show_progress=False)
    assert len(index.doc_ids()) == 6

    from groundqa.eval.qa import paragraph_id

    assert sorted(index.doc_ids()) == sorted(paragraph_id(it) for it in items)
    pipe = Pipeline(index, ExtractiveGenerator(), KeywordGuard(), top_k=4)
    records = run_pipeline_qa(items, pipe, batch_size=3, show_progress=False)
    assert sum(r.gold_retrieved for r in records) >= 5  # BM25 + hash vectors on the question's own words


def test_two_texts_under_one_id_fail_loudly():
    from groundqa.eval.qa import context_documents
    from groundqa.errors import ConfigError

    clash = [QAItem("a", "?", (), "First paper.", ""), QAItem("b", "?", (), "Second paper.", ""), QAItem("c", "?", (), "Third.", "")]
    with pytest.raises(ConfigError, match=r"2 paragraph text\(s\) share a document id with a different text \(1 id\(s\), e.g. '#0'\)"):
        build_context_index(clash, HashEmbedder(), show_progress=False)
    # several questions on one paragraph are one document, not a clash
    same = [QAItem("a", "?", (), "First paper.", "P"), QAItem("b", "??", (), "First paper.", "P")]
    assert [d.id for d in context_documents(same)] == ["P#0"]


def test_one_text_under_two_ids_is_indexed_twice_with_a_warning(caplog):
    from groundqa.eval.qa import context_documents

    items = [QAItem("a", "?", (), "Shared text.", "A"), QAItem("b", "?", (), "Shared text.", "B"), QAItem("c", "?", (), "Own.", "C")]
    with caplog.at_level("WARNING", logger="groundqa.eval.qa"):
        docs = context_documents(items)
    assert [d.id for d in docs] == ["A#0", "B#0", "C#0"]
    assert "1 paragraph text(s) appear under more than one document id (1 extra copies indexed, e.g. A#0, B#0)" in caplog.text
