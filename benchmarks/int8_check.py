"""Shipped weights in int8 (issue 23): does the verifier's output move? Scores the same
(claim, evidence) pairs with the float16 verifier (the one shipped before, loaded as float32) and
the int8 one (loaded as float32), and prints the largest and mean absolute difference in
P(supported) and the balanced accuracy of each at 0.5 and at the best threshold of the fp16 model.

Pairs: WiCE dev (349 claims, evidence = the gold supporting sentences of the first set, or for
claims without one, the first 8 sentences of the cited page) and HaluEval QA (1,500 answers,
claim = question + answer, evidence = the knowledge passage).

    python benchmarks/int8_check.py FP16_DIR INT8_DIR [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

D = Path(__file__).resolve().parents[2] / "shared" / "data"


def ba(y: np.ndarray, p: np.ndarray, t: float) -> float:
    pred = p >= t
    return float(0.5 * ((pred[y == 1]).mean() + (~pred[y == 0]).mean()))


def pairs_wice() -> tuple[list[tuple[str, str]], np.ndarray]:
    rows = [json.loads(line) for line in (D / "wice_claims" / "claims_binary_dev.jsonl").open()]
    pairs, ys = [], []
    for r in rows:
        sents = r["evidence_sentences"]
        sets = r.get("gold_supporting_sentence_sets") or []
        idx = sets[0] if sets and sets[0] else list(range(min(8, len(sents))))
        pairs.append((r["claim"], " ".join(sents[i] for i in idx if i < len(sents))))
        ys.append(int(r["label"] == "supported"))
    return pairs, np.array(ys)


def pairs_halueval() -> tuple[list[tuple[str, str]], np.ndarray]:
    rows = [json.loads(line) for line in (D / "halueval_qa500" / "claims.jsonl").open()]
    return [(f"{r['question']} {r['answer']}", r["context"]) for r in rows], np.array([int(r["label"] == "supported") for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fp16")
    ap.add_argument("int8")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from groundqa.verify.scorers import CrossEncoderScorer

    models = {name: CrossEncoderScorer(path, threads=1) for name, path in (("fp16", a.fp16), ("int8", a.int8))}
    report = {}
    for set_name, (pairs, y) in (("wice", pairs_wice()), ("halueval", pairs_halueval())):
        probs = {}
        for name, m in models.items():
            t0 = time.time()
            probs[name] = m.predict(pairs)
            report.setdefault(set_name, {})[f"{name}_seconds"] = round(time.time() - t0, 1)
        d = np.abs(probs["fp16"] - probs["int8"])
        grid = np.unique(probs["fp16"])
        best_t = float(max(grid, key=lambda t: ba(y, probs["fp16"], t)))
        r = report[set_name] | {
            "pairs": len(pairs), "max_abs_diff": round(float(d.max()), 5), "mean_abs_diff": round(float(d.mean()), 6),
            "ba_fp16_at_0.5": round(ba(y, probs["fp16"], 0.5), 4), "ba_int8_at_0.5": round(ba(y, probs["int8"], 0.5), 4),
            "best_threshold_fp16": round(best_t, 4),
            "ba_fp16_at_best": round(ba(y, probs["fp16"], best_t), 4), "ba_int8_at_best": round(ba(y, probs["int8"], best_t), 4),
            "decisions_changed_at_0.5": int(((probs["fp16"] >= 0.5) != (probs["int8"] >= 0.5)).sum()),
        }
        report[set_name] = r
        print(set_name, json.dumps(r))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
