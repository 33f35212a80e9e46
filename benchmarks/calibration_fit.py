"""Fit the guard's combiner on the calibration set (issue 21) and show what it does, per domain.

Reads the answers ``benchmarks/calibration_set.py`` wrote (each claim with the guard's signals,
the generator's confidence among them, and every reason the guard names) and:

1. fits the combiner (logistic regression over ``COMBINER_FEATURES`` and the generation signals)
   on the claims of every generated answer, labelled by whether the answer is right;
2. checks it honestly: two folds by document group (SQuAD article, docs file), each fitted on one
   half and scoring the other; the risk-coverage curve, coverage at 90%/95% precision and AURC per
   domain come from these held-out scores;
3. picks the threshold on the held-out scores: the lowest support at which the returned answers of
   the whole set reach ``--target-precision`` (an answer is as strong as its weakest claim; a claim
   that an answer check or an exact number check caps is never returned);
4. counts each reason: on how many claims it fires, and on how many of those the answer is right
   (a reason that fires on right answers more than 1 time in 10 is reported as ``wrong_share``);
5. writes the combiner (``--out``), the report (``--json``) and a risk-coverage plot (``--plot``).

    python benchmarks/calibration_fit.py --data runs/calibration/answers.jsonl \
        --out src/groundqa/data/verifier/calibration.json --json benchmarks/results/calibration/calibration_fit.json \
        --plot benchmarks/results/calibration/calibration_risk_coverage.png
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# the reasons that cap a claim below the threshold whatever its signals (answer and exact checks)
CAPS = re.compile(r"only repeats words of the question|appears in no evidence sentence|is not a code name in the evidence|"
                  r"but not where it names|share no word with the question|the question asks for a number|number or date '.*' appears in no evidence")


def answer_support(rec: dict[str, Any], claim_probs: Any) -> float | None:
    """An answer's support from its claims' probabilities: as strong as its weakest claim; None (never
    returned) for a decline, an answer without claims, or one an answer or exact check caps."""
    if rec["declined"] or not rec["claims"] or any(CAPS.search(w) for c in rec["claims"] for w in c["reasons"]):
        return None
    return float(np.min(claim_probs))


def stored_support(rec: dict[str, Any], comb: Any) -> float | None:
    """A stored answer (``calibration_set.py``'s record) scored by a loaded combiner: each claim's
    stored signals (NaN where one is missing), then :func:`answer_support`."""
    if not rec["claims"]:
        return None
    x = np.array([[c["signals"].get(f, float("nan")) for f in comb.features] for c in rec["claims"]], dtype=np.float64)
    return answer_support(rec, comb.predict_proba(x))


def claim_table(recs: list[dict[str, Any]], feats: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """One row per claim of ``recs``: its signals ``feats`` (NaN where a claim lacks one), its
    answer's label, the index of its answer in ``recs``, and its document group (``domain:group``)."""
    rows, y, owner, groups = [], [], [], []
    for i, r in enumerate(recs):
        for c in r["claims"]:
            rows.append([c["signals"].get(f, float("nan")) for f in feats])
            y.append(int(r["right"]))
            owner.append(i)
            groups.append(f"{r['domain']}:{r['group']}")
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(feats)), np.array(y), np.array(owner, dtype=int), groups


def cv_threshold(recs: list[dict[str, Any]], X: np.ndarray, y: np.ndarray, claim_of: np.ndarray, groups: list[str], feats: list[str],
                 fit_dom: set[str], pick: set[str], target: float, l2: float) -> tuple[np.ndarray, float | None]:
    """Each claim's held-out probability (two folds by document group; a domain outside
    ``fit_dom`` scored by the fit on all of it) and the threshold rule's pick: the lowest support
    at which the answers of the ``pick`` domains returned reach ``target`` precision (None: none)."""
    from groundqa.metrics.selective import threshold_at_precision
    from groundqa.verify.calibrate import half_split
    from groundqa.verify.combiner import fit_combiner

    in_fit = np.array([recs[i]["domain"] in fit_dom for i in claim_of])
    fold = half_split(groups)
    p_cv = np.zeros(len(y))
    for train in (fold, ~fold):
        comb = fit_combiner(X[train & in_fit], y[train & in_fit], feats, l2=l2)
        p_cv[~train & in_fit] = comb.predict_proba(X[~train & in_fit])
    if (~in_fit).any():  # an unseen domain: scored by the fit on every claim of the fitted domains
        p_cv[~in_fit] = fit_combiner(X[in_fit], y[in_fit], feats, l2=l2).predict_proba(X[~in_fit])
    sel = [i for i, r in enumerate(recs) if r["domain"] in pick]
    scores = [answer_support(recs[i], p_cv[claim_of == i]) for i in sel]
    return p_cv, threshold_at_precision(scores, [bool(recs[i]["right"]) for i in sel], target)


