"""Write the labelled file the shipped calibration is fitted on: synthetic pairs from the 2
validation titles of the verifier recipe (SQuAD v1.1 dev training articles 35-36 in sorted order,
never trained on). Question+answer pairs are written with ``question`` and the answer as ``claim``,
so the guard reads them as it reads a short generated answer.

    python benchmarks/guard_calibration_data.py --squad ../shared/data/squad_v1.1_dev/dev-v1.1.json \
        --out benchmarks/results/guard/guard_calibration_pairs.jsonl
"""

from __future__ import annotations

import argparse
import json
import random

from groundqa.verify.synth import pairs_from_squad, squad_articles, squad_training_titles

QA_KINDS = {"qa", "swap", "number", "wrong_passage"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max", type=int, default=3000)
    args = ap.parse_args()
    titles = squad_training_titles(args.squad)[-2:]
    pairs = pairs_from_squad(squad_articles(args.squad, titles), seed=args.seed)
    random.Random(args.seed).shuffle(pairs)
    pairs = pairs[: args.max]
    with open(args.out, "w", encoding="utf-8") as f:
        for i, p in enumerate(pairs):
            rec = {"id": f"synth{i}", "claim": p.claim, "evidence": p.evidence, "label": "supported" if p.label else "unsupported", "kind": p.kind}
            if p.kind in QA_KINDS and "? " in p.claim:
                q, a = p.claim.split("? ", 1)
                rec["question"], rec["claim"] = q + "?", a
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"{len(pairs)} pairs from {titles} -> {args.out}")


if __name__ == "__main__":
    main()
