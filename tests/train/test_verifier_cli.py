"""`groundqa train-verifier` on review pairs: starts from the shipped verifier, counts what it
trains on, and ends by recalibrating (or saying how)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundqa.cli import main

PAIRS = [
    ("How long do refunds take? 45 days", "Refunds are paid within 45 days of the return.", 1),
    ("How long do refunds take? 30 days", "Refunds are paid within 45 days of the return.", 0),
    ("Are you open on Sundays? closed", "The shop is closed on Sundays and public holidays.", 1),
    ("The shop opens on Sundays.", "The shop is closed on Sundays and public holidays.", 0),
    ("A replacement card arrives within five working days.", "A replacement card arrives within five working days.", 1),
    ("A replacement card is free.", "A replacement card arrives within five working days.", 0),
    ("The PIN is blocked after three wrong attempts.", "Your PIN is blocked after three wrong attempts.", 1),
    ("The PIN is blocked after five wrong attempts.", "Your PIN is blocked after three wrong attempts.", 0),
]


def _write(path: Path) -> Path:
    path.write_text("".join(json.dumps({"claim": c, "evidence": e, "label": y, "kind": "review-claim"}) + "\n" for c, e, y in PAIRS))
    return path


@pytest.mark.slow
def test_train_verifier_continues_the_shipped_model_and_says_to_recalibrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = _write(tmp_path / "pairs.jsonl")
    out = tmp_path / "run"
    assert main(["train-verifier", "--output", str(out), "--pairs", str(pairs), "--max-steps", "2", "--batch-size", "4",
                 "--export", str(tmp_path / "v")]) == 0
    cap = capsys.readouterr()
    assert "training on 8 pairs (4 supported, 4 not)" in cap.err and "starting from the shipped verifier" in cap.err
    data = json.loads((out / "data.json").read_text())
    assert (data["train_pairs"], data["train_supported"], data["train_not_supported"], data["positive_rate"]) == (8, 4, 4, 0.5)
    assert data["sources"][str(pairs)]["pairs"] == 8
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["base"] == "default" and summary["steps"] == 2 and summary["pairs"] == 8
    assert f"groundqa calibrate --data LABELLED.jsonl --verifier {tmp_path / 'v'} --out calibration.json" in cap.out
    assert (tmp_path / "v" / "groundqa_verifier.json").exists()

    # --calibrate fits the guard for the new verifier (exported to OUTPUT/verifier by default)
    out2 = tmp_path / "run2"
    assert main(["train-verifier", "--output", str(out2), "--pairs", str(pairs), "--max-steps", "1", "--batch-size", "8",
                 "--calibrate", str(pairs), "--calibrate-embedder", "hash"]) == 0
    cap = capsys.readouterr()
    cal = out2 / "verifier" / "calibration.json"
    assert cal.exists() and json.loads(cal.read_text())["info"]["examples"] == 8
    assert "calibrated: use it with [guard] verifier" in cap.out

    from groundqa.verify import Guard

    g = Guard(verifier=str(out2 / "verifier"), calibration=str(cal), embedder="hash")
    g.warm_up()  # the calibration matches this guard's signals (else it raises)
    assert g.describe()["calibration"]["verifier"] == str(out2 / "verifier")


def test_train_verifier_refuses_bad_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"claim": "x", "label": 1}) + "\n")
    with pytest.raises(SystemExit):
        main(["train-verifier", "--output", str(tmp_path / "o"), "--pairs", str(bad)])
    assert "needs claim, evidence and label 0 or 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train-verifier", "--output", str(tmp_path / "o"), "--pairs", str(tmp_path / "missing.jsonl")])
    assert "does not exist" in capsys.readouterr().err
    from groundqa.errors import ModelNotFoundError
    from groundqa.train.verifier import resolve_base

    assert resolve_base("default").path.name == "model" and (resolve_base("default").path / "config.json").exists()
    with pytest.raises(ModelNotFoundError, match="check the path"):
        resolve_base(str(tmp_path / "missing"))
