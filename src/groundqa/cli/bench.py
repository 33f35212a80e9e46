"""``groundqa bench``: every benchmark subcommand, here and nowhere else.

* ``bench retrieval``: recall@k, MRR@10 and nDCG@10 per retrieval mode on a BEIR folder;
* ``bench qa``: question answering EM/F1 on SQuAD-format data (gold contexts, or the whole pipeline);
* ``bench guard``: claim verification on WiCE, HaluEval or plain labelled claims.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_weights(value: str | None) -> dict[str, float] | None:
    """``"bm25=0.3,dense=0.7"`` -> ``{"bm25": 0.3, "dense": 0.7}``."""
    if value is None:
        return None
    out: dict[str, float] = {}
    for part in _csv(value):
        name, sep, num = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(num)
        except ValueError:
            raise ConfigError(f"--weights {value!r} is not valid; write it as bm25=W,dense=W (e.g. bm25=0.3,dense=0.7)") from None
    return out


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    from ..generate.profiles import PROFILES  # names only: no model loads

    r = bench_sub.add_parser(
        "retrieval",
        help="retrieval quality on a BEIR folder (recall@1/5/10/100, MRR@10, nDCG@10 per mode)",
        description="Index a BEIR folder's corpus (one chunk per document), search its queries in each mode, "
        "and report recall@1/5/10/100, MRR@10 and nDCG@10.",
    )
    r.add_argument("--data", required=True, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
    r.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated: bm25, dense, hybrid (default: all three)")
    r.add_argument("--embedder", default="minilm-l6", help="embedder reference: packaged name, folder or hub id (default minilm-l6)")
    r.add_argument("--top-k", type=int, default=100, help="documents retrieved per query (default 100; at least 100 for recall@100)")
    r.add_argument("--limit-queries", type=int, default=None, help="score only the first N queries (after --query-split)")
    r.add_argument("--query-split", choices=["all", "even", "odd"], default="all", help="all queries, or the 2nd/4th/... (even) or 1st/3rd/... (odd) in file order")
    r.add_argument("--fusion", choices=["rrf", "weighted"], default="weighted", help="hybrid fusion: weighted normalised scores (default, as the index) or reciprocal rank")
    r.add_argument("--rrf-k", type=float, default=60.0, help="RRF's k (default 60)")
    r.add_argument("--weights", default=None, help="per-retriever fusion weights, e.g. bm25=0.3,dense=0.7 (default: the index's, bm25=0.4,dense=0.6 for weighted and 1 each for rrf)")
    r.add_argument("--norm", choices=["zscore", "minmax", "dbsf"], default="zscore", help="score normalisation of weighted fusion (default zscore, as the index)")
    r.add_argument("--fit-fusion", action="store_true", help="fit the bm25/dense weight to the corpus from pseudo-queries drawn from its own chunks (embedded index, weighted fusion)")
    r.add_argument("--candidates", type=int, default=100, help="results each retriever contributes to hybrid fusion (default 100)")
    r.add_argument("--batch-size", type=int, default=256, help="queries per search_batch call (default 256)")
    r.add_argument("--backend", choices=["embedded", "milvus"], default="embedded", help="retrieval backend: the embedded index (default) or Milvus at --uri (without --uri: a temporary milvus-lite file, removed after the run)")
    r.add_argument("--uri", default=None, help="milvus: a local file such as ./bench.db (embedded Milvus) or http://host:19530; default: a temporary milvus-lite file")
    r.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the results JSON to OUT ('-' = stdout)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    r.set_defaults(func=cmd_retrieval)

    qa = bench_sub.add_parser("qa", help="question answering EM/F1 on SQuAD-format data",
                              description="Answer SQuAD questions and score them with the official EM/F1.")
    qa.add_argument("--data", required=True, help="SQuAD v1.1/v2.0 JSON or JSONL")
    qa.add_argument("--context", default="gold", choices=["gold", "retrieved"],
                    help="gold: the question's own paragraph among distractors (generator only); retrieved: the whole "
                    "pipeline, retrieval over every context of the file, guard and policy")
    qa.add_argument("--verifier", default="default", help="with --context retrieved: the guard's verifier (default: shipped)")
    qa.add_argument("--policy", default="abstain", choices=["return", "flag", "strip", "abstain"], help="with --context retrieved (default: abstain)")
    qa.add_argument("--top-k", type=int, default=4, help="with --context retrieved: passages per question (default: 4)")
    qa.add_argument("--report", default=None, help="with --context retrieved: write Markdown + PNG plots (risk-coverage, reliability, latency) here")
    qa.add_argument("--generator", default="default", help=f"profile ({', '.join(PROFILES)}), short name, folder, or hub id")
    qa.add_argument("--adapter", default=None, help="a LoRA adapter folder to apply on top of --generator")
    qa.add_argument("--distractors", type=int, default=2, help="other paragraphs of the same article shown with the gold one")
    qa.add_argument("--limit", type=int, default=None, help="a seeded sample of N questions")
    qa.add_argument("--articles", default=None, help="keep only these article titles: 'first:N', 'last:N' (sorted) or a comma list")
    qa.add_argument("--seed", type=int, default=0)
    qa.add_argument("--batch-size", type=int, default=8)
    qa.add_argument("--max-new-tokens", type=int, default=32)
    qa.add_argument("--int8", action="store_true", help="dynamic int8 quantisation (CPU)")
    qa.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    qa.add_argument("--ground", default="snap", choices=["snap", "off"], help="snap short answers to passage spans (default) or keep them as generated")
    qa.add_argument("--reads", default="windows", choices=["windows", "chunks"], help="what the generator reads of each passage: windows (the sentences around the best match to the question; the default) or chunks (whole passages, as before issue 22)")
    qa.add_argument("--instruction", default=None, help="replace the prompt's instruction (may use {decline}); for measuring an untuned model fairly")
    qa.add_argument("--threads", type=int, default=None)
    qa.add_argument("--json", dest="json_out", default=None, help="write the report (with per-question records) here")
    qa.set_defaults(func=_bench_qa)

    b = bench_sub.add_parser("guard", help="claim verification benchmark (WiCE, HaluEval, plain)")
    b.add_argument("--data", required=True)
    b.add_argument("--verifier", default="default", help="cross-encoder reference ('default' = shipped, 'none' = lexical+embedding only)")
    b.add_argument("--calibration", default=None, help="calibration JSON; default: fit on half of --data (split by claim id) and report the other half")
    b.add_argument("--json", default=None, help="write the metrics JSON here ('-' = stdout)")
    b.add_argument("--report", default=None, help="folder for PR and reliability plots")
    b.add_argument("--embedder", default="minilm-l6", help="embedder for the cosine signal ('none' to skip; 'hash' for tests)")
    b.add_argument("--judge", default=None, help="LLM-judge signal: a causal LM reference, e.g. qwen2.5-coder-0.5b (or the slower qwen2.5-coder-1.5b)")
    b.add_argument("--judge-dtype", default="fp32", choices=["int8", "bf16", "fp32"], help="the judge's weights on CPU (default fp32; int8 suits the 1.5B)")
    b.add_argument("--limit", type=int, default=None)
    b.add_argument("--save-features", default=None, help="also save the feature table (.npz) for offline analysis")
    b.add_argument("--load-features", action="append", default=None, help="reuse feature tables saved by --save-features (same --data) instead of scoring again; repeat to merge the columns of several runs (a later file's column wins)")
    b.add_argument("--no-exact-checks", action="store_true", help="do not cap claims with a number/date missing from the evidence")
    b.add_argument("--top-windows", type=int, default=None, help="evidence windows kept per claim after lexical pre-ranking")
    b.set_defaults(func=cmd_guard)


def cmd_retrieval(args: argparse.Namespace) -> int:
    from ..eval.retrieval import RetrievalBenchConfig, retrieval_report

    top_k = args.top_k
    ks = tuple(k for k in (1, 5, 10, 100) if k <= top_k) if isinstance(top_k, int) and top_k >= 1 else (1, 5, 10, 100)
    config = RetrievalBenchConfig(
        modes=tuple(_csv(args.modes)),
        embedder=args.embedder,
        top_k=top_k,
        ks=ks,
        limit_queries=args.limit_queries,
        query_split=args.query_split,
        fusion=args.fusion,
        rrf_k=args.rrf_k,
        weights=parse_weights(args.weights),
        norm=args.norm,
        fit_fusion=args.fit_fusion,
        candidates=args.candidates,
        batch_size=args.batch_size,
        backend=args.backend,
        uri=args.uri,
        data=args.data,
    )
    if config.weights is not None:
        bad = sorted(set(config.weights) - {"bm25", "dense"})
        if bad:
            raise ConfigError(f"--weights names {bad}; the retrievers are bm25 and dense")
    report = retrieval_report(config, show_progress=not args.no_progress)
    payload = json.dumps(report.to_dict(), indent=2, sort_keys=False)
    if args.json_out == "-":
        print(payload)
        print(report.table(), file=sys.stderr)
        return 0
    print(report.table())
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(payload + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


def _bench_qa(args: argparse.Namespace) -> int:
    from ..eval.qa import QABenchConfig, run_qa_bench

    result = run_qa_bench(QABenchConfig(
        data=args.data, context=args.context, verifier=args.verifier, policy=args.policy, top_k=args.top_k, report=args.report,
        generator=args.generator, adapter=args.adapter, distractors=args.distractors, limit=args.limit, articles=args.articles,
        seed=args.seed, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, int8=args.int8, dtype=args.dtype,
        ground=args.ground, reads=args.reads, instruction=args.instruction, threads=args.threads, json=args.json_out))
    print(json.dumps(dict(result.scores), indent=1))
    return 0


def cmd_guard(args: argparse.Namespace) -> int:
    from ..eval.guard import GuardBenchConfig, run_guard_bench

    run_guard_bench(GuardBenchConfig(data=args.data, verifier=args.verifier, calibration=args.calibration, json=args.json, report=args.report,
                                     embedder=args.embedder, judge=args.judge, judge_dtype=args.judge_dtype, limit=args.limit,
                                     save_features=args.save_features, load_features=args.load_features,
                                     no_exact_checks=args.no_exact_checks, top_windows=args.top_windows))
    return 0
