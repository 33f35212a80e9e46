"""Collect the generator rows (outputs of `groundqa bench qa --json`) and the shipped adapter's card
into benchmarks/results/generator/generator_squad.json, in the issue's format:
{"dataset": ..., "results": {"<generator>": {"em", "f1", "tokens_per_s", ...}}, ...}.

    python benchmarks/generator_collect.py
"""

from __future__ import annotations

import json
from pathlib import Path

RES = Path("benchmarks/results/generator")
CARD = Path("src/groundqa/data/adapters/smollm2-135m-squad-lora/groundqa_card.json")
ROWS = {
    "smollm2-135m (base)": "generator_qa_smollm2-135m.json",
    "smollm2-135m + LoRA, shipped (fast profile, update x0.75)": "generator_qa_fast.json",
    "smollm2-135m + LoRA, unscaled": "generator_qa_fast_unscaled.json",
    "smollm2-135m full fine-tune": "generator_qa_smollm2-135m-full.json",
    "qwen2.5-coder-1.5b bf16 (quality profile)": "generator_qa_quality.json",
}
FULL_CARD = Path("runs/smollm2-135m-squad-full/groundqa_card.json")


def _subset(report: dict, ids: set[str]) -> dict:
    recs = [r for r in report["records"] if r["id"] in ids]
    n = len(recs)
    return {"em": round(100 * sum(r["em"] for r in recs) / n, 2), "f1": round(100 * sum(r["f1"] for r in recs) / n, 2), "n": n}


def main() -> None:
    out: dict = {
        "dataset": "SQuAD v1.1 dev, 12 held-out articles (Scottish_Parliament ... Yuan_dynasty), gold paragraph among 2 "
                   "other paragraphs of its article; seeded sample (seed 0)",
        "results": {},
    }
    reports = {}
    for name, fname in ROWS.items():
        p = RES / fname
        if not p.exists():
            continue
        r = json.loads(p.read_text())
        r = r.get("scores", r)  # the schema's wrapper (benchmarks/legacy.py, run.py)
        reports[name] = r
        out["results"][name] = {
            "em": r["em"], "f1": r["f1"], "tokens_per_s": r["tokens_per_s"], "seconds_per_question": r["seconds_per_question"],
            "n": r["n"], "answered_rate": r["answered_rate"], "gold_citation_rate": r["citation_rate"],
            "command": f"groundqa bench qa --data runs/squad_split/heldout12.json --context gold --generator {r['generator']} "
                       f"--distractors {r['settings']['distractors']} --limit {r['n']} --seed {r['settings']['seed']} "
                       f"--batch-size {r['settings']['batch_size']} --threads {r['settings'].get('threads')}",
        }
    # rows on a smaller sample are also scored on the same questions for the others (samples are nested)
    # every row is also scored on the questions all rows answered (samples are nested)
    if reports:
        common = set.intersection(*({rec["id"] for rec in r["records"]} for r in reports.values()))
        out["same_questions"] = {"n": len(common), "results": {name: _subset(r, common) for name, r in reports.items()}}
    if CARD.exists():
        card = json.loads(CARD.read_text())
        out["fine_tuning"] = {
            "command": card["command"], "method": card["method"], "base": card["base"], "training": card["training"],
            "data": {k: v for k, v in card["data"].items() if k != "path"}, "dev": {k: card["dev"][k] for k in ("before", "after", "best_f1")},
            "hyperparameters": card["hyperparameters"],
        }
        f = card["forgetting"]
        out["forgetting"] = {
            "perplexity_general_text": {"before": f["before"]["perplexity"], "after": f["after"]["perplexity"]},
            "general_questions_right": {"before": f"{f['before']['general_correct']}/{f['before']['general_total']}",
                                        "after": f"{f['after']['general_correct']}/{f['after']['general_total']}"},
            "answers": [{"question": b["question"], "before": b["answer"], "after": a["answer"]}
                        for b, a in zip(f["before"]["general_answers"], f["after"]["general_answers"])],
        }
        sc = card.get("scaled")
        if sc:
            out["forgetting"]["shipped_scale"] = {"scale": sc["scale"], "perplexity_general_text": sc["forgetting_after"]["perplexity"],
                                                  "general_questions_right": f"{sc['forgetting_after']['general_correct']}/{sc['forgetting_after']['general_total']}",
                                                  "how_chosen": sc["note"]}
    if FULL_CARD.exists():
        fc = json.loads(FULL_CARD.read_text())
        out["full_fine_tuning"] = {
            "command": fc["command"], "training": fc["training"], "dev": {k: fc["dev"][k] for k in ("before", "after", "best_f1")},
            "hyperparameters": fc["hyperparameters"],
            "forgetting": {"perplexity_general_text": {"before": fc["forgetting"]["before"]["perplexity"], "after": fc["forgetting"]["after"]["perplexity"]},
                           "general_questions_right": {"before": fc["forgetting"]["before"]["general_correct"], "after": fc["forgetting"]["after"]["general_correct"]}},
        }
    (RES / "generator_squad.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["results"], indent=1))


if __name__ == "__main__":
    main()
