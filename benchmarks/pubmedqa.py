"""PubMedQA (expert-labelled PQA-L) for the generator issue: yes/no/maybe accuracy, base against
fine-tuned, on the 500 official test ids; fine-tuning uses only the other 500 items.

    python benchmarks/pubmedqa.py prepare              # runs/pubmedqa/{train,test}.jsonl
    python benchmarks/pubmedqa.py eval --generator smollm2-135m --json benchmarks/results/generator/pubmedqa_smollm2-135m.json
    python benchmarks/pubmedqa.py collect              # benchmarks/results/generator/pubmedqa.json

Each item becomes a JSONL row {question, answer, context, doc_id}: the question with "Answer yes, no
or maybe." appended, the abstract without its conclusion as the one passage, the decision as the
answer. The same rows feed `groundqa finetune` (the target becomes "yes [1]"). The model's answer
is read by likelihood (`TransformersGenerator.choice_logprobs`): the label whose word, in lower or
capitalised form, is likeliest as the start of the reply. No text parsing, so a base model that
would ramble is scored on what it prefers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

DATA = Path("../shared/data/pubmedqa_pqal")
OUT = Path("runs/pubmedqa")
RES = Path("benchmarks/results/generator")
LABELS = ("yes", "no", "maybe")
SUFFIX = " Answer yes, no or maybe."


def prepare(data: Path = DATA, out: Path = OUT) -> None:
    items = json.loads((data / "ori_pqal.json").read_text())
    test_ids = set(json.loads((data / "test_ground_truth.json").read_text()))
    out.mkdir(parents=True, exist_ok=True)
    counts = Counter()
    with open(out / "train.jsonl", "w") as tr, open(out / "test.jsonl", "w") as te:
        for pmid in sorted(items):
            it = items[pmid]
            row = {"id": pmid, "doc_id": pmid, "question": it["QUESTION"].strip() + SUFFIX,
                   "answer": it["final_decision"], "context": " ".join(it["CONTEXTS"])}
            split = "test" if pmid in test_ids else "train"
            (te if split == "test" else tr).write(json.dumps(row) + "\n")
            counts[split] += 1
    print(f"wrote {out}/train.jsonl ({counts['train']}) and {out}/test.jsonl ({counts['test']})")


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def evaluate(generator: str, data: Path, limit: int | None, threads: int) -> dict:
    import torch

    from groundqa.generate import TransformersGenerator

    torch.set_num_threads(threads)
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    gen = TransformersGenerator(generator, context="chunks")  # the yes/no reads the whole abstract
    t0 = time.perf_counter()
    gen.warm_up()
    load_s = time.perf_counter() - t0
    choices = [v for lab in LABELS for v in (lab, lab.capitalize())]
    records, t0 = [], time.perf_counter()
    for i, r in enumerate(rows, 1):
        lp = gen.choice_logprobs(r["question"], [r["context"]], choices)
        scores = {lab: _logsumexp(lp[2 * k: 2 * k + 2]) for k, lab in enumerate(LABELS)}
        pred = max(scores, key=scores.get)
        records.append({"id": r["id"], "gold": r["answer"], "pred": pred, "scores": {k: round(v, 4) for k, v in scores.items()}})
        if i % 50 == 0:
            print(f"{i}/{len(rows)} accuracy so far {sum(x['gold'] == x['pred'] for x in records) / i:.3f}", file=sys.stderr)
    secs = time.perf_counter() - t0
    acc = sum(x["gold"] == x["pred"] for x in records) / len(records)
    f1s = []
    for lab in LABELS:
        tp = sum(x["gold"] == lab and x["pred"] == lab for x in records)
        fp = sum(x["gold"] != lab and x["pred"] == lab for x in records)
        fn = sum(x["gold"] == lab and x["pred"] != lab for x in records)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    majority = Counter(x["gold"] for x in records).most_common(1)[0]
    return {
        "dataset": "PubMedQA PQA-L, official test ids", "generator": generator, "n": len(records),
        "accuracy": round(100 * acc, 2), "macro_f1": round(100 * sum(f1s) / len(f1s), 2),
        "majority_baseline": {"label": majority[0], "accuracy": round(100 * majority[1] / len(records), 2)},
        "predicted": dict(Counter(x["pred"] for x in records)), "seconds_per_question": round(secs / len(records), 3),
        "load_seconds": round(load_s, 1), "threads": threads, "records": records,
    }


def collect() -> None:
    out = {"dataset": "PubMedQA PQA-L: 500 official test ids; fine-tuning on the other 500", "results": {}}
    for p in sorted(RES.glob("pubmedqa_*.json")):
        if p.name == "pubmedqa.json":
            continue
        r = json.loads(p.read_text())
        r = r.get("scores", r)  # the schema's wrapper (benchmarks/legacy.py, run.py)
        out["results"][r["generator"]] = {k: r[k] for k in ("n", "accuracy", "macro_f1", "predicted", "seconds_per_question")}
        out["majority_baseline"] = r["majority_baseline"]
    card = Path("runs/smollm2-135m-pubmedqa-lora/groundqa_card.json")
    if card.exists():
        c = json.loads(card.read_text())
        out["fine_tuning"] = {"command": c["command"], "training": c["training"], "train_examples": c["data"]["train_examples"],
                              "dev_documents": len(c["data"]["dev_documents"]), "dev": {k: c["dev"][k] for k in ("before", "after")},
                              "perplexity_general_text": {"before": c["forgetting"]["before"]["perplexity"],
                                                          "after": c["forgetting"]["after"]["perplexity"]}}
    (RES / "pubmedqa.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'generator':<50} {'n':>4} {'accuracy':>9} {'macro-F1':>9} {'s/q':>6}")
    for g, r in out["results"].items():
        print(f"{g:<50} {r['n']:>4} {r['accuracy']:>9.1f} {r['macro_f1']:>9.1f} {r['seconds_per_question']:>6.2f}")
    if "majority_baseline" in out:
        print(f"always '{out['majority_baseline']['label']}': accuracy {out['majority_baseline']['accuracy']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare")
    ev = sub.add_parser("eval")
    ev.add_argument("--generator", required=True)
    ev.add_argument("--data", type=Path, default=OUT / "test.jsonl")
    ev.add_argument("--limit", type=int)
    ev.add_argument("--threads", type=int, default=1)
    ev.add_argument("--json", type=Path, required=True)
    sub.add_parser("collect")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare()
    elif a.cmd == "eval":
        r = evaluate(a.generator, a.data, a.limit, a.threads)
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(r, indent=2) + "\n")
        print(f"{r['generator']}: accuracy {r['accuracy']:.1f}, macro-F1 {r['macro_f1']:.1f} on {r['n']} "
              f"(always '{r['majority_baseline']['label']}': {r['majority_baseline']['accuracy']:.1f}); predicted {r['predicted']}")
    else:
        collect()


if __name__ == "__main__":
    main()
