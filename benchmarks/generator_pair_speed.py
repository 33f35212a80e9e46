"""Generation time of two generators in the same run (issue 21, eleventh session): the same
calibration questions and retrieved passages, each generator warmed, then timed in turn for
``--rounds`` rounds (prompt caches cleared each time); seconds a question (median of the rounds)
and their ratio. Absolute times drift on a shared machine; the ratio is the number to read.

    python benchmarks/generator_pair_speed.py default runs/qwen15-answers \\
        --json benchmarks/results/generator/generator_pair_speed_qwen15.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("baseline", help="generator: profile, model or adapter folder")
    ap.add_argument("other", help="generator compared with the baseline")
    ap.add_argument("--answers", type=Path, default=Path("benchmarks/results/calibration/calibration_answers.jsonl"),
                    help="a calibration_set.py answers file: its questions are asked")
    ap.add_argument("--domain", default="squad")
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("runs/calibration/index"), help="the calibration set's saved indexes")
    ap.add_argument("--other-int8", nargs="?", const="tensor", default=None, choices=["tensor", "channel"],
                    help="load the other generator with dynamic int8 linear layers (CPU): one weight scale a layer (tensor, the "
                         "default with no value) or an output row (channel)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    import torch

    from groundqa.generate import make_generator
    from groundqa.index import HybridIndex

    torch.set_num_threads(a.threads)
    recs = [json.loads(line) for line in a.answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    qs = [r["question"].strip() for r in recs if r["domain"] == a.domain][: a.questions]
    if not qs:
        raise SystemExit(f"no {a.domain!r} question in {a.answers}")
    hits = HybridIndex.load(a.cache / a.domain).search_batch(qs, top_k=4)
    other = a.other + ({"tensor": " (int8)", "channel": " (int8 per channel)"}[a.other_int8] if a.other_int8 else "")
    if other == a.baseline:
        raise SystemExit("baseline and other are the same generator; name another, or add --other-int8")
    gens = {a.baseline: make_generator(a.baseline), other: make_generator(a.other, **({"int8": a.other_int8} if a.other_int8 else {}))}
    for g in gens.values():
        g.warm_up()
        g.generate_batch(qs[:8], hits[:8])  # kernels and the instruction's cached prefix
    secs: dict[str, list[float]] = {name: [] for name in gens}
    texts: dict[str, list[str]] = {}
    for _ in range(a.rounds):
        for name, g in gens.items():
            g.clear_prompt_cache()
            t0 = time.perf_counter()
            outs = g.generate_batch(qs, hits)
            secs[name].append((time.perf_counter() - t0) / len(qs))
            texts[name] = [o.text for o in outs]
    med = {name: round(statistics.median(v), 4) for name, v in secs.items()}
    same = sum(x == y for x, y in zip(texts[a.baseline], texts[other]))
    res = {"domain": a.domain, "questions": len(qs), "rounds": a.rounds, "threads": a.threads, "top_k": 4,
           "seconds_per_question": med, "all": secs, "ratio_other_to_baseline": round(med[other] / med[a.baseline], 3),
           "same_answers": same, "answers": texts}
    print("| generator | s a question (median of rounds) |\n|---|---|")
    for name in gens:
        print(f"| {name} | {med[name]:.3f} |")
    print(f"ratio {other} / {a.baseline}: {res['ratio_other_to_baseline']:.2f}; the same answer to {same} of {len(qs)} questions")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
