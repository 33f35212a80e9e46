"""The 0.5B judge on WiCE's oracle chunks (the gold sentences plus random distractors, ~240 words),
instead of windows chosen from the whole page: does the judge fail for lack of evidence, or at
reading it? One chunk (the first) per claim, the first N distinct claims of the dev file.

    python benchmarks/guard_judge_oracle.py 80 --json benchmarks/results/guard/guard_v2_judge_oracle.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from groundqa.verify.metrics import auroc
from groundqa.pipeline import make_judge


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--data", default="../shared/data/wice_claims/oracle_chunks_claim_dev.jsonl")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    seen: set[str] = set()
    items = []
    for line in open(args.data, encoding="utf-8"):
        r = json.loads(line)
        if r["claim"] not in seen:
            seen.add(r["claim"])
            items.append(r)
    items = items[: args.n]
    judge = make_judge()
    judge.warm_up()
    t = time.time()
    lp = judge._gen.choice_logprobs_batch([(r["claim"], [" ".join(r["evidence"])]) for r in items], ["yes", "Yes", "no", "No"])
    s = np.array([np.logaddexp(a, b) - np.logaddexp(c, d) for a, b, c, d in lp])
    y = np.array([int(r["label"] == "supported") for r in items])
    out = {"n": len(items), "supported": int(y.sum()), "auroc": auroc(y, s), "seconds_per_claim": (time.time() - t) / len(items),
           "judge": judge.model, "data": args.data}
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            f.write(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
