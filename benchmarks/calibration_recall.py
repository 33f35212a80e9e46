"""Where the calibration set's right answers are lost: retrieval or reading (issue 21, eleventh session).

For each answerable question of a ``calibration_set.py`` answers file, the same retrieval is run
again on the cached indexes (top 10), and the rank of the first passage whose text holds a gold
answer is found (normalised: lower case, whitespace collapsed, backticks, quotes and ``*`` removed;
a gold string can also occur in a passage that does not answer, so this is an upper bound on what
retrieval found). Per domain: how many questions have a gold answer in the top 1, 2, 4 (what the
generator is shown), 6 and 10 passages, how many the generator answered right, and how many it got
wrong or declined although a shown passage held the answer.

    python benchmarks/calibration_recall.py benchmarks/results/calibration/calibration_answers.jsonl \\
        --json benchmarks/results/calibration/calibration_recall.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

KS = (1, 2, 4, 6, 10)


def norm(text: str) -> str:
    return " ".join(re.sub(r"[`\"'*]", "", text).lower().split())


def first_rank(texts: list[str], answers: list[str]) -> int | None:
    """The 0-based rank of the first text that holds one of ``answers`` (normalised), or None."""
    gold = [norm(a) for a in answers if norm(a)]
    return next((i for i, t in enumerate(texts) if any(g in norm(t) for g in gold)), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("answers", type=Path, help="a calibration_set.py answers file (JSONL)")
    ap.add_argument("--cache", type=Path, default=Path("runs/calibration/index"), help="the calibration set's saved indexes")
    ap.add_argument("--shown", type=int, default=4, help="passages the generator was shown (the calibration set: 4)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    from groundqa.index import HybridIndex

    recs = [json.loads(line) for line in a.answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    by: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        if r["answerable"]:
            by.setdefault(r["domain"], []).append(r)
    out: dict[str, dict[str, int]] = {}
    for dom, rows in sorted(by.items()):
        folder = a.cache / dom
        if not (folder / "manifest.json").exists():
            raise SystemExit(f"no saved index for {dom!r} in {folder}; build it with: python benchmarks/calibration_set.py "
                             f"--domains {dom} --limit 0 --out /tmp/none.jsonl")
        hits = HybridIndex.load(folder).search_batch([r["question"].strip() for r in rows], top_k=max(KS))
        c = {"answerable": len(rows), **{f"in_top{k}": 0 for k in KS}, "right": 0, "shown_not_right": 0}
        for r, h in zip(rows, hits):
            rank = first_rank([x.chunk.text for x in h], r["answers"])
            for k in KS:
                c[f"in_top{k}"] += rank is not None and rank < k
            c["right"] += bool(r["right"])
            c["shown_not_right"] += (not r["right"]) and rank is not None and rank < a.shown
        out[dom] = c
    cols = ["answerable", *[f"in_top{k}" for k in KS], "right", "shown_not_right"]
    print("| domain | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for dom, c in out.items():
        print(f"| {dom} | " + " | ".join(str(c[k]) for k in cols) + " |")
    if a.json:
        a.json.write_text(json.dumps({"answers": str(a.answers), "shown": a.shown, "by_domain": out}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
