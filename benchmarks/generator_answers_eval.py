"""Does the generator answer when a shown passage holds the answer, and decline when nothing shown
is relevant? (issue 21, "an adapter that answers"). Generator only, no retrieval and no guard.

On the held-out SQuAD articles (the last 12 of v1.1 dev and of v2.0 dev in title order; never
trained on), three settings, each question seeded on its id so every generator sees the same
passages:

- ``gold``: a v1.1 question with its own paragraph among 2 other paragraphs of its article;
  reported: token F1 (a decline scores 0), answered rate, decline rate, F1 of the answered ones;
- ``nothing``: the same questions shown only paragraphs of other articles (nothing about the
  question): the decline rate, which must stay high;
- ``topic``: SQuAD v2.0 unanswerable questions with the paragraph they were written against
  (the topic shown, the answer not): the decline rate (the new recipe leaves these to the guard,
  so a lower rate here is expected; shown for the record).

``--margins 0.25,0.45,...`` answers with no decline margin, scores how near each answer came to the
decline sentence (``decline_gap``), and reports each margin (and the adapter card's) as the
generator would apply it: a margin only turns answers into declines, so the rows are exact.

``--articles dev`` asks the same of the adapter's dev articles instead (never trained on, never
reported on): for choosing between adapters, as ``recipes/adapter_soup.py`` does.

    OMP_NUM_THREADS=2 python benchmarks/generator_answers_eval.py --generator default --generator runs/qwen05-answers \
        --generator qwen2.5-coder-0.5b --json benchmarks/results/generator/generator_answers_eval.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", action="append", required=True, help="profile, model or adapter folder (repeatable)")
    ap.add_argument("--limit", type=int, default=60, help="questions per setting")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--articles", choices=("heldout", "dev"), default="heldout",
                    help="heldout: the benchmarks' held-out articles (report on these); dev: the adapter's dev articles "
                         "(calibration_set.ADAPTER_DEV, never trained on), for choosing between adapters")
    ap.add_argument("--margins", default=None, metavar="M1,M2,...",
                    help="also score how near each answer came to the decline sentence (decline_gap) and report, for each "
                         "decline margin, what the generator would do with it (a margin only turns answers into declines, "
                         "so this is exact without generating again); for choosing the adapter card's decline_margin")
    from groundqa.generate.context import WINDOW_SPLITS  # pure: no model, no torch

    ap.add_argument("--window-split", choices=("auto", *WINDOW_SPLITS), default="auto",
                    help="how the evidence windows share their words (auto: the generator card's, else even)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from groundqa.datasets.squad import best_over, context_pool, load_squad, passages_for
    from groundqa.generate.hf import TransformersGenerator
    from groundqa.generate.prompts import strip_citations

    v1 = load_squad(str(SHARED / "squad_v1.1_dev" / "dev-v1.1.json"))
    v2 = load_squad(str(SHARED / "squad_v2.0_dev" / "dev-v2.0.json"))
    held1 = set(sorted({i.doc_id for i in v1})[-12:])
    held2 = set(sorted({i.doc_id for i in v2})[-12:])
    if args.articles == "dev":
        from calibration_set import ADAPTER_DEV

        held1 = held2 = set(ADAPTER_DEV)
    pool = context_pool(v1 + v2)
    rng = random.Random(args.seed)
    ans = [it for it in v1 if it.doc_id in held1]
    una = [it for it in v2 if it.doc_id in held2 and not it.answers]
    rng.shuffle(ans)
    rng.shuffle(una)
    ans, una = ans[: args.limit], una[: args.limit]
    others = sorted(pool)

    def nothing(it: Any) -> list[str]:
        r = random.Random(f"nothing-{args.seed}-{it.id}")
        docs = r.sample([d for d in others if d != it.doc_id], 3)
        return [r.choice(list(pool[d])) for d in docs]

    settings = {
        "gold": [(it, passages_for(it, pool, 2, random.Random(f"{args.seed}-{it.id}"))[0]) for it in ans],
        "nothing": [(it, nothing(it)) for it in ans],
        "topic": [(it, passages_for(it, pool, 2, random.Random(f"{args.seed}-{it.id}"))[0]) for it in una],
    }
    results: dict[str, Any] = {}
    for ref in args.generator:
        gen = TransformersGenerator(ref, batch_size=args.batch_size, window_split=args.window_split)
        gen.warm_up()
        res: dict[str, Any] = {"generator": gen.name, "decline_margin": gen.decline_margin}
        margins = sorted({float(m) for m in args.margins.split(",")} | ({gen.decline_margin} if gen.decline_margin is not None else set())) if args.margins else []
        if margins:  # answer with no margin and score every answer: each margin's table row is exact
            res["card_margin"] = gen.decline_margin
            gen.decline_margin, gen.score_decline = None, True
            res["decline_margin"] = None
        for name, rows in settings.items():
            if not rows:
                continue  # no question of this kind in these articles
            t0 = time.perf_counter()
            outs = []
            for s in range(0, len(rows), args.batch_size):
                part = rows[s : s + args.batch_size]
                outs.extend(gen.generate_batch([it.question for it, _ in part], [ps for _, ps in part]))
            declined = [g.declined for g in outs]
            row: dict[str, Any] = {"n": len(rows), "decline_rate": round(100 * sum(declined) / max(1, len(rows)), 1),
                                   "seconds_per_question": round((time.perf_counter() - t0) / max(1, len(rows)), 2)}
            if name == "gold":
                f1 = [0.0 if g.declined else best_over(list(it.answers), strip_citations(g.text), "1.1")[1] for (it, _), g in zip(rows, outs)]
                answered = [x for x, d in zip(f1, declined) if not d]
                row.update({"f1": round(100 * sum(f1) / len(f1), 1), "answered_rate": round(100 * len(answered) / len(f1), 1),
                            "answered_f1": round(100 * sum(answered) / len(answered), 1) if answered else None})
            if margins:
                gaps = [g.confidence.get("decline_gap", 0.0) for g in outs]
                row["decline_gaps"] = [round(x, 4) for x in gaps]
                if name == "gold":
                    row["f1s"] = [round(x, 4) for x in f1]
                row["by_margin"] = {}
                for m in margins:
                    gated = [d or x > -m for d, x in zip(declined, gaps)]
                    cell: dict[str, Any] = {"decline_rate": round(100 * sum(gated) / len(gated), 1)}
                    if name == "gold":
                        cell["f1"] = round(100 * sum(0.0 if d else x for d, x in zip(gated, f1)) / len(f1), 1)
                    row["by_margin"][str(m)] = cell
            row["examples"] = [{"id": it.id, "question": it.question, "gold": list(it.answers), "text": g.text} for (it, _), g in list(zip(rows, outs))[:5]]
            res[name] = row
            print(f"{ref:40} {name:8} " + " ".join(f"{k} {v}" for k, v in row.items() if k not in ("examples", "decline_gaps", "f1s", "by_margin")), file=sys.stderr, flush=True)
        results[ref] = res
        del gen
    report = {"config": {"limit": args.limit, "seed": args.seed, "articles": args.articles, "margins": args.margins, "heldout_v11": sorted(held1), "heldout_v20": sorted(held2),
                         "command": "python " + " ".join(sys.argv)}, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    for ref, r in results.items():
        if "by_margin" not in r["gold"]:
            continue
        print(f"{ref}: with a decline margin (decline when the decline sentence's mean token log-probability is within the margin of the answer's); "
              f"its card's: {r['card_margin']}")
        print(f"{'margin':>8} {'gold F1':>8} {'gold declined':>14} | {'nothing: declined':>18} | {'topic: declined':>16}")
        for m, cell in r["gold"]["by_margin"].items():
            topic = r["topic"]["by_margin"][m]["decline_rate"] if "topic" in r else "-"
            print(f"{m:>8} {cell['f1']:8} {cell['decline_rate']:14} | {r['nothing']['by_margin'][m]['decline_rate']:18} | {topic:>16}")
    print(f"{'generator':40} {'gold F1':>8} {'answered':>9} {'ans F1':>7} {'declined':>9} | {'nothing: declined':>18} | {'topic: declined':>16}")
    for ref, r in results.items():
        g = r["gold"]
        topic = r["topic"]["decline_rate"] if "topic" in r else "-"
        print(f"{ref:40} {g['f1']:8} {g['answered_rate']:9} {g['answered_f1'] or 0:7} {g['decline_rate']:9} | {r['nothing']['decline_rate']:18} | {topic:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
