"""End-to-end QA benchmark (issue 5): the whole pipeline, answers by retrieval over every
paragraph of the file, scored with the official SQuAD EM/F1, with abstention metrics and a report.

    # SQuAD v1.1: retrieval over all 2,067 dev paragraphs, questions from the 12 held-out articles
    python benchmarks/qa_pipeline.py --data ../shared/data/squad_v1.1_dev/dev-v1.1.json \
        --heldout --limit 40 --json benchmarks/results/qa/qa_squad11_heldout.json --report benchmarks/results/qa/qa_squad11_report
    # SQuAD v2.0: decline rate on unanswerable questions, answer rate on answerable ones
    python benchmarks/qa_pipeline.py --data ../shared/data/squad_v2.0_dev/dev-v2.0.json --version 2.0 \
        --heldout --limit 40 --json benchmarks/results/qa/qa_squad20_heldout.json --report benchmarks/results/qa/qa_squad20_report

The index is built over every context in the file (chunked for the embedder); ``--heldout`` keeps
the questions of the last 12 articles in title order (the fine-tuning issue's held-out split), so
the shipped adapter, trained on the first 36, is never scored on its training articles.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--version", default="1.1", choices=["1.1", "2.0"])
    ap.add_argument("--heldout", action="store_true", help="questions of the last 12 articles (sorted titles) only")
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of N questions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generator", default="default")
    ap.add_argument("--verifier", default="default")
    ap.add_argument("--reader", default="none", help="the guard's extractive reader: none (the default, as the product), default (the shipped one, with calibration_reader.json), or a folder")
    ap.add_argument("--calibration", default="default", help="the guard's combiner and threshold (default: the shipped one; a file "
                    "benchmarks/calibration_fit.py --out wrote, to measure a candidate without installing it)")
    ap.add_argument("--policy", default="abstain")
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--embedder", default="minilm-l6")
    ap.add_argument("--reads", default="windows", choices=["windows", "chunks"], help="what the generator reads of each passage (default: windows)")
    ap.add_argument("--index-cache", default=None, help="reuse the index saved in this folder, or build and save it there")
    ap.add_argument("--json", default=None)
    ap.add_argument("--report", default=None)
    args = ap.parse_args()

    from groundqa.bench.qa import build_context_index, run_pipeline_qa, summarize, write_report
    from groundqa.bench.squad import load_squad, sample_items
    from groundqa.generate.hf import TransformersGenerator
    from groundqa.pipeline import Pipeline
    from groundqa.verify.guard import Guard

    items = load_squad(args.data)
    t0 = time.perf_counter()
    cache = Path(args.index_cache) if args.index_cache else None
    if cache is not None and (cache / "manifest.json").exists():
        from groundqa.index import HybridIndex

        index = HybridIndex.load(cache)
    else:
        index = build_context_index(items, args.embedder)
        if cache is not None:
            index.save(cache)
    index_s = time.perf_counter() - t0
    pool = items
    if args.heldout:
        titles = sorted({it.doc_id for it in items})[-12:]
        pool = [it for it in items if it.doc_id in titles]
    chosen = sample_items(pool, args.limit, args.seed)
    pipe = Pipeline(index, TransformersGenerator(args.generator, context=args.reads), Guard(args.verifier, embedder=index.embedder, calibration=args.calibration, reader=args.reader), policy=args.policy, top_k=args.top_k)
    pipe.warm_up()
    records = run_pipeline_qa(chosen, pipe, batch_size=args.batch_size, version=args.version)
    summary = summarize(records, version=args.version)
    config = {
        "data": args.data, "version": args.version, "heldout": args.heldout, "limit": args.limit, "seed": args.seed,
        "questions": len(chosen), "paragraphs_indexed": len(index.doc_ids()), "chunks": len(index), "index_seconds": round(index_s, 1),
        "generator": args.generator, "reads": args.reads, "verifier": args.verifier, "calibration": args.calibration, "calibration_used": pipe.guard.calibration_name, "threshold": pipe.guard.threshold, "reader": args.reader, "policy": args.policy, "top_k": args.top_k, "embedder": args.embedder,
        "command": "python " + " ".join(sys.argv),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"dataset": Path(args.data).name, "results": summary, "config": config}, indent=2) + "\n")
    if args.report:
        write_report(records, summary, args.report, title=f"groundqa end to end: {Path(args.data).name}", config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
