"""Issue 26: the monitoring loop end to end, as the support-bot example runs it: the service logs
what the guard withheld, a reviewer marks answers correct or corrects them (a wrong decline too),
`review export` writes the data, `groundqa finetune` (the `fast` model's base, LoRA, one step) and
`groundqa train-verifier` (the shipped verifier, two steps) learn from it. A row marked correct
must train as an answerable example whose target is the reviewed answer (not a decline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import httpx
import pytest

from groundqa.cli import main

from .conftest import serving

DOCS = [
    {"id": "faq/refunds.md", "text": "Refunds are paid within 45 days of the return. Items must be unused and in their box."},
    {"id": "faq/hours.md", "text": "The shop is closed on Sundays and public holidays. On weekdays it opens at nine."},
    {"id": "faq/transfer.md", "text": "To transfer money, open Payments and choose Transfer. A transfer between accounts usually takes one business day."},
]


class DoubtfulGuard:
    """A guard fake that supports no claim (p = 0.18): every answer is withheld under abstain, as
    a right answer scored below the threshold is."""

    verifier_name = "doubtful-fake"

    def warm_up(self) -> None:
        return None

    def verify_batch(self, items: Sequence[tuple[str | None, str, Sequence[Any]]]) -> list[Any]:
        from groundqa.testing import KeywordGuard
        from groundqa.verify.guard import ClaimVerdict, GuardResult

        out = []
        for r in KeywordGuard().verify_batch(items):
            claims = tuple(ClaimVerdict(c.text, c.start, c.end, 0.18, "unsupported") for c in r.claims)
            out.append(GuardResult(claims, 0.18 if claims else 1.0, "unsupported" if claims else "no_claims", 0.5, 0.0, self.verifier_name))  # type: ignore[arg-type]
        return out


def _factory(index: Any) -> Any:
    from groundqa.pipeline import Pipeline
    from groundqa.testing import ExtractiveGenerator

    return Pipeline(index, ExtractiveGenerator(), DoubtfulGuard(), policy="abstain", top_k=2)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_serve_review_export_finetune_train_verifier(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app

    settings = ServeSettings(index_dir=tmp_path / "kb-index", embedder="hash", workers=1)
    app = create_app(pipeline_factory=_factory, settings=settings)
    asked = {}
    with serving(app) as url, httpx.Client(base_url=url, timeout=120) as c:
        assert c.post("/v1/documents", json={"documents": DOCS}).status_code == 201
        for q in ("How long do refunds take?", "How long does a transfer between accounts take?", "Is there Sunday opening?",
                  "Can I pay with bitcoin?"):
            r = c.post("/v1/ask", json={"question": q}).json()
            asked[q] = r
    refund, transfer, sunday, bitcoin = asked.values()
    assert refund["verdict"] == transfer["verdict"] == "withheld" and refund["generated"].endswith("[1]")
    assert sunday["verdict"] == bitcoin["verdict"] == "declined"  # the first a wrong decline
    audit = str(settings.resolved_audit_path())

    listed = json.loads(_cli(capsys, "review", "list", "--audit", audit, "--json"))
    assert {r["id"] for r in listed} == {refund["audit_id"], transfer["audit_id"]}
    declined = json.loads(_cli(capsys, "review", "list", "--audit", audit, "--declined", "--json"))
    assert {r["id"] for r in declined} == {sunday["audit_id"], bitcoin["audit_id"]} and all(r["support"] is None for r in declined)

    # the reviewer: the refund answer is right (marked correct as it is, with its [1]); the transfer
    # answer is wrong (corrected in the reviewer's words); "Is there Sunday opening?" should not have
    # been declined; declining the bitcoin question was right
    _cli(capsys, "review", "mark", "--audit", audit, f"#{refund['audit_id']}", "--correct", "--reviewer", "ana")
    out = _cli(capsys, "review", "mark", "--audit", audit, str(transfer["audit_id"]), "--answer", "It takes one business day.")
    assert "not found in any passage word for word" in out and "'takes one business day'" in out
    out = _cli(capsys, "review", "mark", "--audit", audit, str(sunday["audit_id"]), "--answer", "The shop is closed on Sundays")
    assert "found in a passage" in out
    _cli(capsys, "review", "mark", "--audit", audit, str(bitcoin["audit_id"]), "--correct")

    ft, vp = tmp_path / "ft.jsonl", tmp_path / "pairs.jsonl"
    out = _cli(capsys, "review", "export", "--audit", audit, "--finetune", str(ft), "--verifier", str(vp))
    assert "wrote 4 rows" in out and "0 skipped" in out
    rows = {r["id"]: r for r in map(json.loads, ft.read_text().splitlines())}
    assert rows[refund["audit_id"]]["answer"] == "Refunds are paid within 45 days of the return."  # no [1]
    assert rows[refund["audit_id"]]["doc_id"] == "faq/refunds.md"
    assert rows[transfer["audit_id"]]["answer"] == "takes one business day" and rows[transfer["audit_id"]]["target"] == "nearest_span"
    assert rows[sunday["audit_id"]]["answer"] == "The shop is closed on Sundays" and rows[bitcoin["audit_id"]]["target"] == "decline"
    pairs = [json.loads(x) for x in vp.read_text().splitlines()]
    by_id = {}
    for p in pairs:
        by_id.setdefault(p["answer_id"], []).append(p["label"])
    assert by_id == {refund["audit_id"]: [1], transfer["audit_id"]: [0, 1], sunday["audit_id"]: [1]}

    # fine-tune on the export: record the examples finetune builds, to see what it trains on
    from groundqa.generate import finetune as ft_mod

    built: list[Any] = []
    real_build = ft_mod.build_examples

    def spy(*a: Any, **kw: Any) -> Any:
        exs = real_build(*a, **kw)
        built.append(exs)
        return exs

    monkeypatch.setattr(ft_mod, "build_examples", spy)
    # the forgetting check asks six general questions before and after (40 s here); one keeps its path and saves the time
    monkeypatch.setattr(ft_mod, "GENERAL_QUESTIONS", ft_mod.GENERAL_QUESTIONS[:1])
    out_dir = tmp_path / "my-model"
    out = _cli(capsys, "finetune", "--data", str(ft), "--base", "smollm2-135m", "--out", str(out_dir), "--lora", "--lora-r", "4",
               "--max-steps", "1", "--batch-size", "2", "--grad-accum", "1", "--dev-docs", "0", "--unanswerable-rate", "0",
               "--no-progress", "--threads", "1")
    assert "4 training examples (1 declines)" in out and "no dev split" in out
    train = {e.question: e for e in built[0]}
    ex = train["How long do refunds take?"]
    assert ex.answerable and ex.target.rsplit(" [", 1)[0] == "Refunds are paid within 45 days of the return."
    assert ex.passages[int(ex.target.rsplit("[", 1)[1].rstrip("]")) - 1].startswith("Refunds are paid within 45 days")
    assert train["Is there Sunday opening?"].answerable and not train["Can I pay with bitcoin?"].answerable
    card = json.loads((out_dir / "groundqa_card.json").read_text())
    assert card["data"]["train_unanswerable"] == 1 and card["data"]["answers_in_no_context"] == 0
    assert (out_dir / "adapter_model.safetensors").exists()

    # the verifier, from the shipped one, on the exported pairs
    run = tmp_path / "verifier-run"
    out = _cli(capsys, "train-verifier", "--output", str(run), "--pairs", str(vp), "--max-steps", "2", "--batch-size", "2")
    assert "groundqa calibrate --data LABELLED.jsonl" in out
    data = json.loads((run / "data.json").read_text())
    assert data["train_pairs"] == len(pairs) == 4 and data["train_supported"] == 3
    assert json.loads((run / "train_summary.json").read_text())["base"] == "default"
