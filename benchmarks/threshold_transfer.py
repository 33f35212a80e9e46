"""Does a guard threshold hold on a corpus it was not picked on? (issue 21, twelfth session)

For each threshold rule (the domains the combiner is fitted on, the domains its threshold is picked
on) and each documentation corpus of the calibration set in turn, that corpus is left out of both:
the combiner is fitted on the rest (scores for the threshold cross-fitted, two folds by document
group, as ``calibration_fit.py`` does), the threshold is the lowest support at which the rest's
returned answers reach ``--target-precision``, and the fit on all of the rest scores the left-out
corpus at that threshold: what a user's own corpus would get. Reported per rule: each left-out
corpus's answers returned and right, and the documentation corpora pooled. Calibration data only.

    python benchmarks/threshold_transfer.py --data benchmarks/results/calibration/calibration_answers_qwen15_lora_probe.jsonl \\
        --features seg_lex_min,...,gen_probe --json benchmarks/results/calibration/threshold_transfer_accurate.json

``--docs starlette,click,flask,jinja,markdown,pymdown`` leaves out each of six corpora instead of
five (sixteenth session), and the rules fit and threshold on those.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


DOCS = ("starlette", "click", "flask", "jinja", "markdown")
_COUNT = {5: "five", 6: "six", 7: "seven", 8: "eight"}


def rules(docs: tuple[str, ...] = DOCS) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The four threshold rules over the documentation corpora ``docs`` (and SQuAD): each rule's
    fit domains and threshold domains, by name."""
    n, m = _COUNT.get(len(docs), str(len(docs))), _COUNT.get(len(docs) + 1, str(len(docs) + 1))
    return {
        "R1 shipped: fit and threshold on Starlette, Click": (("starlette", "click"), ("starlette", "click")),
        f"R2: fit and threshold on the {n} documentation corpora": (docs, docs),
        f"R3: fit on all {m}, threshold on the {n} documentation corpora": (docs + ("squad",), docs),
        f"R4: fit and threshold on all {m}": (docs + ("squad",), docs + ("squad",)),
    }


def transfer(recs: list[dict[str, Any]], feats: list[str], fit: tuple[str, ...], pick: tuple[str, ...], out: str,
             target: float, l2: float, table: Any = None) -> dict[str, Any]:
    """The left-out corpus ``out`` at the threshold the rest picks (``fit`` and ``pick`` without it).
    ``table``: ``calibration_fit.claim_table(recs, feats)``, built once by the caller (built here if
    not given)."""
    from calibration_fit import answer_support, claim_table, cv_threshold  # this script's folder is on sys.path

    fit_d, pick_d = set(fit) - {out}, set(pick) - {out}
    X, Y, own, groups = table if table is not None else claim_table(recs, feats)
    # the rule without the left-out corpus; its claims, outside the fit, are scored by the fit on all of the rest
    p, thr = cv_threshold(recs, X, Y, own, groups, feats, fit_d, pick_d, target, l2)
    test = [i for i, r in enumerate(recs) if r["domain"] == out]
    scores = {i: answer_support(recs[i], p[own == i]) if (own == i).any() else None for i in test}
    t = 1.0 if thr is None else thr
    ret = [i for i in test if scores[i] is not None and scores[i] >= t]
    return {"threshold": None if thr is None else round(float(thr), 4), "returned": len(ret),
            "right": sum(bool(recs[i]["right"]) for i in ret),
            "generated_right": sum(bool(recs[i]["right"]) for i in test), "questions": len(test)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="answers JSONL (calibration_set.py, with gen_probe merged where it is used)")
    ap.add_argument("--features", required=True, help="comma list of the combiner's signals")
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--docs", default=",".join(DOCS), help="the documentation corpora, each left out in turn (default: the five "
                    "of the fourteenth session; add pymdown for the sixteenth's six)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    docs = tuple(d.strip() for d in args.docs.split(",") if d.strip())
    from calibration_fit import claim_table  # this script's folder is on sys.path

    from groundqa.verify.calibrate import DEFAULT_L2

    recs = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    feats = [f.strip() for f in args.features.split(",") if f.strip()]
    missing = [f for f in feats if not any(f in c["signals"] for r in recs for c in r["claims"])]
    if missing:
        raise SystemExit(f"--features: no claim of {args.data} has {missing}")
    table = claim_table(recs, feats)  # the same claims for every rule and left-out corpus
    report: dict[str, Any] = {"data": args.data, "features": feats, "target_precision": args.target_precision, "rules": {}}
    missing_docs = [d for d in docs if not any(r["domain"] == d for r in recs)]
    if missing_docs:
        raise SystemExit(f"--docs: {args.data} has no answers of {missing_docs}; leave them out")
    print(f"{'rule':66} " + " ".join(f"{d:>14}" for d in docs) + "   docs pooled")
    for name, (fit, pick) in rules(docs).items():
        per = {d: transfer(recs, feats, fit, pick, d, args.target_precision, DEFAULT_L2, table) for d in docs}
        ret, right = sum(p["returned"] for p in per.values()), sum(p["right"] for p in per.values())
        pooled = {"returned": ret, "right": right, "precision": round(right / ret, 4) if ret else None,
                  "worst_corpus_precision": min((p["right"] / p["returned"] for p in per.values() if p["returned"]), default=None)}
        report["rules"][name] = {"fit": list(fit), "threshold_on": list(pick), "left_out": per, "docs_pooled": pooled}
        print(f"{name:66} " + " ".join(f"{p['right']:>3}/{p['returned']:<3}@{(p['threshold'] or 1):.2f}" for p in per.values())
              + f"   {right}/{ret} ({pooled['precision']})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
