"""The audit log's review loop: list flagged answers, mark them, export training data (CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.cli import main
from groundqa.serve.audit import AuditLog


def _answer(question: str, verdict: str, claims: list[tuple[str, str]]) -> dict:
    return {
        "question": question,
        "answer": "x",
        "generated": " ".join(t for t, _ in claims) + " [1]",
        "verdict": verdict,
        "reason": None,
        "policy": "flag",
        "support": 0.2,
        "claims": [{"text": t, "start": 0, "end": len(t), "probability": 0.9 if v == "supported" else 0.1, "verdict": v, "reasons": [], "citation": None, "signals": {}} for t, v in claims],
        "passages": [{"id": "c1", "doc_id": "faq/card", "rank": 1, "score": 1.0, "scores": {}, "source": "faq", "start": 0, "end": 40, "text": "A replacement card arrives within five working days."}],
        "models": {"generator": "g"},
        "timings_ms": {"total": 1.0},
    }


@pytest.fixture()
def audit(tmp_path: Path) -> Path:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    log.record(_answer("When does the card arrive?", "supported", [("It arrives within five working days.", "supported")]))
    log.record(_answer("When does the card arrive?", "flagged", [("It arrives within five working days.", "supported"), ("It is free.", "unsupported")]))
    log.record(_answer("Is it free?", "withheld", [("It is free.", "unsupported")]))
    log.record({**_answer("What is the weather?", "withheld", []), "reason": "no relevant passage"})
    log.close()
    return path


def test_list_shows_only_flagged_pending(audit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "list", "--audit", str(audit), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [3, 2] and rows[0]["unsupported_claims"] == 1


def test_mark_and_export(audit: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = str(audit)
    assert main(["review", "show", "--audit", a, "2"]) == 0
    assert "[1] unsupported" in capsys.readouterr().out
    assert main(["review", "mark", "--audit", a, "2", "--answer", "It arrives within five working days. [1]", "--reviewer", "ana"]) == 0
    assert main(["review", "mark", "--audit", a, "3", "--correct"]) == 0
    capsys.readouterr()
    assert main(["review", "list", "--audit", a, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    ft, vp = tmp_path / "ft.jsonl", tmp_path / "vp.jsonl"
    assert main(["review", "export", "--audit", a, "--finetune", str(ft), "--verifier", str(vp)]) == 0
    rows = [json.loads(x) for x in ft.read_text().splitlines()]
    assert rows[0] == {"id": 2, "question": "When does the card arrive?", "answer": "It arrives within five working days. [1]", "contexts": ["A replacement card arrives within five working days."]}
    assert rows[1]["answer"] == "It is free. [1]"  # correct as is: the generated text
    pairs = [json.loads(x) for x in vp.read_text().splitlines()]
    # corrected #2: only its flagged claim is labelled (0); correct #3: its claim is labelled 1
    assert [(p["answer_id"], p["claim"], p["label"]) for p in pairs] == [(2, "It is free.", 0), (3, "It is free.", 1)]
    assert pairs[0]["evidence"] == "A replacement card arrives within five working days."


def test_mark_errors(audit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = str(audit)
    with pytest.raises(SystemExit):
        main(["review", "mark", "--audit", a, "99", "--correct"])
    assert "answer id 99 is not in the audit log" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["review", "mark", "--audit", a, "2", "--answer", "fixed", "--unsupported-claims", "5"])
    assert "out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["review", "list", "--audit", str(Path(a).with_name("missing.sqlite"))])
