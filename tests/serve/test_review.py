"""The audit log's review loop: list flagged answers, mark them, export training data (CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.cli import main
from groundqa.errors import ConfigError
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
    assert main(["review", "mark", "--audit", a, "2", "--answer", "A replacement card arrives within five working days. [1]", "--reviewer", "ana"]) == 0
    assert "found in a passage" in capsys.readouterr().out
    assert main(["review", "mark", "--audit", a, "#3", "--correct"]) == 0  # "#3" as `list` prints it
    capsys.readouterr()
    assert main(["review", "list", "--audit", a, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    ft, vp = tmp_path / "ft.jsonl", tmp_path / "vp.jsonl"
    assert main(["review", "export", "--audit", a, "--finetune", str(ft), "--verifier", str(vp)]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(x) for x in ft.read_text().splitlines()]
    passage = "A replacement card arrives within five working days."
    # the citation mark is gone, the passage that holds the answer is the context, with its document
    assert rows == [{"id": 2, "question": "When does the card arrive?", "answer": "A replacement card arrives within five working days.",
                     "context": passage, "contexts": [passage], "doc_id": "faq/card", "review": "corrected", "target": "reviewed",
                     "reviewed_answer": "A replacement card arrives within five working days."}]
    # #3 ("It is free." marked correct) is in no passage and no span matches it: reported and skipped, not a decline target
    assert "wrote 1 rows" in out and "1 skipped" in out and "skipped #3" in out and "mark it again with the passage text" in out
    pairs = [json.loads(x) for x in vp.read_text().splitlines()]
    # corrected #2: its flagged claim is 0 and the corrected answer 1 against the passage; correct #3: its claim is 1
    assert [(p["answer_id"], p["claim"], p["label"]) for p in pairs] == [
        (2, "It is free.", 0), (2, "A replacement card arrives within five working days.", 1), (3, "It is free.", 1)]
    assert pairs[0]["evidence"] == pairs[1]["evidence"] == passage
    assert "2 supported (label 1), 1 not (label 0)" in out


def test_export_rows_train_as_reviewed(tmp_path: Path) -> None:
    """Each exported row, read by `groundqa finetune`'s loader, is an answerable example whose
    target is the reviewed answer (a row marked correct that carries [1]; a copied correction; a
    correction in the reviewer's words becomes the nearest span), and a decline marked correct is
    the one decline example."""
    from groundqa.datasets.squad import load_squad
    from groundqa.generate import DECLINE, PromptTemplate
    from groundqa.train.finetune import build_examples

    log = AuditLog(tmp_path / "a.sqlite")
    refunds = {"id": "r1", "doc_id": "faq/refunds.md", "rank": 1, "score": 1.0, "text": "Refunds are paid within 45 days of the return."}
    hours = {"id": "h1", "doc_id": "faq/hours.md", "rank": 2, "score": 0.5, "text": "The shop is closed on Sundays and public holidays."}
    base = {"policy": "abstain", "support": 0.18, "models": {}, "timings_ms": {}}
    claim = [{"text": "How long do refunds take? 45 days", "verdict": "unsupported", "probability": 0.18}]
    i1 = log.record({**base, "question": "How long do refunds take?", "answer": "I can't answer that.", "generated": "45 days [1]",
                     "verdict": "withheld", "claims": claim, "passages": [refunds, hours]})
    i2 = log.record({**base, "question": "How long do refunds take?", "answer": "I can't answer that.", "generated": "30 days [1]",
                     "verdict": "withheld", "claims": claim, "passages": [refunds, hours]})
    i3 = log.record({**base, "question": "Are you open on Sundays?", "answer": DECLINE, "generated": DECLINE, "verdict": "declined",
                     "claims": [], "support": 1.0, "passages": [hours, refunds]})
    i4 = log.record({**base, "question": "Can I pay in bitcoin?", "answer": DECLINE, "generated": DECLINE, "verdict": "declined",
                     "claims": [], "support": 1.0, "passages": [refunds, hours]})
    log.mark(i1, correct=True)
    log.mark(i2, corrected_answer="You get your refund within 45 days of the return")
    log.mark(i3, corrected_answer="No, the shop is closed on Sundays.")
    log.mark(i4, correct=True)
    exp = log.finetune_export()
    assert exp.skipped == [] and exp.counts() == {"rows": 4, "skipped": 0, "reviewed": 1, "nearest_span": 2, "decline": 1}
    data = tmp_path / "ft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in exp.rows))
    items = load_squad(data)
    assert [it.doc_id for it in items] == ["faq/refunds.md", "faq/refunds.md", "faq/hours.md", "faq/refunds.md"]
    exs = build_examples(items, PromptTemplate(), seed=0, unanswerable_rate=0.0)
    targets = [(e.answerable, e.target.rsplit(" [", 1)[0]) for e in exs]
    assert targets == [(True, "45 days"), (True, "within 45 days of the return"), (True, "shop is closed on Sundays"), (False, DECLINE)]
    assert [r["reviewed_answer"] for r in exp.rows][:3] == ["45 days", "You get your refund within 45 days of the return",
                                                            "No, the shop is closed on Sundays."]
    # --unmatched skip: the two corrections in the reviewer's own words are skipped, with the reason
    strict = log.finetune_export(unmatched="skip")
    assert [r["id"] for r in strict.rows] == [i1, i4] and [s["id"] for s in strict.skipped] == [i2, i3]
    # the corrected decline gives a supported pair; the corrected answer another; the old claim of #2 is 0
    pairs = log.verifier_pairs()
    assert [(p["answer_id"], p["label"], p["kind"]) for p in pairs] == [
        (i1, 1, "review-claim"), (i2, 0, "review-claim"), (i2, 1, "review-correction"), (i3, 1, "review-correction")]
    assert pairs[3]["claim"] == "Are you open on Sundays? shop is closed on Sundays" and pairs[3]["evidence"] == hours["text"]
    with pytest.raises(ConfigError, match="unmatched="):
        log.finetune_export(unmatched="keep")


def test_mark_says_whether_the_answer_is_in_a_passage(audit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = str(audit)
    assert main(["review", "mark", "--audit", a, "2", "--answer", "It arrives within five working days"]) == 0
    out = capsys.readouterr().out
    assert "not found in any passage word for word" in out and "'arrives within five working days'" in out
    assert f"groundqa review mark --audit {a} 2 --answer 'arrives within five working days'" in out
    assert main(["review", "mark", "--audit", a, "2", "--answer", "Free of charge."]) == 0
    out = capsys.readouterr().out
    assert "not found in any passage" in out and "will skip this answer" in out and f"groundqa review show --audit {a} 2" in out


def test_declined_answers_can_be_reviewed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groundqa.generate import DECLINE

    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    log.record(_answer("Is it free?", "withheld", [("It is free.", "unsupported")]))
    log.record({**_answer("Are you open on Sundays?", "declined", []), "answer": DECLINE, "generated": DECLINE, "support": 1.0})
    log.record({**_answer("What is the weather?", "withheld", []), "reason": "no relevant passage", "passages": []})
    log.close()
    a = str(path)
    assert main(["review", "list", "--audit", a]) == 0
    out = capsys.readouterr().out
    assert "#1" in out and "#2 " not in out and "2 declined or withheld-before-checking answer(s) not listed" in out and "--declined" in out
    assert main(["review", "list", "--audit", a, "--declined"]) == 0
    out = capsys.readouterr().out
    assert "#2     declined   support=n/a " in out and "#3" in out and "#1 " not in out
    assert main(["review", "list", "--audit", a, "--declined", "--json"]) == 0
    assert [(r["id"], r["support"]) for r in json.loads(capsys.readouterr().out)] == [(3, None), (2, None)]
    assert main(["review", "show", "--audit", a, "2"]) == 0
    out = capsys.readouterr().out
    assert "support: n/a" in out and "if marked --correct, trains on: the decline sentence" in out
    with pytest.raises(SystemExit):
        main(["review", "list", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert "declined by the generator" in helptext and "passed, flagged, withheld and declined" in helptext


def test_show_prints_whole_passages_and_marks_the_cited_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.sqlite"
    text = ("Cards are posted within two working days of ordering. Delivery usually takes three to five working days in the UK "
            "and up to ten working days elsewhere. If your card has not arrived after ten working days, report it as lost in the app.")
    cited = "Delivery usually takes three to five working days in the UK and up to ten working days elsewhere."
    start = 100 + text.index(cited)
    ans = _answer("How long does delivery take?", "withheld", [("three to five working days", "unsupported")])
    ans["claims"][0]["citation"] = {"doc_id": "faq/card", "chunk_id": "c1", "source": "faq", "start": start, "end": start + len(cited),
                                    "text": cited, "passage_rank": 1}
    ans["passages"] = [{**ans["passages"][0], "start": 100, "end": 100 + len(text), "text": text}]
    log = AuditLog(path)
    i = log.record(ans)
    log.mark(i, corrected_answer="three to five working days", reviewer="ana", note="right, but withheld")
    log.close()
    assert main(["review", "show", "--audit", str(path), f"#{i}"]) == 0
    out = capsys.readouterr().out
    assert f"cited: passage [1] faq/card: {cited}" in out
    body = " ".join(line.strip() for line in out.splitlines() if line.startswith("      ") and "cited:" not in line)
    assert body == text.replace(cited, f">>> {cited} <<< (claim 0)")  # whole, not cut at 150 characters
    assert all(len(line) <= 100 for line in out.splitlines() if line.startswith("      ") and "cited:" not in line)
    assert "review:   corrected by ana" in out and "note:     right, but withheld" in out
    assert "trains on: 'three to five working days', in passage [1] faq/card word for word" in out
    for bad in ("x5", "#", "0"):
        with pytest.raises(SystemExit):
            main(["review", "show", "--audit", str(path), bad])
        assert "is not an answer id" in capsys.readouterr().err


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
