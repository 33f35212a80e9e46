"""PubMedQA abstracts as a SQuAD-format file of *untitled* articles, one paragraph each (issue 16).

Before issue 16 every paragraph of an untitled article got the document id ``#0`` (title "" +
paragraph number), so indexing such a file kept one paragraph and answered every question from it.
This script writes such a file from the PubMedQA expert set and measures, with the fixed ids,
how many paragraphs are indexed and how often retrieval finds the question's own paper.

    python benchmarks/pubmedqa_untitled.py prepare     # runs/pubmedqa_untitled/pubmedqa_test_untitled.json
    OMP_NUM_THREADS=1 python benchmarks/pubmedqa_untitled.py retrieval \
        --json benchmarks/results/qa/pubmedqa_untitled_retrieval.json
    OMP_NUM_THREADS=1 groundqa bench qa --data runs/pubmedqa_untitled/pubmedqa_test_untitled.json \
        --context retrieved --limit 50 --batch-size 4 --threads 1 \
        --json benchmarks/results/qa/pubmedqa_untitled_qa.json --report benchmarks/results/qa/pubmedqa_untitled_report
    python benchmarks/pubmedqa_untitled.py decisions --json benchmarks/results/qa/pubmedqa_untitled_decisions.json

The file: the 500 official test questions (``test_ground_truth.json``), one article per paper,
no ``title``, one paragraph. PubMedQA's answers are yes/no/maybe and its long answer (the
abstract's conclusion) is not part of its ``CONTEXTS``, so no span of the given context answers
the question. The choice made here, to have an honest span: the paragraph is the *whole* abstract,
its ``CONTEXTS`` sections followed by the conclusion (``LONG_ANSWER``), and the gold span is the
conclusion, found in the paragraph at its real offset. EM against a whole conclusion is close to
0 by nature (an answer would have to repeat 2-3 sentences word for word); F1 is token overlap
with it. The numbers the issue is about are ``paragraphs_indexed`` (must equal the number of
papers) and the rate at which retrieval returns the question's own paper.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


DATA = Path("../shared/data/pubmedqa_pqal")
OUT = Path("runs/pubmedqa_untitled/pubmedqa_test_untitled.json")


def build_file(items: dict, ids: list[str]) -> dict:
    """SQuAD v1.1 JSON: one untitled article with one paragraph per paper; the gold span is the
    conclusion, appended to the abstract's sections."""
    articles = []
    for pmid in ids:
        it = items[pmid]
        sections = " ".join(s.strip() for s in it["CONTEXTS"])
        conclusion = it["LONG_ANSWER"].strip()
        context = f"{sections} {conclusion}"
        start = len(sections) + 1
        assert context[start:] == conclusion
        qa = {"id": pmid, "question": it["QUESTION"].strip(), "answers": [{"text": conclusion, "answer_start": start}],
              "final_decision": it["final_decision"]}
        articles.append({"paragraphs": [{"context": context, "qas": [qa]}]})  # no "title": the point of the file
    return {"version": "1.1", "source": "PubMedQA PQA-L (Jin et al. 2019, MIT), test split, as untitled articles", "data": articles}


def prepare(data: Path, out: Path, split: str) -> None:
    items = json.loads((data / "ori_pqal.json").read_text())
    test_ids = sorted(json.loads((data / "test_ground_truth.json").read_text()))
    ids = test_ids if split == "test" else sorted(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(build_file(items, ids)))
    print(f"wrote {out}: {len(ids)} untitled articles, one paragraph and one question each")


def old_rule_ids(path: Path) -> int:
    """How many distinct document ids the rule before issue 16 gave this file (title + '#' +
    paragraph number, the title "" when missing): what the index kept."""
    data = json.loads(path.read_text())
    return len({f"{a.get('title', '')}#{pi}" for a in data["data"] for pi, _ in enumerate(a["paragraphs"])})


