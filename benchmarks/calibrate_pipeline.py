"""Calibrate the guard on the pipeline's own answers (issue 4's `calibrate`, issue 5's thresholds).

The shipped combiner was first fitted on synthetic pairs; the guard then passed plausible wrong
spans that the generator copied from a retrieved paragraph. Here the whole pipeline (policy
`return`) answers SQuAD v2.0 questions from articles that no benchmark reports on, each claim is
labelled by the answer's correctness (answerable and F1 >= 0.5 with a gold answer: supported;
otherwise, and always for an unanswerable question: unsupported), and the combiner and its
thresholds are fitted on the guard's own signals for those claims.

    python benchmarks/calibrate_pipeline.py --data ../shared/data/squad_v2.0_dev/dev-v2.0.json \
        --v11 ../shared/data/squad_v1.1_dev/dev-v1.1.json --limit 160 \
        --out src/groundqa/data/verifier/calibration.json --json benchmarks/results/guard_pipeline_calibration.json

Excluded articles: the last 12 titles of the v2.0 file and of the v1.1 file (the held-out sets of
the end-to-end and fine-tuning benchmarks).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--v11", required=True)
    ap.add_argument("--limit", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--titles", default=None, help="'|'-separated titles (SQuAD titles hold commas): only questions of these articles (the adapter's dev articles, never trained on)")
    ap.add_argument("--generator", default="default", help="the generator whose answers are labelled (its own calibration)")
    ap.add_argument("--no-generation-signals", action="store_true", help="fit without the generator's confidence signals")
    ap.add_argument("--save-claims", default=None, metavar="FILE.jsonl",
                    help="also save each answer with its question, passages and label, so that `groundqa calibrate --data FILE` "
                         "can refit the combiner for another guard (a new verifier, a judge) without generating again")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from groundqa.bench.qa import build_context_index
    from groundqa.bench.squad import best_over, load_squad
    from groundqa.generate.hf import TransformersGenerator
    from groundqa.generate.prompts import strip_citations
    from groundqa.pipeline import Pipeline
    from groundqa.verify.calibrate import COMBINER_FEATURES, GENERATION_FEATURES, evaluate, fit_with_thresholds, half_split, predict
    from groundqa.verify.guard import Guard

    items = load_squad(args.data)
    excluded = set(sorted({it.doc_id for it in items})[-12:]) | set(sorted({it.doc_id for it in load_squad(args.v11)})[-12:])
    pool = [it for it in items if it.doc_id not in excluded]
    asked = pool
    if args.titles:
        titles = {t.strip() for t in args.titles.split("|") if t.strip()}
        if titles & excluded:
            raise SystemExit(f"--titles names held-out articles {sorted(titles & excluded)}; calibrate on other articles")
        asked = [it for it in pool if it.doc_id in titles]
    rng = random.Random(args.seed)
    has = [it for it in asked if it.answers]
    no = [it for it in asked if not it.answers]
    rng.shuffle(has)
    rng.shuffle(no)
    chosen = has[: args.limit // 2] + no[: args.limit - args.limit // 2]
    if not has or not no:
        raise SystemExit(f"the chosen articles hold {len(has)} answerable and {len(no)} unanswerable questions; "
                         "calibration needs both (check --titles against the file's titles)")
    t0 = time.perf_counter()
    index = build_context_index(pool)
    guard = Guard("default", embedder=index.embedder)
    pipe = Pipeline(index, TransformersGenerator(args.generator), guard, policy="return", top_k=4)
    pipe.warm_up()
    feats = list(guard.features)
    rows, labels, groups = [], [], []
    saved = open(args.save_claims, "w", encoding="utf-8") if args.save_claims else None
    for i in range(0, len(chosen), 8):
        batch = chosen[i : i + 8]
        for it, a in zip(batch, pipe.ask_batch([it.question for it in batch])):
            if not a.claims:
                continue
            _, f1 = best_over(list(it.answers), strip_citations(a.generated), "1.1") if it.answers else (0.0, 0.0)
            if saved:
                saved.write(json.dumps({"id": it.id, "question": it.question, "claim": a.generated, "passages": [p.chunk.text for p in a.passages],
                                        "label": "supported" if (it.answers and f1 >= 0.5) else "unsupported", "article": it.doc_id}) + "\n")
                saved.flush()
            for c in a.claims:
                rows.append([c.signals.get(f, float("nan")) for f in feats])
                labels.append(int(bool(it.answers) and f1 >= 0.5))
                groups.append(it.id)
        print(f"{min(i + 8, len(chosen))}/{len(chosen)} questions, {len(rows)} claims", file=sys.stderr, flush=True)
    if saved:
        saved.close()
    X, y = np.array(rows), np.array(labels)
    wanted = COMBINER_FEATURES + (() if args.no_generation_signals else GENERATION_FEATURES)
    fold = half_split(groups)
    info = {"data": Path(args.data).name, "claims": int(len(y)), "supported": int(y.sum()), "questions": len(chosen),
            "labels": "answer F1 >= 0.5 with a gold answer of an answerable question", "excluded_titles": sorted(excluded),
            "command": "python " + " ".join(sys.argv), "fitted": time.strftime("%Y-%m-%d")}
    # honest check first: fit on one half (by question), score the other, both ways
    checks = []
    for a_mask in (fold, ~fold):
        comb = fit_with_thresholds(X[a_mask], y[a_mask], feats, args.target_precision, dict(info), wanted=wanted)
        p = predict(comb, X[~a_mask], feats)
        checks.append(evaluate(y[~a_mask], p, comb.threshold))
    final = fit_with_thresholds(X, y, feats, args.target_precision, {**info, "two_fold_check": checks}, wanted=wanted)
    final.save(args.out)
    summary = {"claims": int(len(y)), "supported_share": float(y.mean()), "two_fold": checks, "threshold": final.threshold,
               "thresholds": final.thresholds, "seconds": round(time.perf_counter() - t0, 1), "config": info}
    print(json.dumps(summary, indent=2, default=float))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
