"""Train the guard's extractive reader (issue 21): the shipped verifier's MiniLM encoder with a
span head (start / end logits, the [CLS] position meaning "no answer here"), on SQuAD dev articles
that no benchmark reports on and the calibration set never asks about.

Articles: the 11 SQuAD v2.0 dev articles verifier v3 trains on (``calibration_set.verifier_articles``:
answerable and unanswerable questions) and the SQuAD v1.1 dev articles that are in no v2.0 file
and not held out (answerable only). One of them is kept for validation. Every answerable question
also gets, 1 time in 3, another paragraph of its article as a "no answer here" example: at run
time the reader reads retrieved passages, and most of them do not hold the answer.

Resumable: checkpoints every ``--save-steps`` under ``--out/ckpt``; rerun the same command.
CPU: about 9,000 features an epoch, a few per second with two threads.

    python recipes/reader_train.py --out runs/reader --epochs 2
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def load_examples(seed: int = 0, other_share: float = 1 / 3) -> tuple[list[dict], list[dict], dict]:
    """(train examples, validation examples, what they are): dicts with question, context, answer_start (-1: no
    answer in this context), answer_text, title. ``other_share``: how often an answerable question also
    gets another paragraph of its article as a "no answer here" example."""
    v1 = json.loads((SHARED / "squad_v1.1_dev" / "dev-v1.1.json").read_text(encoding="utf-8"))["data"]
    v2 = json.loads((SHARED / "squad_v2.0_dev" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"]
    t1 = sorted(a["title"] for a in v1)
    t2 = sorted(a["title"] for a in v2)
    adapter_dev = {"American_Broadcasting_Company", "Jacksonville,_Florida", "Martin_Luther"}
    held = set(t1[-12:]) | set(t2[-12:]) | adapter_dev
    free_v2 = [t for t in t2 if t not in held]
    v2_train = set(free_v2[0::2])  # calibration_set.verifier_articles: the odd ones give calibration its questions
    v1_only = {t for t in t1 if t not in held and t not in set(t2)}
    rng = random.Random(seed)
    from groundqa.documents import sample_corpus_dir

    # the demo's sample corpus is made of SQuAD paragraphs, and the demo is a held-out measurement
    demo = " ".join(" ".join(f.read_text(encoding="utf-8").split()) for f in sorted(Path(sample_corpus_dir()).glob("*.md")))
    in_demo = lambda c: " ".join(c.split())[:200] in demo  # noqa: E731
    skipped = 0
    out: dict[str, list[dict]] = {}
    for src, names in ((v2, v2_train), (v1, v1_only)):
        for a in src:
            if a["title"] not in names:
                continue
            kept = [p for p in a["paragraphs"] if not in_demo(p["context"])]
            skipped += len(a["paragraphs"]) - len(kept)
            paras = [p["context"] for p in kept]
            rows = out.setdefault(a["title"], [])
            for pi, p in enumerate(kept):
                for q in p["qas"]:
                    if q.get("is_impossible") or not q["answers"]:
                        rows.append(dict(question=q["question"], context=p["context"], answer_start=-1, answer_text="", title=a["title"]))
                        continue
                    ans = q["answers"][0]
                    rows.append(dict(question=q["question"], context=p["context"], answer_start=ans["answer_start"],
                                     answer_text=ans["text"], title=a["title"]))
                    if len(paras) > 1 and rng.random() < other_share:
                        other = rng.choice([c for j, c in enumerate(paras) if j != pi])
                        if ans["text"] not in other:
                            rows.append(dict(question=q["question"], context=other, answer_start=-1, answer_text="", title=a["title"]))
    titles = sorted(out)
    val_title = titles[len(titles) // 2]
    train = [r for t in titles if t != val_title for r in out[t]]
    val = out[val_title]
    rng.shuffle(train)
    info = {"train_articles": [t for t in titles if t != val_title], "val_article": val_title, "train_examples": len(train),
            "val_examples": len(val), "train_no_answer": sum(r["answer_start"] < 0 for r in train),
            "demo_paragraphs_left_out": skipped, "other_share": round(other_share, 4)}
    return train, val, info


def featurize(tok, rows: list[dict], max_length: int, stride: int) -> dict[str, list]:
    enc = tok([r["question"] for r in rows], [r["context"] for r in rows], truncation="only_second", max_length=max_length,
              stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")
    starts, ends = [], []
    for i, offs in enumerate(enc["offset_mapping"]):
        r = rows[enc["overflow_to_sample_mapping"][i]]
        seq = enc.sequence_ids(i)
        s = e = 0
        if r["answer_start"] >= 0:
            a0, a1 = r["answer_start"], r["answer_start"] + len(r["answer_text"])
            ctx = [k for k, sid in enumerate(seq) if sid == 1]
            if ctx and offs[ctx[0]][0] <= a0 and offs[ctx[-1]][1] >= a1:
                s = next(k for k in ctx if offs[k][1] > a0)
                e = next(k for k in reversed(ctx) if offs[k][0] < a1)
        starts.append(s)
        ends.append(e)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "token_type_ids": enc["token_type_ids"],
            "start_positions": starts, "end_positions": ends}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/reader")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--stride", type=int, default=96)
    ap.add_argument("--save-steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--other-share", type=float, default=1 / 3,
                    help="how often an answerable question also trains \"no answer\" on another paragraph of its article (default 1/3; "
                         "the shipped reader's examples are then 47%% \"no answer\" and it leans that way)")
    ap.add_argument("--eval-only", action="store_true", help="measure the saved model in --out/model on the validation article and stop")
    ap.add_argument("--budget-min", type=float, default=0, help="stop (with a checkpoint) after this many minutes; 0: no limit")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from groundqa.verify.reader import save_reader
    from groundqa.verify.scorers import DEFAULT_VERIFIER_DIR, _load_classifier

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    ck = out / "ckpt"
    ck.mkdir(parents=True, exist_ok=True)
    train, val, info = load_examples(args.seed, args.other_share)
    if args.eval_only:
        return evaluate(out / "model", val)
    (out / "data.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    tok = AutoTokenizer.from_pretrained(str(DEFAULT_VERIFIER_DIR))
    feats = featurize(tok, train, args.max_length, args.stride)
    n = len(feats["input_ids"])
    steps_per_epoch = n // args.batch_size
    total = int(steps_per_epoch * args.epochs)
    print(f"{info['train_examples']} examples -> {n} features, {total} steps of {args.batch_size}", file=sys.stderr, flush=True)

    cfg = BertConfig.from_pretrained(str(DEFAULT_VERIFIER_DIR))
    cfg.num_labels = 2
    model = BertForQuestionAnswering(cfg)
    state = ck / "state.pt"
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, total // 10)) * max(0.0, 1 - s / max(1, total)))
    step = 0
    if state.exists():
        st = torch.load(state, weights_only=False, map_location="cpu")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        step = st["step"]
        print(f"resumed at step {step}", file=sys.stderr, flush=True)
    else:
        enc = _load_classifier(str(DEFAULT_VERIFIER_DIR)).bert.state_dict()
        missing, unexpected = model.bert.load_state_dict({k: v for k, v in enc.items() if not k.startswith("pooler.")}, strict=False)
        assert not [k for k in missing if not k.endswith("position_ids")], missing
    device = "cuda" if torch.cuda.is_available() else "cpu"  # a lent GPU trains the same recipe in minutes
    model.to(device)
    for st_ in opt.state.values():  # a resumed optimizer's moments follow the model
        for k, v in st_.items():
            if torch.is_tensor(v):
                st_[k] = v.to(device)
    order = np.random.default_rng(args.seed).permutation(np.tile(np.arange(n), int(np.ceil(args.epochs)) + 1))
    cols = {k: torch.tensor(v) for k, v in feats.items()}
    model.train()
    t0 = time.perf_counter()
    losses: list[float] = []
    while step < total:
        idx = torch.as_tensor(order[step * args.batch_size : (step + 1) * args.batch_size])
        batch = {k: v[idx] for k, v in cols.items()}
        width = int(batch["attention_mask"].sum(1).max())
        batch = {k: (v[:, :width] if v.dim() == 2 else v).to(device) for k, v in batch.items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        losses.append(float(loss.detach()))
        if step % 10 == 0:
            print(f"step {step}/{total} loss {np.mean(losses[-10:]):.3f} {(time.perf_counter() - t0) / len(losses):.2f} s/step", file=sys.stderr, flush=True)
        if step % args.save_steps == 0 or step == total:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step}, state)
        if args.budget_min and time.perf_counter() - t0 > args.budget_min * 60:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step}, state)
            print(f"budget reached at step {step}; rerun to resume", file=sys.stderr)
            return 0
    model.to("cpu").eval()
    card = {"name": "groundqa-reader-minilm-l6", "base": "the shipped verifier's encoder (groundqa-verifier-minilm-l6-v2)",
            "data": info, "train": {"steps": total, "batch_size": args.batch_size, "lr": args.lr, "epochs": args.epochs,
                                    "max_length": args.max_length, "stride": args.stride, "seed": args.seed},
            "command": "python " + " ".join(sys.argv)}
    save_reader(model, tok, out / "model", card)
    print(f"saved {out / 'model'}", file=sys.stderr)
    return evaluate(out / "model", val)


def evaluate(model_dir: Path, val: list[dict], reader: Any = None) -> int:
    """The reader's own answers on the validation article: F1 where the paragraph holds the answer,
    "no answer" called right where it does not (SQuAD 2.0's rule: the best span against [CLS]),
    and the guard's signal ``rd_ans`` for the gold answer against another question's answer of the
    same paragraph (AUROC): the use the guard makes of it."""
    from groundqa.datasets.squad import f1 as f1_score
    from groundqa.metrics.verifier import auroc as roc_auc
    from groundqa.verify.evidence import windows_from_texts
    from groundqa.verify.reader import ReaderScorer, best_span
    from groundqa.verify.scorers import ClaimContext

    sc = ReaderScorer(reader if reader is not None else str(model_dir))
    sc.warm_up()
    f1s, nulls, pos, neg = [], [], [], []
    by_ctx: dict[str, list[dict]] = {}
    for r in val:
        by_ctx.setdefault(r["context"], []).append(r)
    items, labels = [], []
    for ctx, rs in by_ctx.items():
        wins = tuple(windows_from_texts([ctx]))
        golds = [r["answer_text"] for r in rs if r["answer_start"] >= 0]
        for r in rs:
            if r["answer_start"] >= 0:
                items.append(ClaimContext(f"{r['question']} {r['answer_text']}", r["answer_text"], wins, tuple(range(min(4, len(wins))))))
                labels.append(1)
                other = [g for g in golds if g != r["answer_text"] and g.lower() not in r["answer_text"].lower()]
                if other:
                    items.append(ClaimContext(f"{r['question']} {other[0]}", other[0], wins, tuple(range(min(4, len(wins))))))
                    labels.append(0)
    vals = sc.score(items).values
    for v, y in zip(vals[:, 0], labels):
        (pos if y else neg).append(v)
    auroc = roc_auc([1] * len(pos) + [0] * len(neg), pos + neg) if pos and neg else float("nan")
    # the reader's own answers
    enc, (st, en) = sc._logits([r["question"] for r in val], [r["context"] for r in val])
    best: dict[int, tuple[float, str, float]] = {}
    for f in range(st.shape[0]):
        k = int(enc["overflow_to_sample_mapping"][f])
        seq = enc.sequence_ids(f)
        ctx = [i for i, sid in enumerate(seq) if sid == 1]
        if not ctx:
            continue
        offs = enc["offset_mapping"][f].tolist()
        null = float(st[f, 0] + en[f, 0])
        c0, c1 = ctx[0], ctx[-1]
        sc_ij, i, j = best_span(st[f, c0 : c1 + 1], en[f, c0 : c1 + 1], 30)
        if k not in best or sc_ij > best[k][0]:
            best[k] = (sc_ij, val[k]["context"][offs[c0 + i][0] : offs[c0 + j][1]], null)
    for k, r in enumerate(val):
        b = best.get(k)
        if r["answer_start"] >= 0:
            f1s.append(f1_score(b[1] if b else "", r["answer_text"]))
        else:
            nulls.append(bool(b is None or b[2] > b[0]))
    report = {"val_answerable": len(f1s), "f1": round(100 * float(np.mean(f1s)), 1), "val_no_answer": len(nulls),
              "no_answer_called": round(float(np.mean(nulls)), 3) if nulls else None,
              "rd_ans_auroc_gold_vs_other_answer": round(auroc, 3), "pairs": [len(pos), len(neg)]}
    if reader is None:
        (model_dir / "validation.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
