"""Check a documentation corpus's question files before any model runs on them (issue 21).

    python benchmarks/check_questions.py black-26.10.1 runs/q/black_A.json runs/q/black_B.json

For writers of ``benchmarks/data/docs_qa/<corpus>_questions.json`` (helper sessions write halves of
it): the keys of each question, unique ids and questions, unanswerable ones with no answer and no
source, a source that is a file under the snapshot's ``docs/``, every accepted gold form found by
the docs-QA judge in that file, the first form in the text the project's loader keeps of it, and no
gold shared by two questions across all the files given. The data test
(``tests/benchmarks/test_docs_qa_data.py``) asks the same of the committed file. Prints each problem
and ends with ``OK`` or ``PROBLEMS FOUND`` (exit status 0 or 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEYS = {"id", "question", "answers", "source", "answerable"}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    from docs_qa import is_right  # this script's folder is on sys.path

    from groundqa.documents import load_documents

    docs = Path(__file__).resolve().parent / "data" / "docs_qa" / argv[0] / "docs"
    if not docs.is_dir():
        raise SystemExit(f"no snapshot folder {docs}: name a folder under benchmarks/data/docs_qa (e.g. black-26.10.1)")
    loaded = {d.id: d.text for d in load_documents([str(docs)]).documents}
    raw = {p.relative_to(docs).as_posix(): p.read_text(encoding="utf-8") for p in docs.rglob("*") if p.is_file()}
    problems = 0
    ids: set[str] = set()
    questions: set[str] = set()
    golds: dict[str, str] = {}
    for f in argv[1:]:
        qs = json.loads(Path(f).read_text(encoding="utf-8"))["questions"]
        print(f, len(qs), "questions,", sum(q["answerable"] for q in qs), "answerable")
        for q in qs:
            found: list[str] = []
            if set(q) != KEYS:
                found.append(f"keys {sorted(q)}; use exactly {sorted(KEYS)}")
            if q.get("id") in ids:
                found.append("duplicate id")
            if q.get("question") in questions:
                found.append("duplicate question")
            ids.add(q.get("id"))
            questions.add(q.get("question"))
            if not q.get("answerable"):
                if q.get("answers") != [] or q.get("source") is not None:
                    found.append("an unanswerable question has answers [] and source null")
            elif q.get("source") not in raw:
                found.append(f"source {q.get('source')!r} is not a file under docs/ (use a path relative to docs/)")
            elif not q.get("answers"):
                found.append("no gold answers")
            else:
                for g in q["answers"]:
                    if not is_right(raw[q["source"]], [g]):
                        found.append(f"gold {g!r} not found (judge rule) in the raw file {q['source']}")
                    other = golds.setdefault(g.lower(), q["id"])
                    if other != q["id"]:
                        found.append(f"gold {g!r} also a gold of {other}")
                if not is_right(loaded.get(q["source"], ""), q["answers"][:1]):
                    found.append(f"first gold {q['answers'][0]!r} not in the loaded text of {q['source']}")
            for msg in found:
                print("  PROBLEM", q.get("id"), msg)
            problems += len(found)
    print("OK" if not problems else "PROBLEMS FOUND")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
