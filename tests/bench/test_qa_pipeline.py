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


def rec(support, f1, answered=True, golds=("x",)):
    return PipelineRecord("i", "q", golds, "p", answered, "supported", support, f1, f1)


def test_risk_coverage_hand_computed():
    rs = [rec(0.9, 1.0), rec(0.5, 0.0), rec(0.5, 1.0), rec(0.1, 0.0, answered=False)]
    pts = risk_coverage(rs)
    # threshold 0.9 keeps 1 of 4 (F1 100); 0.5 keeps 3 of 4 (F1 (1+0+1)/3)
    assert pts == [{"threshold": 0.9, "coverage": 0.25, "f1": 100.0}, {"threshold": 0.5, "coverage": 0.75, "f1": pytest.approx(200 / 3)}]


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
    s = summarize(records, version="2.0")
    for key in ("em", "f1", "answered_rate", "noans_declined_rate", "hasans_answered_rate", "supported_rate", "latency_ms"):
        assert key in s
    assert s["noans_declined_rate"] == 100.0 and s["n"] == 3
    report = write_report(records, s, tmp_path / "rep")
    assert report.read_text().startswith("# groundqa QA benchmark")
    for png in ("risk_coverage.png", "reliability.png", "latency.png"):
        assert (tmp_path / "rep" / png).stat().st_size > 1000
