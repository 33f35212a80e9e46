"""What the best threshold could do with the guard's scores on a held-out run (issue 21).

Reads the per-question records of a ``qa_pipeline.py --report`` run (``records.jsonl``: each
question's gold answers, the generated answer's F1 and the guard's support) and picks the threshold
*on those same records*, which no calibration may do. The result is an upper bound on what any
threshold gives with these scores: if it misses a goal, no calibration of the threshold meets it,
and only a better ranking (or a better generator) can.

* SQuAD v1.1 goal (at least 70% answered, 90% of the returned right): the largest coverage at
  which the returned answers are at least 90% right (the same number as the ``coverage_at_90``
  that ``bench qa`` and ``qa_pipeline.py`` report under ``selective``);
* SQuAD v2.0 goal (at least 90% of unanswerable questions declined while at least 65% of
  answerable ones are answered): the largest answered share of answerable questions at a
  threshold that declines at least 90% of the unanswerable ones.

* docs-QA goal on the Starlette files held out from calibration (at least 17 of 22 answerable
  questions answered right, at most 1 wrong answer returned, at least 6 of 7 unanswerable
  declined), from a ``docs_qa.py`` result (``--docs-qa``): the most right answers returned at a
  threshold that returns at most 1 wrong answer and declines at least 6 of 7 unanswerable questions.

Also the AUROC of the support for right against wrong generated answers, and for answerable
against unanswerable questions.

* ``--joint`` (with one ``--docs-qa``, one v1.1 ``--records`` and ``--unseen`` answers of corpora no
  fit uses, ``calibration_set.py``'s, scored by ``--calibration``): one threshold for all of them.
  Every threshold at which the docs-QA goal and the v1.1 goal both hold, and what the same threshold
  returns on the unseen corpora, pooled, beside what the shipped threshold returns there. If every
  threshold that meets the goals returns less precise answers on corpora no fit uses than the
  shipped one, the goals cost precision with this ranking, whatever the calibration.

    python benchmarks/oracle_threshold.py --records benchmarks/results/qa/qa_squad11_report_default/records.jsonl \
        --records benchmarks/results/qa/qa_squad20_report_default/records.jsonl --json benchmarks/results/qa/oracle_threshold.json
    python benchmarks/oracle_threshold.py --docs-qa benchmarks/results/qa/docs_qa_starlette_heldout.json --json benchmarks/results/qa/oracle_threshold_docs.json
    python benchmarks/oracle_threshold.py --joint --docs-qa benchmarks/results/qa/docs_qa_starlette_heldout_accurate_more.json \
        --records benchmarks/results/qa/qa_squad11_report_accurate_more/records.jsonl \
        --unseen benchmarks/results/calibration/calibration_answers_accurate_urllib3_black_anyio.jsonl \
        --calibration src/groundqa/data/adapters/qwen2.5-coder-1.5b-accurate-lora/groundqa_calibration.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def squad_columns(records: list[dict[str, Any]]) -> tuple[list[float], list[bool], list[bool]]:
    """A ``qa_pipeline.py`` report's records as columns: support (-inf for a decline, the generator's
    own, whose record says support 1.0: never a returned answer), right (F1 at least 0.5), answerable."""
    sup = [r["support"] if r.get("support") is not None and r.get("verdict") != "declined" else float("-inf") for r in records]
    return sup, [bool(r["golds"]) and r["raw_f1"] >= 0.5 for r in records], [bool(r["golds"]) for r in records]


def docs_columns(records: list[dict[str, Any]]) -> tuple[list[float], list[bool], list[bool]]:
    """A ``docs_qa.py`` run's records as columns: support (-inf for a decline), right (an answerable
    question answered right), answerable."""
    declined = [r["policies"]["return"]["verdict"] == "declined" for r in records]
    sup = [float("-inf") if d or r.get("support") is None else float(r["support"]) for r, d in zip(records, declined)]
    answerable = [bool(r["answerable"]) for r in records]
    return sup, [a and bool(r["generated_right"]) for r, a in zip(records, answerable)], answerable


def analyse(records: list[dict[str, Any]], precision: float = 0.9, declined: float = 0.9) -> dict[str, Any]:
    from groundqa.metrics.selective import risk_coverage
    from groundqa.metrics.verifier import auroc

    sup, right, answerable = squad_columns(records)
    n = len(records)
    # the v1.1 bound: the risk-coverage point of largest coverage whose returned answers reach the precision
    ok = [p for p in risk_coverage([s if s > float("-inf") else None for s in sup], right) if p.precision >= precision - 1e-12]
    best = max(ok, key=lambda p: p.coverage, default=None)
    out: dict[str, Any] = {
        "questions": n, "generated_right": sum(right),
        "auroc_right_vs_wrong": auroc(right, sup),
        f"oracle_coverage_at_{int(precision * 100)}": round(best.coverage, 3) if best else 0.0,
        "oracle_threshold": best.threshold if best else None, "oracle_right": best.right if best else 0,
        "shipped_answered": round(sum(bool(r["answered"]) for r in records) / n, 3),
    }
    una = [i for i in range(n) if not answerable[i]]
    if una:
        ans = [i for i in range(n) if answerable[i]]
        best = (0.0, None, 0.0)
        for t in sorted(set(sup)) + [float("inf")]:
            dec = sum(sup[i] < t for i in una) / len(una)
            got = sum(sup[i] >= t for i in ans) / len(ans)
            if dec >= declined and got > best[0]:
                best = (got, t, dec)
        out.update({"unanswerable": len(una),
                    "auroc_answerable_vs_unanswerable": auroc(answerable, sup),
                    f"oracle_answered_at_{int(declined * 100)}_declined": round(best[0], 3), "oracle_threshold_v2": best[1],
                    "oracle_declined": round(best[2], 3),
                    "shipped_declined": round(sum(not r["answered"] for r in (records[i] for i in una)) / len(una), 3)})
    return out


def analyse_docs(records: list[dict[str, Any]], max_wrong: int = 1, min_declined: float = 6 / 7) -> dict[str, Any]:
    """The docs-QA goal's bound over a ``docs_qa.py`` run's records: the most right answers returned
    at any threshold that returns at most ``max_wrong`` wrong answers to answerable questions and
    declines at least ``min_declined`` of the unanswerable ones (the generator's declines count)."""
    from groundqa.metrics.verifier import auroc

    sup, right, answerable = docs_columns(records)
    n_una = sum(not a for a in answerable)
    best: dict[str, Any] = {"right": 0, "wrong": None, "unanswerable_declined": None, "threshold": None}
    for t in sorted({s for s in sup if s > float("-inf")}) + [float("inf")]:
        ret = [s >= t for s in sup]
        got = sum(r and k for r, k in zip(right, ret))
        wrong = sum(a and not r and k for a, r, k in zip(answerable, right, ret))
        dec = sum(not a and not k for a, k in zip(answerable, ret))
        if wrong <= max_wrong and dec >= min_declined * n_una - 1e-9 and got > best["right"]:
            best = {"right": got, "wrong": wrong, "unanswerable_declined": dec, "threshold": t}
    answered = [i for i, s in enumerate(sup) if s > float("-inf")]
    shipped = [r["policies"]["abstain"]["outcome"] for r in records]
    return {"questions": len(records), "answerable": sum(answerable), "unanswerable": n_una, "generated_right": sum(right),
            "auroc_right_vs_wrong": auroc([right[i] for i in answered], [sup[i] for i in answered]),
            f"oracle_right_at_most_{max_wrong}_wrong": best["right"], "oracle_wrong": best["wrong"],
            "oracle_unanswerable_declined": best["unanswerable_declined"], "oracle_threshold": best["threshold"],
            "shipped_right": shipped.count("right"), "shipped_wrong": shipped.count("wrong_passed"),
            "shipped_unanswerable_declined": n_una - shipped.count("unanswerable_answered")}


def analyse_joint(docs: list[dict[str, Any]], squad: list[dict[str, Any]], unseen: list[dict[str, Any]], calibration: str,
                  docs_right: int = 17, max_wrong: int = 1, min_declined: float = 6 / 7, coverage: float = 0.7,
                  precision: float = 0.9) -> dict[str, Any]:
    """One threshold for the docs-QA goal (``docs``: a ``docs_qa.py`` run's records), the v1.1 goal
    (``squad``: a ``qa_pipeline.py`` report's records) and the answers of corpora no fit uses
    (``unseen``: ``calibration_set.py``'s records, scored by ``calibration``'s combiner, the one the two
    runs were made with): each threshold at which both goals hold, with what it returns on the
    unseen corpora, and what the calibration's own threshold returns there."""
    from calibration_fit import stored_support  # this script's folder is on sys.path

    from groundqa.verify.combiner import Combiner

    d_sup, d_right, d_ans = docs_columns(docs)
    n_una = sum(not a for a in d_ans)
    q_sup, q_right, _ = squad_columns(squad)
    comb = Combiner.load(calibration)
    u_sup = [float("-inf") if s_ is None else s_ for s_ in (stored_support(r, comb) for r in unseen)]
    u_right = [bool(r["right"]) for r in unseen]

    def at(t: float) -> dict[str, Any]:
        d_ret = [x >= t for x in d_sup]
        q_ret = [x >= t for x in q_sup]
        u_ret = [x >= t for x in u_sup]
        q_n, u_n = sum(q_ret), sum(u_ret)
        q_ok = sum(k and r for k, r in zip(q_ret, q_right))
        u_ok = sum(k and r for k, r in zip(u_ret, u_right))
        return {"threshold": t,
                "docs": {"right": sum(k and r for k, r in zip(d_ret, d_right)),
                         "wrong": sum(a and not r and k for a, r, k in zip(d_ans, d_right, d_ret)),
                         "unanswerable_declined": sum(not a and not k for a, k in zip(d_ans, d_ret))},
                "squad11": {"answered": round(q_n / len(squad), 3), "precision": round(q_ok / q_n, 4) if q_n else None},
                "unseen": {"returned": u_n, "right": u_ok, "precision": round(u_ok / u_n, 4) if u_n else None}}

    def meets(row: dict[str, Any]) -> bool:
        d, q = row["docs"], row["squad11"]
        return (d["right"] >= docs_right and d["wrong"] <= max_wrong and d["unanswerable_declined"] >= min_declined * n_una - 1e-9
                and q["answered"] >= coverage - 1e-9 and (q["precision"] or 0.0) >= precision - 1e-12)

    ts = sorted({x for x in d_sup + q_sup + u_sup if x > float("-inf")})
    rows = [at(t) for t in ts]
    ok = [r for r in rows if meets(r)]
    best = max(ok, key=lambda r: (r["unseen"]["precision"] or 0.0, r["unseen"]["right"]), default=None)
    return {"calibration": calibration, "goals": {"docs_right": docs_right, "docs_max_wrong": max_wrong, "docs_min_declined": round(min_declined * n_una, 3),
                                                  "squad11_answered": coverage, "squad11_precision": precision},
            "unseen_questions": len(unseen), "shipped": at(comb.threshold),
            "thresholds_meeting_goals": [min(r["threshold"] for r in ok), max(r["threshold"] for r in ok)] if ok else None,
            "best_meeting_goals": best}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", action="append", default=[], help="a qa_pipeline.py report's records.jsonl (repeatable)")
    ap.add_argument("--docs-qa", action="append", default=[], help="a docs_qa.py result JSON with its records (repeatable)")
    ap.add_argument("--joint", action="store_true",
                    help="one threshold for the docs-QA run (one --docs-qa), the v1.1 run (one --records) and --unseen answers")
    ap.add_argument("--unseen", action="append", default=[], help="with --joint: calibration_set.py answers of corpora no fit uses (repeatable)")
    ap.add_argument("--calibration", default=None, help="with --joint: the combiner the two runs used, to score --unseen")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if not args.records and not args.docs_qa:
        ap.error("name at least one --records or --docs-qa file")
    report: dict[str, Any] = {"config": {"command": "python " + " ".join(sys.argv),
                                         "note": "thresholds picked on the records themselves: an upper bound, not a calibration"}, "runs": {}}
    if args.joint:
        if len(args.docs_qa) != 1 or len(args.records) != 1 or not args.unseen or not args.calibration:
            ap.error("--joint needs one --docs-qa, one --records (SQuAD v1.1), at least one --unseen and --calibration")
        d = json.loads(Path(args.docs_qa[0]).read_text(encoding="utf-8"))
        squad = [json.loads(line) for line in Path(args.records[0]).read_text(encoding="utf-8").splitlines() if line.strip()]
        unseen = [json.loads(line) for p in args.unseen for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
        res = analyse_joint(d.get("scores", d)["records"], squad, unseen, args.calibration)
        report["joint"] = res
        for k in ("shipped", "best_meeting_goals"):
            print(f"{k}: {res[k]}")
        print(f"thresholds meeting both goals: {res['thresholds_meeting_goals']}")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        return 0
    for path in args.records:
        recs = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        res = analyse(recs)
        report["runs"][path] = res
        print(path)
        for k, v in res.items():
            print(f"  {k}: {v}")
    for path in args.docs_qa:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        res = analyse_docs(d.get("scores", d)["records"])
        report["runs"][path] = res
        print(path)
        for k, v in res.items():
            print(f"  {k}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