def bootstrap_thresholds(recs: list[dict[str, Any]], feats: list[str], fit_dom: set[str], pick: set[str], target: float,
                         l2: float, n: int, seed: int = 0) -> dict[str, Any]:
    """How far the threshold rule's pick moves with other calibration data of the same kind: ``n``
    resamples of the document groups (with replacement; a group drawn twice keeps its name, so
    both copies fall in the same fold), the whole rule run on each."""
    from groundqa.errors import ConfigError

    rng = np.random.default_rng(seed)
    by: dict[str, list[int]] = {}
    for i, r in enumerate(recs):
        by.setdefault(f"{r['domain']}:{r['group']}", []).append(i)
    names = sorted(by)
    got: list[float | None] = []
    unfit = 0
    for _ in range(n):
        rs = [recs[i] for g in rng.choice(names, size=len(names), replace=True) for i in by[str(g)]]
        Xb, yb, ob, gb = claim_table(rs, feats)
        try:
            got.append(cv_threshold(rs, Xb, yb, ob, gb, feats, fit_dom, pick, target, l2)[1])
        except ConfigError:  # a fold of this resample holds one label only (or nothing): no fit
            unfit += 1
    ok = np.array([t for t in got if t is not None])
    q = np.quantile(ok, [0.05, 0.25, 0.5, 0.75, 0.95]).round(4).tolist() if len(ok) else None
    return {"resamples": n, "seed": seed, "no_threshold": int(sum(t is None for t in got)), "unfit": unfit,
            "quantiles_5_25_50_75_95": q, "std": round(float(ok.std()), 4) if len(ok) else None}


def reason_key(why: str) -> str:
    # a quoted answer ends at a quote followed by a space, punctuation or the end: 'O'Brien' is one
    return re.sub(r"\d+%", "N%", re.sub(r"'.+?'(?=[\s,.;:)]|$)", "'...'", why))


def tally_reasons(items: Iterable[tuple[Iterable[str], bool]], on: str = "on_right", share: str = "wrong_share") -> dict[str, dict[str, Any]]:
    """For (reasons, label) items (one a judged claim): on how many items each reason (by
    ``reason_key``, counted once an item) fires, on how many of those the label holds (``on``), and
    that share (``share``), most frequent first."""
    out: dict[str, dict[str, Any]] = {}
    for whys, label in items:
        for w in {reason_key(x) for x in whys}:
            e = out.setdefault(w, {"fires": 0, on: 0})
            e["fires"] += 1
            e[on] += int(label)
    for e in out.values():
        e[share] = round(e[on] / e["fires"], 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["fires"]))


def reason_lines(reasons: dict[str, dict[str, Any]], on: str = "on_right", share: str = "wrong_share") -> list[str]:
    """``tally_reasons``'s counts as table rows: fires, on how many the label holds, the share, the reason."""
    return [f"  {e['fires']:5} {e[on]:5} {e[share]:5.2f}  {w}" for w, e in reasons.items()]


