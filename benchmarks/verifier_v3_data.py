"""Training pairs for the verifier v3 (issue 21): answers read with their question, answerable or not.

The guard reads a short answer as one claim, "question? answer", against the evidence windows that
cover it best (``Guard.contexts``: ``lexical_rank``, the best window alone and the best three joined).
On SQuAD v2.0 the verifier v2 prefers a plausible answer to an unanswerable question over a right
answer (AUROC 0.44 between them in the calibration set, docs/benchmark-history.md, issue 21): it was
never shown one. This file builds exactly those inputs from SQuAD v2.0 dev articles that no benchmark
reports on and that the calibration set leaves to it (``--exclude-verifier-articles``):

* ``answer``: an answerable question with its gold answer: supported where the evidence holds the
  answer, not supported where it does not (the lexical ranking can pick a window without it);
* ``swap``: the question with the gold answer of another question of the same paragraph (the right
  kind of thing in the wrong slot): not supported;
* ``unanswerable``: an unanswerable question with a plausible answer: the answer of the answerable
  question of the same paragraph whose words it shares most (SQuAD v2.0 writers built unanswerable
  questions by editing answerable ones: a word negated, an entity or a number swapped), read against
  the windows that cover it: not supported.

Articles: SQuAD v2.0 dev, without the 12 last titles of v1.1 dev and of v2.0 dev (the benchmarks'
held-out articles), without the adapter's dev articles (the calibration set's answerable ones), and
only the alternate half (even positions in sorted order: ``verifier_articles`` in
``benchmarks/calibration_set.py``); with ``--exclude-verifier-articles`` the calibration set takes
its unanswerable questions from the other half. Paragraphs of the demo's sample corpus are left out. Replay: a sample of the v2 training file
(``recipes/verifier_v2_data.py``), so that the model keeps what it learned there.

    python benchmarks/verifier_v3_data.py --replay runs/verifier_v2/data/train.jsonl --out runs/verifier_v3/data
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

from groundqa.datasets.synth import Pair, write_jsonl
from groundqa.verify.claims import qa_claim
from groundqa.verify.evidence import lexical_rank, windows_from_texts
from groundqa.verify.lexical import units
from groundqa.verify.scorers import joined_evidence

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def guard_inputs(claim: str, windows: list, top_k: int = 4) -> list[str]:
    """The evidence texts the guard's cross-encoder reads for ``claim``: each of the best ``top_k``
    windows, and the best three joined (``CrossEncoderScorer.score``)."""
    out = [windows[i].text for i in lexical_rank(claim, windows, top_k)]
    joined = joined_evidence(out)
    return out + ([joined] if joined is not None else [])


def contains(evidence: str, answer: str) -> bool:
    return " ".join(answer.lower().split()) in " ".join(evidence.lower().split())


def pairs_for(article: dict, demo: str, rng: random.Random, per_question: int) -> list[Pair]:
    out: list[Pair] = []
    for para in article["paragraphs"]:
        ctx = para["context"]
        if " ".join(ctx.split())[:200] in demo:
            continue
        windows = windows_from_texts([ctx])
        answerable = [q for q in para["qas"] if q.get("answers")]
        src = article["title"]

        def add(question: str, answer: str, kind: str, may_support: bool) -> None:
            claim = qa_claim(question, answer)
            evs = guard_inputs(claim, windows)
            rng.shuffle(evs)
            for ev in evs[:per_question]:
                out.append(Pair(claim, ev, int(may_support and contains(ev, answer)), kind, src))

        for q in para["qas"]:
            if q.get("answers"):
                gold = q["answers"][0]["text"]
                add(q["question"], gold, "answer", True)
                others = [o["answers"][0]["text"] for o in answerable
                          if o["id"] != q["id"] and not any(contains(o["answers"][0]["text"], a["text"]) or contains(a["text"], o["answers"][0]["text"])
                                                          for a in q["answers"])]
                if others:
                    add(q["question"], rng.choice(others), "swap", False)
            elif answerable:
                qu = units(q["question"]).words
                best = max(answerable, key=lambda o: len(qu & units(o["question"]).words))
                if qu & units(best["question"]).words:
                    add(q["question"], best["answers"][0]["text"], "unanswerable", False)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--v1", default=str(SHARED / "squad_v1.1_dev" / "dev-v1.1.json"))
    ap.add_argument("--v2", default=str(SHARED / "squad_v2.0_dev" / "dev-v2.0.json"))
    ap.add_argument("--replay", default=None, help="the v2 training file; --replay-n pairs of it are mixed in")
    ap.add_argument("--replay-n", type=int, default=3000)
    ap.add_argument("--per-question", type=int, default=2, help="evidence texts per claim (of the best windows and their join)")
    ap.add_argument("--val-articles", type=int, default=2, help="the last N training articles are kept for validation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from calibration_set import sample_paragraphs, verifier_articles  # this script's folder is on sys.path

    rng = random.Random(args.seed)
    train_titles, cal_titles = verifier_articles(Path(args.v1), Path(args.v2))
    data = {a["title"]: a for a in json.loads(Path(args.v2).read_text(encoding="utf-8"))["data"]}
    demo = sample_paragraphs()
    tr_t, va_t = train_titles[: -args.val_articles], train_titles[-args.val_articles :]
    train = [p for t in tr_t for p in pairs_for(data[t], demo, rng, args.per_question)]
    val = [p for t in va_t for p in pairs_for(data[t], demo, rng, args.per_question)]
    replay: list[Pair] = []
    if args.replay:
        rows = [json.loads(line) for line in Path(args.replay).read_text(encoding="utf-8").splitlines() if line.strip()]
        rng.shuffle(rows)
        replay = [Pair(r["claim"], r["evidence"], int(r["label"]), f"replay:{r.get('kind', '')}", r.get("source", "")) for r in rows[: args.replay_n]]
    allp = train + replay
    rng.shuffle(allp)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(allp, out / "train.jsonl")
    write_jsonl(val, out / "val.jsonl")
    desc = {"train_articles": tr_t, "val_articles": va_t, "calibration_articles": cal_titles,
            "kinds": dict(Counter(p.kind for p in train)), "supported": dict(Counter(p.kind for p in train if p.label)),
            "val_kinds": dict(Counter(p.kind for p in val)), "replay": len(replay), "train_pairs": len(allp), "val_pairs": len(val),
            "licence": "SQuAD v2.0: CC BY-SA 4.0", "seed": args.seed}
    (out / "data.json").write_text(json.dumps(desc, indent=2), encoding="utf-8")
    print(json.dumps(desc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
