"""How often each reason the guard names fires on a claim that is true (issue 21, deliverable 2).

The calibration set measures the reasons on short answers read with their questions
(``benchmarks/calibration_fit.py``, its ``reasons`` table). This measures them on whole-sentence
claims: the WiCE dev claims (``../shared/data/wice_claims/claims_binary_dev.jsonl``, real Wikipedia
sentences checked against the page they cite; binary label: supported or not), each verified
against its page's sentences. For every reason: on how many claims it fires, how many of those are
supported, and that share beside the supported share of all claims. A reason that fires on
supported claims at the base rate tells a user nothing.

The reasons come from the guard's lexical signals and answer checks, which no model changes, so the
guard runs without its cross-encoder (``Guard(None)``: the embedder picks nothing here). WiCE dev
is a benchmark the project reports the guard on: measure here, do not tune here.

    python benchmarks/guard_reasons.py --json benchmarks/results/guard/guard_reasons_wice.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WICE = ROOT.parent / "shared" / "data" / "wice_claims" / "claims_binary_dev.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(WICE))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from calibration_fit import reason_lines, tally_reasons  # this script's folder is on sys.path

    from groundqa.types import Chunk, Passage
    from groundqa.verify.guard import Guard

    rows = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    guard = Guard(None, threshold=1.0)  # every claim keeps its reasons
    t0 = time.perf_counter()
    judged: list[tuple[list[str], bool]] = []  # each WiCE claim: every reason the guard names, and its label
    n = {"claims": len(rows), "supported": 0}
    for r in rows:
        ok = r["label"] == "supported"
        n["supported"] += int(ok)
        page = " ".join(r["evidence_sentences"])
        passage = Passage(chunk=Chunk(id=r["id"], doc_id=r["id"], text=page, start=0, end=len(page)), score=1.0, rank=1)
        res = guard.verify(None, r["claim"], [passage])
        judged.append(([w for c in res.claims for w in c.reasons], ok))
    base = n["supported"] / max(1, n["claims"])
    fires = tally_reasons(judged, on="on_supported", share="supported_share")
    report = {"config": {"data": args.data, "label": "WiCE binary label (supported; partially and not supported count as not)",
                         "guard": "Guard(None, threshold=1.0): lexical and embedding signals, answer checks, every reason kept",
                         "command": "python " + " ".join(sys.argv)},
              "claims": n["claims"], "supported": n["supported"], "base_supported_share": round(base, 3),
              "reasons": fires, "seconds": round(time.perf_counter() - t0, 1)}
    print(f"{n['claims']} claims, {n['supported']} supported (base share {base:.3f})")
    print(f"  {'fires':>5} {'supp.':>5} {'share':>5}  reason")
    print("\n".join(reason_lines(report["reasons"], on="on_supported", share="supported_share")))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
