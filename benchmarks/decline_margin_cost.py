"""What the generator's decline margin costs (issue 21): the default generator with the margin its
adapter card sets and with none, on the same held-out SQuAD questions (gold paragraph among 2
others, batches of 8), interleaved (none, card, card, none) so that drift on a shared machine
falls on both. Reported: seconds per question for each and their ratio, and how far the batched
decline scoring is from scoring each prompt on its own (it should be float noise).

    python benchmarks/decline_margin_cost.py --limit 24 --threads 2 --json /tmp/cost.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=24, help="questions (a multiple of 8 keeps batches full)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads, pinned (both generators share them)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from groundqa.datasets.squad import context_pool, load_squad, passages_for
    from groundqa.generate.hf import TransformersGenerator

    v1 = load_squad(str(SHARED / "squad_v1.1_dev" / "dev-v1.1.json"))
    held = set(sorted({i.doc_id for i in v1})[-12:])
    items = [it for it in v1 if it.doc_id in held]
    random.Random(3).shuffle(items)
    pool = context_pool(v1)
    rows = [(it.question, passages_for(it, pool, 2, random.Random(it.id))[0]) for it in items[: args.limit]]
    gens = {"none": TransformersGenerator("default", decline_margin=None, batch_size=8, threads=args.threads),
            "card": TransformersGenerator("default", batch_size=8, threads=args.threads)}
    for g in gens.values():
        g.warm_up()
        g.generate_batch([rows[0][0]], [rows[0][1]])  # the instruction's cache and the packed weights
    spent = {k: 0.0 for k in gens}
    for order in (("none", "card"), ("card", "none")):
        for k in order:
            for s in range(0, len(rows), 8):
                part = rows[s : s + 8]
                t0 = time.perf_counter()
                gens[k].generate_batch([q for q, _ in part], [p for _, p in part])
                spent[k] += time.perf_counter() - t0
    per_q = {k: v / (2 * len(rows)) for k, v in spent.items()}
    g = gens["card"]
    part = rows[:8]
    g.generate_batch([q for q, _ in part], [p for _, p in part])
    prompts = [g.prompt(q, p) for q, p in part]
    d = [int(t) for t in g.tokenizer(g.template.decline, add_special_tokens=False)["input_ids"]]
    gap = max(abs(a - b) for a, b in zip(g._decline_means(prompts), [g._continuation_means([p], d)[0] for p in prompts]))
    report = {"config": {"limit": len(rows), "batch_size": 8, "threads": args.threads, "margin": g.decline_margin, "command": "python " + " ".join(sys.argv)},
              "seconds_per_question": {k: round(v, 3) for k, v in per_q.items()}, "ratio_card_to_none": round(per_q["card"] / per_q["none"], 3),
              "max_abs_batched_minus_single": gap}
    print(f"{'generator':28} {'s / question':>13}")
    print(f"{'default, no margin':28} {per_q['none']:13.3f}")
    print(f"{'default, margin ' + str(g.decline_margin):28} {per_q['card']:13.3f}")
    print(f"ratio {report['ratio_card_to_none']}; batched decline scoring vs one prompt at a time: max difference {gap:.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