def reason_rates(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each reason the guard names: on how many claims it fires, on how many of those the answer is
    right, and that share (``wrong_share``: deliverable 2's bar is 1 in 10), most frequent first."""
    return tally_reasons((c["reasons"], bool(r["right"])) for r in recs for c in r["claims"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs="+", required=True, help="answers JSONL written by calibration_set.py")
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--threshold-domains", default=None,
                    help="comma list: pick the threshold on these domains' held-out answers only (default: all). The shipped fit uses the "
                         "documentation domains: on SQuAD no threshold reaches the target precision (docs/benchmark-history.md, issue 21)")
    ap.add_argument("--fit-domains", default=None,
                    help="comma list: fit the combiner on these domains' answers only (default: all); the others are then scored "
                         "as an unseen domain by the fit on all of these")
    ap.add_argument("--l2", type=float, default=None)
    ap.add_argument("--no-generation-signals", action="store_true")
    ap.add_argument("--features", default=None,
                    help="comma list: fit these signals only (default: the combiner's signals and the generator's, where the data has them); "
                         "for a signal measured outside the guard, merged into the answers file")
    ap.add_argument("--leave-one-out", action="store_true",
                    help="also score each fit domain by a fit on the other fit domains alone (a corpus the combiner never saw, as a "
                         "user's own is): AURC and coverage at 90%% precision per left-out domain, and their mean, in the report")
    ap.add_argument("--bootstrap", type=int, default=0, metavar="N",
                    help="also run the threshold rule on N resamples of the document groups (with replacement): how far its "
                         "pick moves with other calibration data of the same kind (quantiles in the report)")
    ap.add_argument("--out", default=None, help="write the fitted combiner here (the shipped one: src/groundqa/data/verifier/calibration.json)")
    ap.add_argument("--reasons-only", action="store_true",
                    help="fit nothing: count where each reason fires and how often on a right answer (per --data file's answers), "
                         "for answers no calibration was fitted on")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args()

    from groundqa.metrics.selective import per_domain, risk_coverage
    from groundqa.verify.calibrate import COMBINER_FEATURES, DEFAULT_L2, GENERATION_FEATURES, fit_with_thresholds
    from groundqa.verify.combiner import fit_combiner

    recs = [json.loads(line) for p in args.data for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.reasons_only:
        rates = {"data": args.data, "answers": len(recs), "right": sum(bool(r["right"]) for r in recs),
                 "reasons": reason_rates(recs), "command": "python " + " ".join(sys.argv)}
        print(f"{len(recs)} answers, {rates['right']} right; reasons (fires, on right answers, share):")
        print("\n".join(reason_lines(rates["reasons"])))
        if args.json:
            Path(args.json).write_text(json.dumps(rates, indent=1) + "\n", encoding="utf-8")
        return 0
    wanted = COMBINER_FEATURES + (() if args.no_generation_signals else GENERATION_FEATURES)
    if args.features:
        wanted = tuple(f.strip() for f in args.features.split(",") if f.strip())
        unknown = [f for f in wanted if not any(f in c["signals"] for r in recs for c in r["claims"])]
        if unknown:
            raise SystemExit(f"--features: no claim of {args.data} has the signal(s) {unknown}; name signals the answers file holds")
    # a signal some claims lack (the answer context of a sentence claim) is NaN there: the combiner reads its mean
    feats = [f for f in wanted if any(f in c["signals"] for r in recs for c in r["claims"])]
    X, y, claim_of_arr, groups = claim_table(recs, feats)
    claim_of = claim_of_arr.tolist()
    l2 = DEFAULT_L2 if args.l2 is None else args.l2

    # held-out scores: two folds by document group
    fit_dom = set(args.fit_domains.split(",")) if args.fit_domains else {r["domain"] for r in recs}
    pick = set(args.threshold_domains.split(",")) if args.threshold_domains else {r["domain"] for r in recs}
    in_fit = np.array([recs[i]["domain"] in fit_dom for i in claim_of])
    p_cv, thr = cv_threshold(recs, X, y, claim_of_arr, groups, feats, fit_dom, pick, args.target_precision, l2)

    def answer_scores(p: np.ndarray) -> list[float | None]:
        return [answer_support(r, p[claim_of_arr == i]) for i, r in enumerate(recs)]

    correct = [bool(r["right"]) for r in recs]
    s_cv = answer_scores(p_cv)
    if thr is None:
        if args.out:
            raise SystemExit(f"no threshold reaches precision {args.target_precision} on the held-out scores of {sorted(pick)}: "
                             "nothing written to --out; drop --out to see the ranking (AURC, --leave-one-out) without a threshold")
        print(f"no threshold reaches precision {args.target_precision} on the held-out scores of {sorted(pick)}; "
              "reporting the ranking only, at threshold 1.0", file=sys.stderr)

    info = {"data": [str(Path(p)) for p in args.data], "answers": len(recs), "claims": int(len(y)), "right_claims": int(y.sum()),
            "domains": {d: sum(r["domain"] == d for r in recs) for d in sorted({r["domain"] for r in recs})},
            "generator": sorted({r.get("generator", "") for r in recs}), "labels": "the answer is right (SQuAD: F1 >= 0.5; docs: the docs-QA rule); unanswerable: wrong",
            "threshold_rule": f"lowest support at which the answers returned reach precision {args.target_precision} on held-out (2-fold by document group) "
                              f"scores of the domains {sorted(pick)}",
            "command": "python " + " ".join(sys.argv), "fitted": time.strftime("%Y-%m-%d")}
    info["fit_domains"] = sorted(fit_dom)
    final = fit_with_thresholds(X[in_fit], y[in_fit], feats, args.target_precision, info, l2=l2, wanted=feats)
    final = final.with_thresholds(1.0 if thr is None else thr, {"balanced": final.thresholds.get("balanced"), "precision": thr, "target_precision": args.target_precision,
                                        "in_sample_claim_precision": final.thresholds.get("precision")})

    # what the shipped threshold does on held-out scores, per domain
    dom = [r["domain"] for r in recs]
    def outcome(scores: list[float | None], t: float) -> dict[str, Any]:
        res: dict[str, Any] = {}
        for d in sorted(set(dom)) + ["all"]:
            idx = [i for i in range(len(recs)) if d in ("all", dom[i])]
            ans = [i for i in idx if recs[i]["answerable"]]
            ret = [i for i in idx if scores[i] is not None and scores[i] >= t]
            res[d] = {"questions": len(idx), "answerable": len(ans), "generated_right": sum(correct[i] for i in ans),
                      "returned": len(ret), "returned_right": sum(correct[i] for i in ret),
                      "precision": round(sum(correct[i] for i in ret) / len(ret), 4) if ret else None,
                      "answered_right_share": round(sum(correct[i] for i in ret) / len(ans), 4) if ans else None,
                      "unanswerable_returned": sum(1 for i in ret if not recs[i]["answerable"]),
                      "generator_declined_answerable": sum(1 for i in ans if recs[i]["declined"])}
        return res

    reasons = reason_rates(recs)

    curves = {d: [p.__dict__ for p in risk_coverage([s_cv[i] for i in range(len(recs)) if d in ("all", dom[i])],
                                                       [correct[i] for i in range(len(recs)) if d in ("all", dom[i])])]
              for d in sorted(set(dom)) + ["all"]}
    loo: dict[str, Any] = {}
    if args.leave_one_out and len(fit_dom) > 1:
        from groundqa.metrics.selective import selective_metrics

        p_loo = np.full(len(y), np.nan)
        for d in sorted(fit_dom):
            rest = in_fit & np.array([recs[i]["domain"] != d for i in claim_of])
            p_loo[~rest & in_fit] = fit_combiner(X[rest], y[rest], feats, l2=l2).predict_proba(X[~rest & in_fit])
        s_loo = answer_scores(np.nan_to_num(p_loo))
        for d in sorted(fit_dom):
            idx = [i for i in range(len(recs)) if recs[i]["domain"] == d]
            loo[d] = selective_metrics([s_loo[i] for i in idx], [correct[i] for i in idx]).to_dict()
        loo["mean_aurc"] = round(float(np.mean([loo[d]["aurc"] for d in sorted(fit_dom)])), 4)
    report = {
        "config": info, "features": feats, "l2": l2, "threshold": thr,
        "heldout_selective": per_domain(zip(dom, s_cv, correct)),
        "heldout_at_threshold": outcome(s_cv, 1.0 if thr is None else thr),
        **({"leave_one_domain_out": loo} if loo else {}),
        **({"threshold_bootstrap": bootstrap_thresholds(recs, feats, fit_dom, pick, args.target_precision, l2, args.bootstrap)}
           if args.bootstrap else {}),
        "reasons": reasons,
        "risk_coverage_heldout": curves,
        "coef": dict(zip(final.features, final.coef)),
    }
    if args.out:
        final.save(args.out)
    text = json.dumps(report, indent=1, default=float)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for d, pts in curves.items():
            ax.plot([p["coverage"] for p in pts], [1 - p["precision"] for p in pts], label=d, lw=2 if d == "all" else 1)
        ax.axhline(1 - args.target_precision, ls=":", c="grey")
        ax.set_xlabel("coverage (returned / all questions)")
        ax.set_ylabel("risk (wrong / returned)")
        ax.set_title("Guard risk-coverage, held-out folds by document group")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
    sel = report["heldout_selective"]
    print(f"threshold {'none' if thr is None else f'{thr:.3f}'} (target precision {args.target_precision}); features {feats}")
    print(f"{'domain':10} {'n':>4} {'cov@90':>7} {'cov@95':>7} {'AURC':>6} | {'returned':>8} {'right':>5} {'prec':>5} {'unans':>5} {'declined':>8}")
    for d, m in sel.items():
        o = report["heldout_at_threshold"][d]
        print(f"{d:10} {m['n']:4} {m['coverage_at_90']:7.3f} {m['coverage_at_95']:7.3f} {m['aurc']:6.3f} | {o['returned']:8} {o['returned_right']:5} "
              f"{(o['precision'] or 0):5.2f} {o['unanswerable_returned']:5} {o['generator_declined_answerable']:8}")
    if loo:
        print("each fit domain scored by a fit on the others alone: " + ", ".join(
            f"{d} AURC {m['aurc']:.3f} cov@90 {m['coverage_at_90']:.3f}" for d, m in loo.items() if d != "mean_aurc")
            + f"; mean AURC {loo['mean_aurc']:.3f}")
    if "threshold_bootstrap" in report:
        b = report["threshold_bootstrap"]
        print(f"threshold over {b['resamples']} resamples of the document groups: quantiles 5/25/50/75/95% {b['quantiles_5_25_50_75_95']}, "
              f"std {b['std']}, no threshold in {b['no_threshold']}, unfit {b['unfit']}")
    print("reasons (fires, on right answers, share):")
    print("\n".join(reason_lines(report["reasons"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
