"""Docs-QA benchmark (issue 17): a help bot over a real documentation set nobody here wrote.

Indexes a folder of docs (default: the Starlette 0.41.3 Markdown docs committed under
benchmarks/data/docs_qa/, BSD-3, see its ATTRIBUTION.md), asks every question of the questions
file once (one retrieval, one generation, one guard pass per question) and applies each policy
(return, flag, strip, abstain) to the same results with ``Pipeline.ask_policies``. The guard is run
a second time on the same answers with ``answer_checks=False``, to show what the issue-17 answer
checks change.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/docs_qa.py --generator fast \
        --out benchmarks/results/qa/docs_qa_starlette_fast.json

Judging rule ("right"), stated in the questions file and applied by ``is_right``: the answer
text, with [n] marks, backticks, quotes, brackets and punctuation removed, lower-cased and
whitespace-collapsed, contains one of the question's normalised gold answers as a whole word
sequence. No answer is judged by hand.

Outcomes of an answerable question under a policy: ``right`` (answered, right), ``wrong_passed``
(answered, wrong: the guard let it through, or the policy returns everything), ``withheld_right``
(the guard withheld a right answer), ``withheld_wrong`` (the guard withheld a wrong answer: good),
``declined`` (the generator declined, or no passage was relevant). An unanswerable question is
``answered`` (a made-up answer reached the user) or ``declined``/``withheld``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT / "benchmarks" / "data" / "docs_qa"
POLICIES = ("return", "flag", "strip", "abstain")


def normalise(text: str) -> str:
    """Lower case; [n] marks removed; every character but letters, digits, ``_``, ``.``, ``-``
    and ``/`` becomes a space; dots and dashes at word ends dropped; whitespace collapsed."""
    t = re.sub(r"\[\d+(?:\s*[,;]\s*\d+)*\]", " ", text.lower())
    t = re.sub(r"[^\w./-]+", " ", t)
    t = " ".join(w.strip(".-/") for w in t.split())
    return " ".join(t.split())


def is_right(answer: str, golds: list[str]) -> bool:
    a = normalise(answer)
    return any(g and re.search(rf"(?<!\w){re.escape(g)}(?![\w])", a) for g in (normalise(x) for x in golds))


def outcome(answer: Any, q: dict[str, Any], generated_right: bool) -> str:
    if q["answerable"]:
        if answer.answered:
            return "right" if is_right(answer.text, q["answers"]) else "wrong_passed"
        if answer.verdict == "declined" or answer.reason and answer.reason.startswith("no relevant passage"):
            return "declined"
        return "withheld_right" if generated_right else "withheld_wrong"
    if answer.answered:
        return "unanswerable_answered"
    return "unanswerable_declined" if answer.verdict == "declined" else "unanswerable_withheld"


def cached_index(documents: list[Any], cache: Path | None, embedder: str = "minilm-l6") -> tuple[Any, bool]:
    """The hybrid index of ``documents``, reused from ``cache`` when it was built from the same text,
    else built (and saved there). The index's manifest keeps the SHA-256 of the documents' ids and
    texts (``extra["corpus_sha256"]``, saved with the index in one atomic write): a loader change or
    a changed snapshot rebuilds it instead of reading stale passages. Returns (index, built)."""
    import hashlib

    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex

    h = hashlib.sha256()
    for d in sorted(documents, key=lambda d: d.id):
        h.update(f"{d.id}\0{d.text}\0".encode("utf-8"))
    digest = f"{embedder} {h.hexdigest()}"
    manifest = cache / "manifest.json" if cache is not None else None
    if manifest is not None and manifest.exists() and json.loads(manifest.read_text(encoding="utf-8")).get("extra", {}).get("corpus_sha256") == digest:
        return HybridIndex.load(manifest.parent), False
    index = HybridIndex(embedder)
    index.warm_up()
    index.add([c for cs in Chunker(index.embedder).chunk_many(documents) for c in cs])
    index.extra["corpus_sha256"] = digest
    if manifest is not None:
        index.save(manifest.parent)
    return index, True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", default=str(DATA / "starlette-0.41.3" / "docs"))
    ap.add_argument("--questions", default=str(DATA / "starlette_questions.json"))
    ap.add_argument("--generator", default="fast", help="generator profile or model (default: fast, today's default)")
    ap.add_argument("--verifier", default="default")
    ap.add_argument("--reader", default="none", help="the guard's extractive reader: none (the default, as the product), default (the shipped one, with calibration_reader.json), or a folder")
    ap.add_argument("--calibration", default="default", help="the guard's combiner and threshold (default: the shipped one; a file "
                    "benchmarks/calibration_fit.py --out wrote, to measure a candidate without installing it)")
    ap.add_argument("--embedder", default="minilm-l6")
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--reads", default="windows", choices=["windows", "chunks"], help="what the generator reads of each passage (default: windows)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--index-cache", default=None, help="reuse the index saved in this folder, or build and save it there")
    ap.add_argument("--limit", type=int, default=None, help="the first N questions only (a smoke run)")
    ap.add_argument("--split", default="all", choices=["all", "heldout", "calibration"],
                    help="Starlette questions: heldout (files outside calibration_set.CAL_FILES, and every unanswerable one: what is "
                         "reported since the guard is calibrated on the others), calibration, or all")
    ap.add_argument("--out", default=None, help="JSON results (default: benchmarks/results/docs_qa_<corpus>_<generator>.json)")
    args = ap.parse_args()

    from groundqa.documents import load_documents
    from groundqa.generate.hf import TransformersGenerator
    from groundqa.pipeline import Pipeline
    from groundqa.metrics.selective import selective_metrics
    from groundqa.policy import apply_policy
    from groundqa.verify.guard import Guard
    from groundqa.verify.scorers import GenerationScorer

    spec = json.loads(Path(args.questions).read_text(encoding="utf-8"))
    questions = spec["questions"]
    if args.split != "all":
        from calibration_set import CAL_FILES

        cal = [q for q in questions if q["answerable"] and q["source"] in CAL_FILES]
        questions = cal if args.split == "calibration" else [q for q in questions if q not in cal]
    questions = questions[: args.limit] if args.limit else questions
    times: dict[str, float] = {}
    wall = time.perf_counter()

    t = time.perf_counter()
    loaded = load_documents([args.docs])
    times["load_documents_s"] = time.perf_counter() - t
    cache = Path(args.index_cache) if args.index_cache else None
    t = time.perf_counter()
    index, built = cached_index(loaded.documents, cache, args.embedder)
    times["index_s"] = time.perf_counter() - t

    t = time.perf_counter()
    guard = Guard(args.verifier, embedder=index.embedder, calibration=args.calibration, reader=args.reader)
    pipe = Pipeline(index, TransformersGenerator(args.generator, batch_size=args.batch_size, context=args.reads), guard, top_k=args.top_k)
    pipe.warm_up()
    times["load_models_s"] = time.perf_counter() - t

    t = time.perf_counter()
    by_policy: dict[str, list[Any]] = {p: [] for p in POLICIES}
    for s in range(0, len(questions), args.batch_size):
        part = pipe.ask_policies([q["question"] for q in questions[s : s + args.batch_size]], POLICIES)
        for p in POLICIES:
            by_policy[p].extend(part[p])
    times["ask_s"] = time.perf_counter() - t

    # the same answers judged by the guard without the issue-17 answer checks
    t = time.perf_counter()
    base = by_policy["return"]
    guard.answer_checks = False
    checkable = [i for i, a in enumerate(base) if a.claims]
    # with the generator's confidence the first pass had (each claim keeps it among its signals as gen_*)
    gen = [GenerationScorer.confidence_from(base[i].claims[0].signals) for i in checkable]
    plain = dict(zip(checkable, guard.verify_batch([(a.question, a.generated, a.passages) for a in (base[i] for i in checkable)],
                                                   generation=gen)))
    guard.answer_checks = True
    times["verify_again_without_answer_checks_s"] = time.perf_counter() - t

    stage_ms = {k: sum(a.timings.get(k, 0.0) for a in base) / max(1, len(base)) for k in ("retrieve", "generate", "verify")}
    records = []
    counts: dict[str, dict[str, int]] = {}
    for i, q in enumerate(questions):
        a0 = base[i]
        gen_right = bool(q["answerable"]) and not a0.verdict == "declined" and is_right(a0.generated, q["answers"])
        sources = [Path(p.doc_id).name for p in a0.passages]
        rec: dict[str, Any] = {
            "id": q["id"], "question": q["question"], "answerable": q["answerable"], "gold": q["answers"], "source": q["source"],
            "retrieved": sources, "source_retrieved": q["source"] in sources if q["source"] else None,
            "generated": a0.generated, "generated_right": gen_right, "support": a0.support, "threshold": a0.threshold,
            "claims": [{"text": c.text, "probability": round(c.probability, 4), "verdict": c.verdict, "reasons": list(c.reasons)} for c in a0.claims],
            "policies": {},
        }
        for p in POLICIES:
            a = by_policy[p][i]
            o = outcome(a, q, gen_right)
            rec["policies"][p] = {"answer": a.text, "verdict": a.verdict, "outcome": o}
            counts.setdefault(p, {}).setdefault(o, 0)
            counts[p][o] += 1
        # abstain without the answer checks, on the same generation
        r = plain.get(i)
        if r is not None:
            d = apply_policy("abstain", a0.generated, [(c.start, c.end, c.supported) for c in r.claims])
            from groundqa.pipeline import Answer

            a = Answer(a0.question, d.text, d.verdict, d.reason, a0.generated, r.claims, r.probability, a0.passages, "abstain", {}, {}, r.threshold)
        else:
            a = by_policy["abstain"][i]
        o = outcome(a, q, gen_right)
        rec["policies"]["abstain_without_answer_checks"] = {"answer": a.text, "verdict": a.verdict, "outcome": o}
        counts.setdefault("abstain_without_answer_checks", {}).setdefault(o, 0)
        counts["abstain_without_answer_checks"][o] += 1
        records.append(rec)

    n_ans = sum(q["answerable"] for q in questions)
    n_un = len(questions) - n_ans
    times["wall_s"] = time.perf_counter() - wall
    reasons: dict[str, int] = {}
    for rec in records:
        for c in rec["claims"]:
            for why in c["reasons"]:
                key = re.sub(r"'[^']*'", "'...'", why)
                reasons[key] = reasons.get(key, 0) + 1
    summary = {
        "documents": len(loaded.documents), "skipped": len(loaded.skipped), "chunks": len(index),
        "answerable": n_ans, "unanswerable": n_un,
        "source_retrieved": sum(bool(r["source_retrieved"]) for r in records if r["answerable"]),
        "generated_right": sum(r["generated_right"] for r in records),
        "generator_declined_answerable": sum(1 for r in records if r["answerable"] and r["policies"]["return"]["outcome"] == "declined"),
        "by_policy": counts,
        # every generated answer scored by its support (groundqa.metrics.selective)
        "selective": selective_metrics([None if a.verdict == "declined" or not a.claims else a.support for a in base],
                                       [r["generated_right"] for r in records]).to_dict(),
        "unsupported_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "stage_ms_per_question": {k: round(v, 1) for k, v in stage_ms.items()},
        "times_s": {k: round(v, 1) for k, v in times.items()},
    }
    config = {
        "docs": str(Path(args.docs).resolve().relative_to(ROOT)) if Path(args.docs).resolve().is_relative_to(ROOT) else args.docs,
        "questions": str(Path(args.questions).resolve().relative_to(ROOT)) if Path(args.questions).resolve().is_relative_to(ROOT) else args.questions,
        "judging_rule": spec.get("judging_rule"), "split": args.split, "generator": args.generator, "reads": args.reads, "verifier": args.verifier, "calibration": args.calibration, "reader": args.reader, "embedder": args.embedder,
        "top_k": args.top_k, "index_built": built, "threshold": guard.threshold, "models": pipe.models(),
        "command": "OMP_NUM_THREADS=1 nice -n 10 python " + " ".join(sys.argv),
    }
    corpus = Path(args.docs).resolve().parent.name if Path(args.docs).name == "docs" else Path(args.docs).name
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"docs_qa_{corpus.split('-')[0]}_{args.generator}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "config": config, "records": records}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print_table(summary)
    print(f"wrote {out}")
    return 0


def print_table(s: dict[str, Any]) -> None:
    print(f"{s['documents']} documents, {s['chunks']} chunks; {s['answerable']} answerable + {s['unanswerable']} unanswerable questions")
    print(f"source file retrieved (top-k) for {s['source_retrieved']}/{s['answerable']}; generator right before any policy: {s['generated_right']}/{s['answerable']}")
    cols = ["right", "wrong_passed", "withheld_right", "withheld_wrong", "declined", "unanswerable_answered", "unanswerable_withheld", "unanswerable_declined"]
    heads = ["right", "wrong+passed", "withheld-right", "withheld-wrong", "declined", "U: answered", "U: withheld", "U: declined"]
    print(f"{'policy':<32}" + "".join(f"{h:>15}" for h in heads))
    for p, c in s["by_policy"].items():
        print(f"{p:<32}" + "".join(f"{c.get(k, 0):>15}" for k in cols))
    if "selective" in s:
        m = s["selective"]
        print(f"selective (every generated answer by support): coverage {m['coverage_at_90']:.3f} at 90% precision, "
              f"{m['coverage_at_95']:.3f} at 95%, AURC {m['aurc']:.3f} over {m['n']} questions")
    print("time:", ", ".join(f"{k} {v}" for k, v in s["times_s"].items()), "| per question ms:", s["stage_ms_per_question"])


if __name__ == "__main__":
    sys.exit(main())
