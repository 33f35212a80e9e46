"""The end-to-end QA benchmark's runner, metrics and report, with the public fakes."""

import pytest

from groundqa.bench.qa import PipelineRecord, build_context_index, reliability, risk_coverage, run_pipeline_qa, summarize, write_report
from groundqa.bench.squad import QAItem
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
