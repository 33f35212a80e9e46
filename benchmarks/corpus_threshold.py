"""Can a user's own reviewed answers set the guard's threshold for their corpus? (issue 21)

For each corpus of the calibration set (``calibration_set.py``'s answers, each claim with the
guard's signals), the shipped combiner scores every answer (an answer is as strong as its weakest
claim; one an answer check caps is never returned). The corpus's answers are split in two by
document group (file or article), as a user would review the answers of some files: the threshold
that reaches ``--target-precision`` on one half is applied to the other half, and the other way
round. Reported per corpus, summed over both halves, beside the shipped threshold on the same
halves: answers returned, right, precision; with several corpora, also pooled.

    python benchmarks/corpus_threshold.py --data benchmarks/results/calibration/calibration_answers.jsonl \\
        --json benchmarks/results/calibration/corpus_threshold.json

With ``--paired BASE.jsonl`` (the same questions answered another way: another loader, another
generator), it also reports how many more right and wrong answers ``--data`` returns than BASE over
the domains, with a 90% interval from 2,000 resamples of the questions (paired by domain and id;
seed 0), and each side's totals over the paired questions (returned, right, precision,
unanswerable questions returned). Each side is returned at its own calibration's threshold:
``--calibration`` for ``--data``, ``--paired-calibration`` (default the same) for BASE, so two
profiles with their own probes and combiners can be compared on the same questions. ``--data``
and ``--paired`` can each be given more than once, to read several answer files as one (no
question may appear twice).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def counts(returned: int, right: int) -> dict[str, Any]:
    """Answers returned, right, and their precision (None when nothing is returned)."""
    return {"returned": returned, "right": right, "precision": round(right / returned, 4) if returned else None}


def line(name: str, row: dict[str, Any]) -> str:
    """A table row: the corpus, its answers, and what the shipped and each half's own threshold return."""
    sh, ow = row["shipped"], row["own"]
    return (f"{name:10} {row['answers']:4} | {sh['returned']:17} {sh['right']:5} {(sh['precision'] or 0):5.2f} | {ow['returned']:18} "
            f"{ow['right']:5} {(ow['precision'] or 0):5.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, action="append",
                    help="answers JSONL written by calibration_set.py (repeat it to read several files as one)")
    ap.add_argument("--calibration", default="src/groundqa/data/verifier/calibration.json", help="the combiner whose scores are thresholded")
    ap.add_argument("--domains", default="click,flask,jinja,markdown,squad")
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--paired", default=None, action="append", metavar="BASE.jsonl",
                    help="the same questions answered another way: right and wrong answers returned, --data minus BASE, with a 90%% interval "
                         "(repeat it to read several files as one)")
    ap.add_argument("--paired-calibration", default=None, metavar="CALIBRATION.json",
                    help="the combiner that scores BASE (default: --calibration)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from calibration_fit import stored_support  # this script's folder is on sys.path

    from groundqa.metrics.selective import threshold_at_precision
    from groundqa.verify.calibrate import half_split
    from groundqa.verify.combiner import Combiner

    comb = Combiner.load(args.calibration)

    def read(paths: list[str]) -> list[dict[str, Any]]:
        rs = [json.loads(line) for p in paths for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
        seen: set[tuple[str, str]] = set()
        for r in rs:
            key = (r["domain"], r["id"])
            if key in seen:
                raise SystemExit(f"question {key} appears twice in {', '.join(paths)}: pass each file once, and files of different questions")
            seen.add(key)
        return rs

    recs = read(args.data)

    scores = [stored_support(r, comb) for r in recs]

    out: dict[str, Any] = {"calibration": args.calibration, "shipped_threshold": comb.threshold, "target_precision": args.target_precision, "corpora": {}}
    print(f"{'corpus':10} {'n':>4} | {'shipped: returned':>17} {'right':>5} {'prec':>5} | {'own half: returned':>18} {'right':>5} {'prec':>5}  thresholds")
    for d in [x.strip() for x in args.domains.split(",") if x.strip()]:
        idx = [i for i, r in enumerate(recs) if r["domain"] == d]
        if not idx:
            raise SystemExit(f"no answers of domain {d!r} in {', '.join(args.data)}")
        rs = [recs[i] for i in idx]
        s, ok = [scores[i] for i in idx], [bool(r["right"]) for r in rs]
        fold = np.array(half_split([f"{r['domain']}:{r['group']}" for r in rs]))
        tot = {"shipped": [0, 0], "own": [0, 0]}
        own_thresholds: list[float | None] = []
        for a in (fold, ~fold):
            fit, test = np.where(a)[0], np.where(~a)[0]
            t = threshold_at_precision([s[i] for i in fit], [ok[i] for i in fit], args.target_precision)
            own_thresholds.append(t)
            for name, th in (("shipped", comb.threshold), ("own", t)):
                if th is None:
                    continue  # no threshold reaches the target on that half: nothing is returned
                ret = [i for i in test if s[i] is not None and s[i] >= th]
                tot[name][0] += len(ret)
                tot[name][1] += sum(ok[i] for i in ret)
        row: dict[str, Any] = {k: counts(*v) for k, v in tot.items()}
        row["own_thresholds"] = own_thresholds
        row["answers"] = len(rs)
        out["corpora"][d] = row
        print(line(d, row) + f"  {[None if t is None else round(t, 3) for t in own_thresholds]}")
    if len(out["corpora"]) > 1:  # the corpora together, at the shipped threshold and at each half's own
        rows = out["corpora"].values()
        out["pooled"] = {**{k: counts(sum(r[k]["returned"] for r in rows), sum(r[k]["right"] for r in rows)) for k in ("shipped", "own")},
                         "answers": sum(r["answers"] for r in rows)}
        print(line("pooled", out["pooled"]))
    if args.paired:
        doms = {x.strip() for x in args.domains.split(",") if x.strip()}
        base = read(args.paired)

        base_comb = Combiner.load(args.paired_calibration) if args.paired_calibration else comb

        def returned(rs: list[dict[str, Any]], ss: list[float | None], th: float) -> dict[tuple[str, str], tuple[int, int, int]]:
            """Per question: (right returned, wrong returned, unanswerable returned), each 0 or 1."""
            out_: dict[tuple[str, str], tuple[int, int, int]] = {}
            for r, s_ in zip(rs, ss):
                if r["domain"] in doms:
                    ret = s_ is not None and s_ >= th
                    out_[(r["domain"], r["id"])] = (int(ret and bool(r["right"])), int(ret and not r["right"]), int(ret and not r["answerable"]))
            return out_

        a = returned(recs, scores, comb.threshold)
        b = returned(base, [stored_support(r, base_comb) for r in base], base_comb.threshold)
        keys = sorted(set(a) & set(b))
        if not keys:
            raise SystemExit(f"--paired {', '.join(args.paired)} shares no question (domain, id) with --data over {sorted(doms)}")

        def totals(side: dict[tuple[str, str], tuple[int, int, int]]) -> dict[str, Any]:
            """One side over the paired questions: returned, right, precision, and unanswerable questions returned."""
            right, wrong, unans = (sum(side[k][j] for k in keys) for j in range(3))
            return {**counts(right + wrong, right), "unanswerable_returned": unans}

        diff = np.array([[a[k][0] - b[k][0], a[k][1] - b[k][1]] for k in keys])
        rng = np.random.default_rng(0)
        boots = np.array([diff[rng.integers(0, len(keys), len(keys))].sum(0) for _ in range(2000)])
        out["paired"] = {"base": args.paired[0] if len(args.paired) == 1 else args.paired, "base_calibration": args.paired_calibration or args.calibration, "questions": len(keys),
                         "data_totals": totals(a), "base_totals": totals(b),
                         **{name: {"difference": int(diff[:, j].sum()), "interval_90": [float(x) for x in np.percentile(boots[:, j], [5, 95])]}
                            for j, name in enumerate(("right_returned", "wrong_returned"))}}
        p_ = out["paired"]
        print(f"paired with {', '.join(args.paired)} ({len(keys)} questions): right returned {p_['right_returned']['difference']:+d} "
              f"{p_['right_returned']['interval_90']}, wrong returned {p_['wrong_returned']['difference']:+d} {p_['wrong_returned']['interval_90']}")
        for name, t_ in (("data", p_["data_totals"]), ("base", p_["base_totals"])):
            print(f"  {name}: returned {t_['returned']}, right {t_['right']}, precision {t_['precision']}, unanswerable returned {t_['unanswerable_returned']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
