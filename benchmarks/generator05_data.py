"""Training data for the default generator's adapter (issue 12): SQuAD training articles only.

Held out from training, and never tuned on: the 12 last articles of SQuAD v1.1 dev in title order
(the generator and end-to-end benchmarks' v1.1 questions) and the 12 last articles of SQuAD v2.0
dev in title order (the v2 end-to-end benchmark's questions); 8 articles are in both lists, so 16
articles are held out. The training file holds the other 32 articles:
every answerable question, and the SQuAD v2.0 unanswerable questions of those articles, sampled
down to ``--unanswerable-share`` of the file (the adapter must learn to decline where the topic is
present but the answer is not, without declining answerable questions).

    python benchmarks/generator05_data.py [--out runs/squad_split/train_qwen05.json]

The paragraphs of the demo's sample corpus are left out (``--keep-sample`` keeps them). Issue 21's
recipe uses ``--unanswerable-share 0`` (no same-paragraph declines; recipes/generator_answers_train.sh).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

D = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--v1", default=str(D / "squad_v1.1_dev" / "dev-v1.1.json"))
    ap.add_argument("--v2", default=str(D / "squad_v2.0_dev" / "dev-v2.0.json"))
    ap.add_argument("--out", default="runs/squad_split/train_qwen05.json")
    ap.add_argument("--unanswerable-share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-sample", action="store_true",
                    help="keep the paragraphs of the demo's sample corpus (left out by default: the demo reports on them)")
    a = ap.parse_args()
    from calibration_set import sample_paragraphs  # this script's folder is on sys.path

    sample_text = sample_paragraphs()
    dropped = 0
    v1 = json.loads(Path(a.v1).read_text())["data"]
    v2 = json.loads(Path(a.v2).read_text())["data"]
    held = set(sorted(x["title"] for x in v1)[-12:]) | set(sorted(x["title"] for x in v2)[-12:])
    v2_by_title = {x["title"]: x for x in v2}
    arts, n_ans, impossible = [], 0, []
    for art in sorted(v1, key=lambda x: x["title"]):
        if art["title"] in held:
            continue
        paras = []
        v2_paras = {p["context"]: p for p in v2_by_title.get(art["title"], {}).get("paragraphs", [])}
        for p in art["paragraphs"]:
            if not a.keep_sample and " ".join(p["context"].split())[:200] in sample_text:
                dropped += 1
                continue
            qas = [dict(q, is_impossible=False) for q in p["qas"]]
            n_ans += len(qas)
            for q in v2_paras.get(p["context"], {}).get("qas", []):
                if q.get("is_impossible"):
                    impossible.append((art["title"], p["context"], q))
            paras.append({"context": p["context"], "qas": qas})
        arts.append({"title": art["title"], "paragraphs": paras})
    rng = random.Random(a.seed)
    keep_n = min(len(impossible), round(a.unanswerable_share * n_ans / (1 - a.unanswerable_share)))
    keep = {id(q) for _, _, q in rng.sample(impossible, keep_n)}
    by_ctx = {(art["title"], p["context"]): p for art in arts for p in art["paragraphs"]}
    for title, ctx, q in impossible:
        if id(q) in keep:
            by_ctx[(title, ctx)]["qas"].append({"id": q["id"], "question": q["question"], "answers": [], "is_impossible": True})
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"version": "mixed-1.1-2.0", "data": arts}))
    print(f"{out}: {len(arts)} articles, {n_ans} answerable + {keep_n} unanswerable (of {len(impossible)}) questions; "
          f"held out: {len(held)} articles: {', '.join(sorted(held))}; left out: {dropped} paragraphs of the demo's sample corpus")


if __name__ == "__main__":
    main()
