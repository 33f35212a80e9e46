"""Score a cross-encoder verifier on labelled (claim, evidence) pairs: AUROC, accuracy at 0.5,
per kind. Used for the model card's validation numbers (held-out SNLI and synthetic pairs from
the 2 validation titles) and for comparisons on sets that may not train shipped weights.

    python benchmarks/guard_eval_pairs.py --verifier default --pairs ~/.cache/groundqa/vrun1/val_pairs.jsonl \
        --json benchmarks/results/guard/guard_verifier_val.json
    python benchmarks/guard_eval_pairs.py --verifier default --rte ../shared/data/nli/covidfact/rte_covidfact_dev.tsv
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from groundqa.verify.data import load_rte_tsv
from groundqa.verify.metrics import auroc
from groundqa.verify.scorers import CrossEncoderScorer
from groundqa.verify.synth import Pair, iter_jsonl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verifier", default="default")
    ap.add_argument("--pairs", default=None, help="jsonl of Pair dicts (claim, evidence, label, kind)")
    ap.add_argument("--rte", default=None, help="RTE-format tsv (evidence, claim, entailment|not_entailment)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.pairs:
        pairs = [Pair(**d) for d in iter_jsonl(args.pairs)]
    elif args.rte:
        pairs = load_rte_tsv(args.rte, "rte")
    else:
        raise SystemExit("pass --pairs or --rte")
    pairs = pairs[: args.limit] if args.limit else pairs
    ce = CrossEncoderScorer(args.verifier)
    ce.warm_up()
    t = time.perf_counter()
    p = ce.predict([(x.claim, x.evidence) for x in pairs])
    secs = time.perf_counter() - t
    y = np.array([x.label for x in pairs])
    out = {"verifier": args.verifier, "data": args.pairs or args.rte, "pairs": len(pairs), "auroc": auroc(y, p), "accuracy@0.5": float(np.mean((p >= 0.5) == y)), "pairs_per_s": len(pairs) / secs, "by_source": {}, "by_kind": {}}
    for key, attr in (("by_source", "source"), ("by_kind", "kind")):
        groups = defaultdict(list)
        for i, x in enumerate(pairs):
            groups[getattr(x, attr).split(":")[0] if attr == "source" else getattr(x, attr)].append(i)
        for g, idx in sorted(groups.items()):
            yy, pp = y[idx], p[idx]
            out[key][g] = {"n": len(idx), "accuracy@0.5": float(np.mean((pp >= 0.5) == yy)), "auroc": auroc(yy, pp) if 0 < yy.sum() < len(yy) else None}
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            f.write(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
