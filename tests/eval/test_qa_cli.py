"""`groundqa bench qa --context retrieved`: the whole pipeline with the real default models on a
committed SQuAD v2.0 excerpt (tests/fixtures, CC BY-SA 4.0)."""

import json
from pathlib import Path

from groundqa.cli import main

FIXTURE = Path(__file__).parents[1] / "fixtures" / "squad_v20_sample.json"


def test_bench_qa_retrieved_writes_the_documented_json_and_report(tmp_path):
    # the articles without their titles (issue 16): before, all four paragraphs got the id "#0"
    # and the index kept one of them
    dataset = json.loads(FIXTURE.read_text())["dataset"]
    for article in dataset["data"]:
        del article["title"]
    data = tmp_path / "v20.json"
    data.write_text(json.dumps(dataset))
    out, rep = tmp_path / "qa.json", tmp_path / "report"
    assert main(["bench", "qa", "--data", str(data), "--context", "retrieved", "--limit", "3", "--batch-size", "3", "--json", str(out), "--report", str(rep)]) == 0
    result = json.loads(out.read_text())
    for key in ("em", "f1", "answered_rate", "noans_declined_rate", "hasans_answered_rate", "supported_rate", "latency_ms"):
        assert key in result["results"], key
    assert result["config"]["context"] == "retrieved" and result["results"]["n"] == 3
    paragraphs = {p["context"] for a in dataset["data"] for p in a["paragraphs"]}
    assert len(paragraphs) == 4 and result["config"]["paragraphs_indexed"] == 4 and result["config"]["documents"] == 4
    assert (rep / "report.md").exists() and (rep / "risk_coverage.png").exists()