def retrieval(path: Path, top_k: int, embedder: str, json_out: Path | None) -> dict:
    from groundqa.bench.qa import build_context_index, paragraph_id
    from groundqa.bench.squad import load_squad

    items = load_squad(path)
    t0 = time.perf_counter()
    index = build_context_index(items, embedder)
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits1 = hitsk = 0
    rr = 0.0
    for it in items:
        ranked = list(dict.fromkeys(p.doc_id for p in index.search(it.question, top_k=top_k)))  # papers, best first
        gold = paragraph_id(it)
        if gold in ranked:
            r = ranked.index(gold) + 1
            hits1 += r == 1
            hitsk += 1
            rr += 1.0 / r
    n = len(items)
    out = {
        "dataset": path.name,
        "results": {
            "papers": len({it.context for it in items}), "questions": n, "paragraphs_indexed": len(index.doc_ids()), "chunks": len(index),
            "ids_before_fix": old_rule_ids(path),
            "gold_paper_at_1": round(100.0 * hits1 / n, 2), f"gold_paper_in_top_{top_k}_chunks": round(100.0 * hitsk / n, 2),
            f"mrr_at_{top_k}_chunks": round(rr / n, 4),
        },
        "config": {"top_k": top_k, "embedder": embedder, "index_seconds": round(index_s, 1), "search_seconds": round(time.perf_counter() - t0, 1),
                   "command": "python " + " ".join(sys.argv)},
    }
    print(json.dumps(out, indent=1))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(out, indent=1) + "\n")
    return out


def decisions(records: Path, data: Path, json_out: Path | None) -> dict:
    """The generator mostly answers these yes/no questions with a bare "Yes" or "No", which the
    span F1 against the conclusion scores 0. This reads the end-to-end run's records and counts
    how many generated answers are one of yes/no/maybe and how many of those match the paper's
    ``final_decision`` (the guard's verdict aside)."""
    import re

    gold = {qa["id"]: qa["final_decision"] for a in json.loads(data.read_text())["data"] for p in a["paragraphs"] for qa in p["qas"]}
    rows = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    label = {r["id"]: (re.sub(r"[^a-z]", "", r.get("generated", "").lower())) for r in rows}
    said = {i: w for i, w in label.items() if w in ("yes", "no", "maybe")}
    out = {
        "records": str(records), "questions": len(rows), "generated_a_decision": len(said),
        "decision_matches_final_decision": sum(gold[i] == w for i, w in said.items()),
        "returned_by_the_guard_and_matching": sum(gold[r["id"]] == label[r["id"]] for r in rows if r["answered"]),
        "returned_by_the_guard": sum(bool(r["answered"]) for r in rows),
        "gold_decisions": {k: sum(gold[r["id"]] == k for r in rows) for k in ("yes", "no", "maybe")},
        "command": "python " + " ".join(sys.argv),
    }
    print(json.dumps(out, indent=1))
    if json_out:
        json_out.write_text(json.dumps(out, indent=1) + "\n")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="write the SQuAD-format file of untitled articles")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--split", choices=["test", "all"], default="test", help="the 500 official test questions, or all 1,000")
    r = sub.add_parser("retrieval", help="index the file; paragraphs indexed and gold-paper hit rate over every question")
    r.add_argument("--data", type=Path, default=OUT)
    r.add_argument("--top-k", type=int, default=4, help="chunks retrieved per question (the pipeline's default is 4)")
    r.add_argument("--embedder", default="minilm-l6")
    r.add_argument("--json", type=Path, default=None)
    d = sub.add_parser("decisions", help="yes/no/maybe in the generated answers of an end-to-end run against final_decision")
    d.add_argument("--records", type=Path, default=Path("benchmarks/results/qa/pubmedqa_untitled_report/records.jsonl"))
    d.add_argument("--data", type=Path, default=OUT)
    d.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.cmd == "prepare":
        prepare(args.data, args.out, args.split)
    elif args.cmd == "retrieval":
        retrieval(args.data, args.top_k, args.embedder, args.json)
    else:
        decisions(args.records, args.data, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
