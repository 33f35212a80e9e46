"""Print the guard v2 table (issue 13) from the results files written by recipes/verifier_v2_train.sh.

    python benchmarks/guard_v2_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "guard"
ROWS = [
    ("v1", "shipped cross-encoder v1 + lexical + embedding (the default before)"),
    ("v2", "cross-encoder v2 (retrained) + lexical + embedding"),
    ("judge05", "0.5B judge + lexical (no cross-encoder, no embedder)"),
    ("v1_judge05", "v1 + lexical + embedding + 0.5B judge"),
    ("v2_judge05", "v2 + lexical + embedding + 0.5B judge"),
]


def main() -> None:
    for data in ("wice", "halu600"):
        print(f"\n{data}: test-half BA / AUROC, 2-fold mean BA / AUROC, word-overlap BA (test half), model signals' AUROC alone, claims/s")
        for key, what in ROWS:
            f = RESULTS / f"guard_v2_{data}_{key}.json"
            if not f.exists():
                print(f"  {key:<11} (not run: {f.name} missing)")
                continue
            d = json.loads(f.read_text())
            d = d.get("scores", d)  # a result file in the schema (benchmarks/run.py) holds the bench's output in 'scores'
            tf = d.get("two_fold_mean", {})
            sig = {k: round(v, 3) for k, v in d.get("signal_auroc", {}).items() if k != "seg_lex_min"}
            print(f"  {key:<11} {d['balanced_accuracy']:.3f} / {d['auroc']:.3f}   {tf.get('balanced_accuracy', float('nan')):.3f} / "
                  f"{tf.get('auroc', float('nan')):.3f}   overlap {d['baselines']['word_overlap']['balanced_accuracy']:.3f}   {sig}   "
                  f"{d['claims_per_s']:.2f}   {what}")


if __name__ == "__main__":
    main()
