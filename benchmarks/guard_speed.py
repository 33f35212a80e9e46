"""Guard time per answer on CPU: the default Guard over 5 retrieved-size passages per answer.

Answers are built from SQuAD v1.1 dev *training* articles (the 2 validation titles of the verifier
recipe): for each question, a two-sentence answer (the gold sentence plus a sentence from another
paragraph, so one claim is unsupported) and a short answer read with its question. Passages: the
gold paragraph and 4 other paragraphs of the article, as chunks.

    python benchmarks/guard_speed.py --squad ../shared/data/squad_v1.1_dev/dev-v1.1.json --n 40 \
        --json benchmarks/results/guard/guard_speed.json

``--generator REF`` also times that generator answering the same questions from the same passages
in the same run (one question at a time, as the pipeline's `ask` does) and reports the guard's time
as a share of it; ``--judge REF`` adds the LLM judge to the guard.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from groundqa.text import sentence_spans
from groundqa.types import Chunk, Passage
from groundqa.verify import Guard
from groundqa.verify.synth import squad_articles, squad_training_titles


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", required=True)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--verifier", default="default")
    ap.add_argument("--json", default=None)
    ap.add_argument("--quantize", action="store_true", help="dynamic int8 cross-encoder")
    ap.add_argument("--judge", default=None, help="add an LLM judge (e.g. qwen2.5-coder-0.5b) to the guard")
    ap.add_argument("--calibration", default="default", help="the guard's calibration (time does not depend on it)")
    ap.add_argument("--generator", default=None, help="also time this generator on the same questions and passages (e.g. default)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rng = random.Random(0)
    titles = squad_training_titles(args.squad)[-2:]
    arts = squad_articles(args.squad, titles)
    items = []
    for art in arts:
        paras = art["paragraphs"]
        for k, p in enumerate(paras):
            for q in p["qas"][:2]:
                a = q["answers"][0]
                ctx = p["context"]
                sent = next(ctx[s:e] for s, e in sentence_spans(ctx) if s <= a["answer_start"] < e)
                other = paras[(k + 3) % len(paras)]["context"]
                other_sent = ctx and [other[s:e] for s, e in sentence_spans(other)][0]
                chosen = [k] + rng.sample([j for j in range(len(paras)) if j != k], 4)
                passages = [Passage(Chunk(f"c{j}", art["title"], paras[j]["context"], 0, len(paras[j]["context"])), 1.0 / (r + 1), r + 1) for r, j in enumerate(chosen)]
                items.append((q["question"], f"{sent} {other_sent}", passages))
                items.append((q["question"], a["text"], passages))
    items = items[: args.n]
    from groundqa.pipeline.build import judge_scorer

    if args.quantize:
        from groundqa.verify.scorers import CrossEncoderScorer

        guard = Guard(CrossEncoderScorer(args.verifier, quantize=True), judge=judge_scorer(args.judge), calibration=args.calibration)
    else:
        guard = Guard(args.verifier, judge=judge_scorer(args.judge), calibration=args.calibration)
    t = time.perf_counter()
    guard.warm_up()
    warm = time.perf_counter() - t
    times, claims = [], 0
    for q, ans, ps in items:
        t = time.perf_counter()
        r = guard.verify(q, ans, ps)
        times.append(time.perf_counter() - t)
        claims += len(r.claims)
    gen_out = {}
    if args.generator:
        from groundqa.generate.hf import TransformersGenerator

        gen = TransformersGenerator(args.generator)
        gen.warm_up()
        gtimes = []
        for q, _, ps in items:
            t = time.perf_counter()
            gen.generate(q, ps)
            gtimes.append(time.perf_counter() - t)
        gen_out = {"generator": args.generator, "generate_ms_per_answer_mean": round(1000 * statistics.mean(gtimes), 1),
                   "generate_ms_per_answer_p50": round(1000 * statistics.median(gtimes), 1),
                   "guard_share_of_generation": round(statistics.mean(times) / statistics.mean(gtimes), 3)}
    times.sort()
    out = {
        "answers": len(items),
        "claims": claims,
        "warm_up_s": round(warm, 2),
        "ms_per_answer_p50": round(1000 * statistics.median(times), 1),
        "ms_per_answer_p95": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
        "ms_per_answer_mean": round(1000 * statistics.mean(times), 1),
        "verifier": args.verifier,
        "judge": args.judge,
        "quantize": args.quantize,
        "passages_per_answer": 5,
        **gen_out,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            f.write(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
