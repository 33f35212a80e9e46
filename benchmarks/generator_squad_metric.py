"""Reproduce the official SQuAD scores of the BERT reference predictions with groundqa's metric code.

Expected (the SQuAD leaderboard): v1.1 BERT ensemble EM 86.2 / F1 92.2; v2.0 BERT single EM 78.7 / F1 81.8.

    python benchmarks/generator_squad_metric.py --json benchmarks/results/generator/generator_squad_metric.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from groundqa.bench.squad import evaluate_predictions

ROOT = Path("/work/shared/data")
CASES = {
    "squad_v1.1_dev": ("squad_v1.1_dev/dev-v1.1.json", "squad_v1.1_dev/reference_predictions/BERT_ensemble_Google_AI_Language.json", "1.1", (86.2, 92.2)),
    "squad_v2.0_dev": ("squad_v2.0_dev/dev-v2.0.json", "squad_v2.0_dev/reference_predictions/BERT_single_Google_AI_Language.json", "2.0", (78.7, 81.8)),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(ROOT))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    out = {}
    for name, (data, preds, version, (em_ref, f1_ref)) in CASES.items():
        dataset = json.loads((Path(a.root) / data).read_text())
        predictions = json.loads((Path(a.root) / preds).read_text())
        s = evaluate_predictions(dataset, predictions, version=version).to_dict()
        s["published"] = {"exact": em_ref, "f1": f1_ref}
        s["matches_published"] = round(s["exact"], 1) == em_ref and round(s["f1"], 1) == f1_ref
        out[name] = s
        print(name, json.dumps(s))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
