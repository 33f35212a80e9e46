"""How often the guard's answer checks fire on answers that are right by construction (issue 21).

Every check of ``groundqa.verify.answer_check.answer_problem`` is run on gold answers with the
passage that holds them: SQuAD v1.1 dev questions of the articles no benchmark reports on (not the
12 last titles of v1.1 or v2.0 dev), each against its own paragraph, and the answerable
documentation questions written for the calibration set (Starlette calibration files, Click,
Flask, Jinja, Python-Markdown), each against its source file. A check that fires here withholds a
right answer; the issue's rule is that no reason may be wrong more than 1 time in 10.

    python benchmarks/answer_check_gold.py --json benchmarks/results/guard/answer_check_gold.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default=None)
    ap.add_argument("--examples", type=int, default=5, help="examples kept per check and domain")
    args = ap.parse_args()

    from calibration_set import CAL_FILES, DOCS, DOCS_CORPORA, docs_questions

    from groundqa.documents import load_documents
    from groundqa.verify.answer_check import _NUMBER_QUESTION, answer_problem

    v1 = json.loads((SHARED / "squad_v1.1_dev" / "dev-v1.1.json").read_text(encoding="utf-8"))["data"]
    v2 = json.loads((SHARED / "squad_v2.0_dev" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    held = set(sorted(a["title"] for a in v1)[-12:]) | set(sorted(a["title"] for a in v2)[-12:])
    cases: list[tuple[str, str, str, str, str]] = []  # (domain, question, gold, evidence, the evidence's document title)
    for a in v1:
        if a["title"] in held:
            continue
        for p in a["paragraphs"]:
            for q in p["qas"]:
                cases.append(("squad", q["question"], q["answers"][0]["text"], p["context"], a["title"]))  # the title the QA benchmarks index it under (its doc_id)
    loaded: dict[Path, Any] = {}  # several questions share a source file: read and parse it once
    for domain in DOCS_CORPORA:
        folder = DOCS / DOCS_CORPORA[domain] / "docs"
        for q in docs_questions(domain):
            source = q.get("source") or q.get("group") or ""  # the calibration set names a question's file as its group
            if not q["answerable"] or not source or not q.get("answers"):
                continue
            if domain == "starlette" and source not in CAL_FILES:
                continue  # the held-out Starlette files are the benchmark
            src = folder / source
            if src.exists():  # the text and title the guard sees: the document as the loader reads it (rst as Markdown)
                if src not in loaded:
                    loaded[src] = load_documents([str(src)]).documents[0]
                doc = loaded[src]
                cases.append((domain, q["question"], q["answers"][0], doc.text, str(doc.metadata.get("title", ""))))
    t0 = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    examples: dict[str, list[dict[str, str]]] = {}
    asked_number: dict[str, int] = {}
    for domain, question, gold, evidence, title in cases:
        c = counts.setdefault(domain, {"answers": 0})
        c["answers"] += 1
        if _NUMBER_QUESTION.search(question):
            asked_number[domain] = asked_number.get(domain, 0) + 1
        p = answer_problem(question, gold, [evidence], [title])
        if p is None:
            continue
        c[p.kind] = c.get(p.kind, 0) + 1
        ex = examples.setdefault(f"{domain}:{p.kind}", [])
        if len(ex) < args.examples:
            ex.append({"question": question, "gold": gold, "reason": p.reason})
    report = {"config": {"squad": "v1.1 dev, articles outside the held-out ones, each gold answer against its paragraph",
                         "docs": "answerable calibration questions (Starlette calibration files, Click, Flask, Jinja, Python-Markdown), gold against "
                                 "the source file as the document loader reads it, with its title",
                         "command": "python " + " ".join(sys.argv)},
              "fires": counts, "number_questions": asked_number, "examples": examples, "seconds": round(time.perf_counter() - t0, 1)}
    print(f"{'domain':10} {'answers':>7}  fires by check")
    for d, c in counts.items():
        rest = {k: v for k, v in c.items() if k != "answers"}
        print(f"{d:10} {c['answers']:7}  {rest}  (questions asking for a number: {asked_number.get(d, 0)})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
