"""Offline entry points take a dataclass config (the command line converts its flags) and return a
BenchResult: config, scores, versions, the data's sha256, the commit and the date (issue 24)."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json

from groundqa.eval.guard import GuardBenchConfig, run_guard_bench
from groundqa.eval.result import BenchResult
from groundqa.train.calibrate import CalibrateConfig, run_calibrate
from groundqa.verify import Guard
from groundqa.testing import HashEmbedder

ROWS = [("The Eiffel Tower is in Paris.", "The Eiffel Tower is a landmark in Paris, France.", 1),
        ("The Eiffel Tower is in Rome.", "The Eiffel Tower is a landmark in Paris, France.", 0),
        ("Water boils at 100 degrees Celsius at sea level.", "At sea level, water boils at 100 degrees Celsius.", 1),
        ("Water boils at 50 degrees Celsius at sea level.", "At sea level, water boils at 100 degrees Celsius.", 0)]


def _data(tmp_path):
    data = tmp_path / "plain.jsonl"
    with open(data, "w") as f:
        for i in range(12):
            claim, evidence, label = ROWS[i % 4]
            f.write(json.dumps({"id": f"c{i}", "claim": claim + " " * (i // 4), "evidence": [evidence], "label": "supported" if label else "unsupported"}) + "\n")
    return data


def test_the_guard_benchmark_and_calibration_return_bench_results(tmp_path, capsys):
    data = _data(tmp_path)
    sha = hashlib.sha256(data.read_bytes()).hexdigest()
    res = run_guard_bench(GuardBenchConfig(data=str(data), verifier="none", embedder="hash", json=str(tmp_path / "m.json")))
    assert isinstance(res, BenchResult) and res.name == "bench guard"
    assert res.config["data"] == str(data) and res.data_sha256 == {str(data): sha}
    assert set(json.loads((tmp_path / "m.json").read_text())) == set(res.scores) and "auroc" in res.scores
    assert "python" in res.versions and res.date.endswith("Z")
    assert json.loads(json.dumps(res.to_dict(), default=float))["name"] == "bench guard"

    cal = tmp_path / "cal.json"
    res = run_calibrate(CalibrateConfig(data=str(data), out=str(cal), verifier="none", embedder="hash"))
    assert isinstance(res, BenchResult) and res.name == "calibrate" and res.data_sha256 == {str(data): sha}
    assert 0 < res.scores["threshold"] < 1 and "fit" in res.scores
    assert Guard(None, embedder=HashEmbedder(), calibration=cal).threshold == res.scores["threshold"]


def test_offline_entry_points_take_dataclass_configs():
    from groundqa.eval.qa import QABenchConfig, run_qa_bench
    from groundqa.eval.retrieval import RetrievalBenchConfig, bench_retrieval

    for fn, cfg in ((run_guard_bench, GuardBenchConfig), (run_calibrate, CalibrateConfig), (run_qa_bench, QABenchConfig), (bench_retrieval, RetrievalBenchConfig)):
        params = list(inspect.signature(fn).parameters.values())
        assert [p.name for p in params if p.kind is not p.KEYWORD_ONLY] == ["config"] and dataclasses.is_dataclass(cfg)
        assert inspect.signature(fn).return_annotation in ("BenchResult", BenchResult)


def test_a_retrieval_report_gives_a_bench_result(tmp_path):
    from groundqa.eval.retrieval import ModeResult, RetrievalBenchConfig, RetrievalBenchReport
    from groundqa.metrics.retrieval import evaluate

    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "x"}\n')
    m = evaluate({"q1": {"d1": 1}}, {"q1": {"d1": 1.0}}, ks=(1,))
    rep = RetrievalBenchReport("toy", str(tmp_path), 1, 1, 1, {"bm25": ModeResult("bm25", m, 0.1)}, RetrievalBenchConfig(modes=("bm25",)), 0.5, {"python": "3"})
    res = rep.bench_result()
    assert res.name == "bench retrieval" and res.scores["results"]["bm25"] == rep.to_dict()["results"]["bm25"]
    assert list(res.data_sha256) == [str(tmp_path / "corpus.jsonl")] and res.versions == {"python": "3"} and res.config["data"] == str(tmp_path)


def test_bench_retrieval_takes_its_data_from_the_config(tmp_path):
    from groundqa.eval.retrieval import RetrievalBenchConfig, bench_retrieval

    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "solar panels turn light into power"}\n'
                                           '{"_id": "d2", "title": "", "text": "the bread rises in the oven"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "solar power"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    res = bench_retrieval(RetrievalBenchConfig(data=str(tmp_path), modes=("bm25",), embedder="hash", top_k=10, ks=(1, 10)))
    assert res.name == "bench retrieval" and res.config["data"] == str(tmp_path)
    assert res.scores["results"]["bm25"]["recall@1"] == 1.0 and len(res.data_sha256) == 3
