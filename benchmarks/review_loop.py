"""The monitoring loop's training data (issue 26): does a reviewed answer train as what the reviewer meant?

A reviewed set (``benchmarks/data/review_loop_set.json``: 20 answers over the support FAQ of
``benchmarks/data/support_faq.json``, each with the generator's answer, the guard's verdict and a
reviewer's decision) goes through the loop as a user runs it: the answers are recorded in an audit
log as the service records them, marked with ``groundqa review mark``, exported with
``groundqa review export --finetune``, and read back as ``groundqa finetune`` reads its data
(``load_squad`` then ``build_examples``, with ``unanswerable_rate=0`` so that no gold passage is
dropped on purpose). For each reviewed answer it checks whether the training target (the text
before the citation ``[n]``, or the decline sentence) equals the reviewer's answer (the text marked
correct or given as the correction, citation marks removed; a decline marked correct: the decline
sentence). Three corrections in a reviewer's own words (in no passage word for word) are counted
apart. Uses only what main at 5c6b38d also has, so the same script measures before and after:

    python benchmarks/review_loop.py --label after
    git worktree add /tmp/groundqa-main 5c6b38d
    PYTHONPATH=/tmp/groundqa-main/src python benchmarks/review_loop.py --label before

Writes ``benchmarks/results/review_loop_<label>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _record(log: Any, item: dict[str, Any], articles: dict[str, str]) -> int:
    from groundqa.generate import DECLINE
    from groundqa.verify.claims import qa_claim, strip_citations

    passages = [{"id": f"{name}#0", "doc_id": f"faq/{name}.md", "rank": i, "score": round(1.0 / i, 3), "scores": {}, "source": "faq",
                 "start": 0, "end": len(articles[name]), "text": articles[name]} for i, name in enumerate(item["passages"], start=1)]
    generated = DECLINE if item["generated"] == "DECLINE" else item["generated"]
    declined = item["verdict"] == "declined"
    claims = [] if declined else [{"text": qa_claim(item["question"], strip_citations(generated)[0]), "start": 0, "end": len(generated),
                                   "probability": 0.18, "verdict": "unsupported", "reasons": [], "citation": None, "signals": {}}]
    answer = generated if item["verdict"] in ("declined", "flagged") else "I can't answer that from the documents I have."
    return log.record({"question": item["question"], "answer": answer, "generated": generated, "verdict": item["verdict"],
                       "reason": None, "policy": "abstain", "support": 1.0 if declined else 0.18, "claims": claims,
                       "passages": passages, "models": {"generator": "fixture"}, "timings_ms": {}})


def run(items: list[dict[str, Any]], articles: dict[str, str], work: Path) -> list[dict[str, Any]]:
    from groundqa.bench.squad import load_squad
    from groundqa.cli import main
    from groundqa.generate import DECLINE, PromptTemplate
    from groundqa.generate.finetune import build_examples
    from groundqa.serve.audit import AuditLog
    from groundqa.verify.claims import strip_citations

    audit = work / "audit.sqlite"
    log = AuditLog(audit)
    ids = [_record(log, it, articles) for it in items]
    log.close()
    marks = {}
    for i, it in zip(ids, items):
        argv = ["review", "mark", "--audit", str(audit), str(i)]
        argv += ["--correct"] if it["review"].get("correct") else ["--answer", it["review"]["answer"]]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(argv) == 0
        marks[i] = buf.getvalue().strip()
    ft = work / "ft.jsonl"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["review", "export", "--audit", str(audit), "--finetune", str(ft)]) == 0
    export_out = buf.getvalue().strip()
    rows = [json.loads(x) for x in ft.read_text().splitlines() if x.strip()]
    items_ft = load_squad(ft) if rows else []
    examples = build_examples(items_ft, PromptTemplate(), seed=0, unanswerable_rate=0.0) if items_ft else []
    by_q = {(r["id"], e.question): e for r, e in zip(rows, examples)}
    out = []
    for i, it in zip(ids, items):
        if it["review"].get("correct"):
            want = DECLINE if it["generated"] == "DECLINE" else strip_citations(it["generated"])[0]
        else:
            want = strip_citations(it["review"]["answer"])[0]
        ex = by_q.get((i, it["question"]))
        if ex is None:
            got, answerable = None, None
        else:
            answerable = ex.answerable
            got = ex.target.rsplit(" [", 1)[0] if ex.answerable else ex.target
        out.append({"id": i, "kind": it["kind"], "question": it["question"], "reviewed": want, "target": got, "answerable": answerable,
                    "equal": got == want, "exported": ex is not None, "mark_output": marks[i]})
    out.append({"export_output": export_out})
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[str, dict[str, int]] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"n": 0, "equal": 0, "answerable": 0, "decline_target": 0, "skipped": 0})
        k["n"] += 1
        k["equal"] += r["equal"]
        k["answerable"] += bool(r["answerable"])
        k["decline_target"] += r["answerable"] is False
        k["skipped"] += not r["exported"]
    return kinds


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", required=True, help="before or after (names the results file)")
    ap.add_argument("--out", default=None, help="default: benchmarks/results/review_loop_<label>.json")
    args = ap.parse_args(argv)
    import groundqa

    data = json.loads((HERE / "data" / "review_loop_set.json").read_text())
    articles = {a["intent"]: a["text"] for a in json.loads((HERE / "data" / "support_faq.json").read_text())["articles"]}
    with tempfile.TemporaryDirectory() as d:
        main_rows = run(data["reviewed"], articles, Path(d) / "set")
    with tempfile.TemporaryDirectory() as d:
        own_rows = run(data["own_words"], articles, Path(d) / "own")
    rows = [r for r in main_rows if "kind" in r]
    own = [r for r in own_rows if "kind" in r]
    n_equal = sum(r["equal"] for r in rows)
    result = {
        "label": args.label,
        "groundqa": str(Path(groundqa.__file__).resolve().parent),
        "reviewed_set": {"n": len(rows), "target_equals_reviewed": n_equal, "share": round(n_equal / len(rows), 4),
                         "by_kind": summarize(rows)},
        "own_words": {"n": len(own), "by_kind": summarize(own)},
        "rows": rows,
        "own_words_rows": own,
        "export_output": {"set": main_rows[-1]["export_output"], "own_words": own_rows[-1]["export_output"]},
    }
    out = Path(args.out) if args.out else HERE / "results" / f"review_loop_{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"groundqa from {result['groundqa']}")
    print(f"| {args.label} | rows | target == reviewer's answer | answerable | decline target | skipped |")
    print("|---|---|---|---|---|---|")
    for kind, k in list(result["reviewed_set"]["by_kind"].items()) + list(result["own_words"]["by_kind"].items()):
        print(f"| {kind} | {k['n']} | {k['equal']} | {k['answerable']} | {k['decline_target']} | {k['skipped']} |")
    print(f"| **reviewed set** | {len(rows)} | **{n_equal} ({100 * n_equal / len(rows):.0f}%)** | | | |")
    for r in own:
        print(f"  own words: {r['reviewed']!r} -> {r['target']!r}" + ("" if r["exported"] else " (skipped)"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
