"""Out-of-scope questions are declined: CLINC150 out-of-scope queries against a support corpus.

Corpus (``--corpus``):

* ``faq`` (default): ``benchmarks/data/support_faq.json``, 24 support articles with answers,
  written for this benchmark, one per BANKING77 intent (Casanueva et al. 2020, CC BY 4.0).
  In-scope test questions: the BANKING77 test utterances of those 24 intents (960). Also reported:
  the BANKING77 test utterances of the 53 intents the articles do not cover ("in domain, not in
  the knowledge base"), which a support bot should decline too.
* ``questions``: one pseudo-article per BANKING77 intent: its name and the first
  ``--docs-per-intent`` customer questions of its train split. In-scope: all 3,080 test utterances.

Out-of-scope test questions: CLINC150 ``oos_test`` (Larson et al. 2019, CC BY 3.0; 1,000).

The pipeline's relevance gate (``min_relevance``: withhold when the best passage's cosine is
lower) is calibrated on separate data, never on the test queries: BANKING77 train utterances that
are not in the corpus (in-scope) and CLINC150 ``oos_train`` + ``oos_val`` (out-of-scope); the
threshold maximises balanced accuracy (mean of the two rates). Reported on the test sets:
decline rate on out-of-scope queries and answer rate on in-scope ones at that threshold.

``--e2e N`` also runs N out-of-scope and N in-scope test questions through the whole pipeline
(real generator and guard, policy ``abstain``): an answer counts as declined when the gate
withholds it, the generator declines, or the guard withholds it.

    python benchmarks/oos_decline.py --out benchmarks/results/qa/serve_oos.json           # the gate, all test queries
    python benchmarks/oos_decline.py --e2e 8 --generator smollm2-135m --verifier none \\
        --out benchmarks/results/qa/serve_oos_e2e.json                                 # + a bounded end-to-end sample
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("GROUNDQA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load(args: argparse.Namespace) -> dict:
    rows = list(csv.DictReader(open(Path(args.banking) / "train.csv", encoding="utf-8")))
    test = [r["text"] for r in csv.DictReader(open(Path(args.banking) / "test.csv", encoding="utf-8"))]
    by_intent: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_intent[r["category"]].append(r["text"])
    test_rows = list(csv.DictReader(open(Path(args.banking) / "test.csv", encoding="utf-8")))
    docs, calib_in = [], []
    uncovered: list[str] = []
    if args.corpus == "faq":
        faq = json.load(open(Path(__file__).resolve().parent / "data" / "support_faq.json", encoding="utf-8"))["articles"]
        covered = {a["intent"] for a in faq}
        for a in faq:
            docs.append({"id": f"faq/{a['intent']}", "title": a["title"], "text": f"{a['title']}\n\n{a['text']}"})
            calib_in.extend(by_intent[a["intent"]])
        test = [r["text"] for r in test_rows if r["category"] in covered]
        uncovered = [r["text"] for r in test_rows if r["category"] not in covered]
    else:
        for intent, utts in sorted(by_intent.items()):
            title = intent.replace("_", " ").capitalize()
            shown = utts[: args.docs_per_intent]
            docs.append({"id": f"banking77/{intent}", "title": title, "text": f"{title}.\nQuestions this article answers:\n" + "\n".join(f"- {u.strip()}" for u in shown)})
            calib_in.extend(utts[args.docs_per_intent :])
    clinc = json.load(open(Path(args.clinc) / "data_full.json", encoding="utf-8"))
    rng = random.Random(args.seed)
    rng.shuffle(calib_in)
    return {
        "docs": docs,
        "calib_in": calib_in[: args.calib_in],
        "calib_oos": [u for u, _ in clinc["oos_train"] + clinc["oos_val"]],
        "test_in": test,
        "test_oos": [u for u, _ in clinc["oos_test"]],
        "test_uncovered": uncovered,
    }


def best_relevance(index, queries: list[str], top_k: int) -> np.ndarray:
    from groundqa.pipeline import Pipeline

    out = []
    for i in range(0, len(queries), 256):
        for hits in index.search_batch(queries[i : i + 256], top_k=top_k):
            rel = Pipeline._relevance(hits)  # the score the pipeline's gate uses
            out.append(max(rel) if rel else -1.0)
    return np.asarray(out)


def calibrate(s_in: np.ndarray, s_oos: np.ndarray) -> tuple[float, float]:
    """The threshold with the best balanced accuracy: (answered in-scope + declined OOS) / 2."""
    cands = np.unique(np.concatenate([s_in, s_oos]))
    best = (-1.0, 0.0)
    for t in cands:
        bacc = ((s_in >= t).mean() + (s_oos < t).mean()) / 2
        if bacc > best[0]:
            best = (float(bacc), float(t))
    return best[1], best[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--banking", default=str(DATA / "banking77"))
    ap.add_argument("--clinc", default=str(DATA / "clinc150_oos"))
    ap.add_argument("--corpus", default="faq", choices=["faq", "questions"])
    ap.add_argument("--docs-per-intent", type=int, default=10)
    ap.add_argument("--calib-in", type=int, default=1000, help="in-scope calibration questions (BANKING77 train, not in the corpus)")
    ap.add_argument("--embedder", default="minilm-l6")
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--e2e", type=int, default=0, help="also run N OOS + N in-scope test questions through the whole pipeline")
    ap.add_argument("--generator", default="fast")
    ap.add_argument("--verifier", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.types import Document

    t0 = time.perf_counter()
    d = load(args)
    index = HybridIndex(args.embedder)
    chunks = [c for g in Chunker(index.embedder).chunk_many([Document(x["id"], x["text"], x["id"], {"title": x["title"]}) for x in d["docs"]]) for c in g]
    index.add(chunks)
    print(f"indexed {len(d['docs'])} articles ({len(chunks)} chunks) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    s_cin, s_coos = best_relevance(index, d["calib_in"], args.top_k), best_relevance(index, d["calib_oos"], args.top_k)
    thr, cal_bacc = calibrate(s_cin, s_coos)
    s_tin, s_toos = best_relevance(index, d["test_in"], args.top_k), best_relevance(index, d["test_oos"], args.top_k)
    res = {
        "corpus": {
            "kind": args.corpus,
            "articles": len(d["docs"]),
            "chunks": len(chunks),
            "source": "benchmarks/data/support_faq.json (written for groundqa; BANKING77 intents)" if args.corpus == "faq" else "BANKING77 train utterances, first %d per intent (CC BY 4.0)" % args.docs_per_intent,
        },
        "calibration": {"in_scope": len(d["calib_in"]), "out_of_scope": len(d["calib_oos"]), "min_relevance": round(thr, 4), "balanced_accuracy": round(cal_bacc, 4)},
        "gate": {
            "oos_test": {"n": len(s_toos), "declined_rate": round(float((s_toos < thr).mean()), 4)},
            "in_scope_test": {"n": len(s_tin), "answered_rate": round(float((s_tin >= thr).mean()), 4)},
        },
        "embedder": args.embedder,
        "top_k": args.top_k,
    }
    if d["test_uncovered"]:
        s_unc = best_relevance(index, d["test_uncovered"], args.top_k)
        res["gate"]["in_domain_not_covered"] = {"n": len(s_unc), "declined_rate": round(float((s_unc < thr).mean()), 4)}
    # the in-scope answer rate is also measured on whether the right article is on top
    print(json.dumps(res["gate"]), file=sys.stderr)

    if args.e2e:
        from groundqa.generate.hf import TransformersGenerator
        from groundqa.pipeline import Pipeline
        from groundqa.verify.guard import Guard

        rng = random.Random(args.seed + 1)
        sets = {"oos": rng.sample(d["test_oos"], args.e2e), "in": rng.sample(d["test_in"], args.e2e)}
        if d["test_uncovered"]:
            sets["uncovered"] = rng.sample(d["test_uncovered"], args.e2e)
        pipe = Pipeline(index, TransformersGenerator(args.generator), Guard(args.verifier, embedder=index.embedder), policy="abstain", top_k=args.top_k, min_relevance=thr)
        t1 = time.perf_counter()
        pipe.warm_up()
        load_s = time.perf_counter() - t1
        rows = []
        t2 = time.perf_counter()
        for kind, qs in sets.items():
            for q in qs:
                a = pipe.ask(q)
                rows.append({"kind": kind, "question": q, "verdict": a.verdict, "reason": a.reason, "answer": a.text, "ms": round(a.timings.get("total", 0.0), 1)})
        run_s = time.perf_counter() - t2

        def rate(kind: str, answered: bool) -> float:
            xs = [r for r in rows if r["kind"] == kind]
            return round(sum((r["verdict"] not in ("withheld", "declined")) == answered for r in xs) / len(xs), 4)

        by = lambda kind: {v: sum(r["verdict"] == v for r in rows if r["kind"] == kind) for v in ("withheld", "declined", "supported", "unsupported", "flagged", "trimmed")}  # noqa: E731
        res["end_to_end"] = {
            "n_per_set": args.e2e,
            "generator": args.generator,
            "verifier": args.verifier,
            "policy": "abstain",
            "oos_declined_rate": rate("oos", False),
            "in_scope_answered_rate": rate("in", True),
            "oos_verdicts": by("oos"),
            "in_scope_verdicts": by("in"),
            **({"uncovered_declined_rate": rate("uncovered", False), "uncovered_verdicts": by("uncovered")} if "uncovered" in sets else {}),
            "load_s": round(load_s, 1),
            "seconds_per_question": round(run_s / len(rows), 2),
            "rows": rows,
        }
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["command"] = "python " + " ".join(sys.argv)
    text = json.dumps(res, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
