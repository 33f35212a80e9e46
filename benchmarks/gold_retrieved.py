"""Where a generator's right answers are lost on documentation: retrieval or reading (issue 21).

For each answerable documentation question of a ``calibration_set.py`` answers file, whether the
top-k chunks retrieved for it (the same cached index ``calibration_set.py`` answered from) hold a
gold answer by the docs-QA judging rule, and whether the evidence windows the generator reads of
them (``--window-words`` words a passage, the generators' default 40) still hold it, beside
whether the stored answer is right. Reported per domain: questions, gold retrieved, gold shown,
right, right with the gold shown, retrieved, and not retrieved.

    python benchmarks/gold_retrieved.py --data benchmarks/results/calibration/calibration_answers_qwen15_sixth_probe.jsonl \\
        --domains starlette,click,flask,jinja,markdown,pymdown,marshmallow --json benchmarks/results/calibration/gold_retrieved_qwen15_sixth.json

"Gold shown" is read from the chunks' windows as the generator cuts them (the guard checks claims
against the whole chunks).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def row(name: str, c: Counter[str]) -> str:
    """One table line: a domain's (or all domains') counts, under the header ``main`` prints."""
    return (f"{name:12} {c['answerable']:10} {c['gold_retrieved']:14} {c['gold_shown']:10} {c['right']:6} {c['right_shown']:13} "
            f"{c['right_retrieved']:17} {c['right_not_retrieved']:11}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="answers JSONL written by calibration_set.py")
    ap.add_argument("--domains", required=True, help="documentation domains, comma-separated")
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--window-words", type=int, default=40, help="words a passage in the generator's windows (its default: 40)")
    from groundqa.generate.context import WINDOW_SPLITS  # pure: no model, no torch

    ap.add_argument("--window-split", choices=WINDOW_SPLITS, default="even",
                    help="how the windows share their words: even (the default profile's) or rank (1/rank of the same total; accurate's)")
    ap.add_argument("--cache", default="runs/calibration/index", help="the index folders calibration_set.py saved (rebuilt if missing)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from calibration_set import DOCS, DOCS_CORPORA, docs_index  # this script's folder is on sys.path
    from docs_qa import is_right

    from groundqa.generate.context import question_windows

    recs = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    out: dict[str, Any] = {"data": args.data, "top_k": args.top_k, "window_words": args.window_words,
                           "window_split": args.window_split, "domains": {}}
    total: Counter[str] = Counter()
    print(f"{'domain':12} {'answerable':>10} {'gold retrieved':>14} {'gold shown':>10} {'right':>6} {'right | shown':>13} {'right | retrieved':>17} {'right | not':>11}")
    for d in [x.strip() for x in args.domains.split(",") if x.strip()]:
        if d not in DOCS_CORPORA:
            raise SystemExit(f"unknown documentation domain {d!r}; use one of {sorted(DOCS_CORPORA)}")
        rs = [r for r in recs if r["domain"] == d and r["answerable"]]
        if not rs:
            raise SystemExit(f"no answerable question of domain {d!r} in {args.data}")
        index = docs_index(DOCS / DOCS_CORPORA[d] / "docs", Path(args.cache) / d)
        c: Counter[str] = Counter()
        for r in rs:
            hits = [h.text for h in index.search(r["question"], top_k=args.top_k)]
            got = any(is_right(t, r["answers"]) for t in hits)
            shown = got and any(is_right(w.text, r["answers"]) for w in question_windows(r["question"], hits, args.window_words, args.window_split))
            c.update(answerable=1, gold_retrieved=int(got), gold_shown=int(shown), right=int(bool(r["right"])),
                     right_shown=int(shown and bool(r["right"])),
                     right_retrieved=int(got and bool(r["right"])), right_not_retrieved=int(not got and bool(r["right"])))
        out["domains"][d] = dict(c)
        total.update(c)
        print(row(d, c))
    out["all"] = dict(total)
    print(row("all", total))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
