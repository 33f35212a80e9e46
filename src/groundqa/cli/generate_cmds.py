"""``groundqa finetune`` and ``groundqa bench qa`` (gold contexts; the pipeline adds retrieval)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def _pair(text: str) -> tuple[int, int]:
    try:
        parts = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN,MAX (two integers) or one integer")
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN,MAX")
    return parts[0], parts[1]


def register(sub: Any, bench_sub: Any) -> None:
    ft = sub.add_parser("finetune", help="fine-tune a generator (Trainer; --lora for a LoRA adapter)",
                        description="Fine-tune a generator on SQuAD-format JSON or JSONL {question, answer, context|contexts}.")
    ft.add_argument("--data", required=True, help="SQuAD JSON, or JSONL of {question, answer, context|contexts[, doc_id]}")
    ft.add_argument("--base", required=True, help="base model: short name (smollm2-135m, ...), folder, or hub id")
    ft.add_argument("--out", required=True, help="output folder (a loadable model or adapter, plus its card)")
    ft.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    ft.add_argument("--lora-r", type=int, default=16)
    ft.add_argument("--lora-alpha", type=int, default=32)
    ft.add_argument("--lora-dropout", type=float, default=0.05)
    ft.add_argument("--lr", type=float, default=None, help="learning rate (default 5e-4 with --lora, 5e-5 full)")
    ft.add_argument("--epochs", type=float, default=1.0)
    ft.add_argument("--max-steps", type=int, default=-1, help="optimizer steps (overrides --epochs)")
    ft.add_argument("--batch-size", type=int, default=4)
    ft.add_argument("--grad-accum", type=int, default=2)
    ft.add_argument("--max-examples", type=int, default=None, help="sample this many training questions (seeded)")
    ft.add_argument("--distractors", type=_pair, default=(1, 2), help="distractor passages per example, MIN,MAX (default 1,2)")
    ft.add_argument("--unanswerable-rate", type=float, default=0.15, help="share of examples whose gold passage is removed")
    ft.add_argument("--decline-from", default="same", choices=["same", "other"],
                    help="what a decline example shows: same (other passages of the question's document: declines where the topic "
                         "is shown but not the answer) or other (passages of other documents only: the model answers whenever a shown "
                         "passage holds the answer and leaves the rest to the guard; SQuAD v2 unanswerable questions are skipped)")
    ft.add_argument("--init-adapter", default=None, metavar="FOLDER", help="continue training this LoRA adapter (needs --lora)")
    ft.add_argument("--max-passage-words", type=int, default=80, help="truncate passages (gold: a window around the answer)")
    ft.add_argument("--dev-docs", type=float, default=0.1,
                    help="share of documents (or of rows, see --dev-split) held out as dev; 0: no dev split (no dev metrics, no early stopping)")
    ft.add_argument("--dev-split", default="auto", choices=["auto", "documents", "rows"],
                    help="hold out whole documents (the honest split), or rows; auto (default): by document when the data has "
                    "2 or more documents (doc_id), else by row (a small `groundqa review export`). The card says which")
    ft.add_argument("--dev-sample", type=int, default=40, help="dev questions generated at each evaluation")
    ft.add_argument("--eval-steps", type=int, default=50, help="evaluate (dev F1) and checkpoint every N steps")
    ft.add_argument("--patience", type=int, default=3, help="early stopping: evaluations without dev F1 gain")
    ft.add_argument("--time-budget-min", type=float, default=None, help="stop training after this many minutes")
    ft.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                    help="fp32 (default), or bf16/fp16 mixed precision (autocast; opt-in, fp16 needs CUDA)")
    ft.add_argument("--no-resume", action="store_true", help="ignore checkpoints in OUT/checkpoints")
    ft.add_argument("--no-progress", action="store_true")
    ft.add_argument("--curve", default=None, metavar="N1,N2,...",
                    help="learning curve / ROI report: train on nested seeded slices of N1, N2, ... examples and evaluate the "
                    "base and each on the same held-out documents; writes OUT/curve.md, curve.json, curve.png (resumable)")
    ft.add_argument("--eval-docs", type=float, default=0.2, help="with --curve: share of documents held out for the report")
    ft.add_argument("--eval-questions", type=int, default=60, help="with --curve: held-out questions evaluated (seeded sample)")
    ft.add_argument("--cost-per-hour", type=float, default=None, help="with --curve: the device's price per hour")
    ft.add_argument("--price-table", default=None, help="with --curve: JSON {device name: price per hour}, matched to this device")
    ft.add_argument("--flat-gain", type=float, default=1.0, help="with --curve: F1 per doubling below which the curve is flat")
    ft.set_defaults(func=_finetune)

    sc = sub.add_parser("adapter-scale", help="copy a LoRA adapter with its update scaled (less forgetting)",
                        description="Write a copy of a LoRA adapter whose update is multiplied by --scale (0 < scale <= 1), "
                                    "with a fresh forgetting check in its card. Pick the scale on dev data.")
    sc.add_argument("adapter", help="a LoRA adapter folder written by `groundqa finetune --lora`")
    sc.add_argument("--scale", type=float, required=True)
    sc.add_argument("--out", required=True, help="new folder for the scaled copy")
    sc.add_argument("--note", default="", help="how the scale was chosen (goes into the card)")
    sc.set_defaults(func=_adapter_scale)


def _finetune(args: argparse.Namespace) -> int:
    from ..generate.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(
        data=args.data, base=args.base, out=args.out, lora=args.lora, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout, learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps,
        batch_size=args.batch_size, grad_accum=args.grad_accum, max_examples=args.max_examples,
        distractors=tuple(args.distractors), unanswerable_rate=args.unanswerable_rate,
        decline_from=args.decline_from, init_adapter=args.init_adapter, max_passage_words=args.max_passage_words, dev_docs=args.dev_docs, dev_split=args.dev_split, dev_sample=args.dev_sample,
        eval_steps=args.eval_steps, patience=args.patience, time_budget_min=args.time_budget_min, seed=args.seed,
        threads=args.threads, resume=not args.no_resume, precision=args.precision,
        command="groundqa " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("groundqa") else "",
    )
    if args.curve:
        from ..generate.curve import CurveConfig, parse_sizes, run_curve

        curve = CurveConfig(sizes=parse_sizes(args.curve), eval_docs=args.eval_docs, eval_questions=args.eval_questions,
                            cost_per_hour=args.cost_per_hour, price_table=args.price_table, flat_gain=args.flat_gain)
        if args.max_examples is not None:
            raise ConfigError("--max-examples and --curve conflict: the curve's sizes set the examples of each point")
        rep = run_curve(cfg, curve, show_progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
        print(f"wrote {Path(args.out) / 'curve.md'}: {rep['recommendation'].get('verdict', '')}")
        return 0
    res = finetune(cfg, show_progress=not args.no_progress)
    d, data = res.card["dev"], res.card["data"]
    dev = f"dev F1 {d['before']['f1']} -> {d['after']['f1']}" if d["after"] is not None else "no dev metrics"
    print(f"wrote {res.out}: {data['train_examples']} training examples ({data['train_unanswerable']} declines), {dev}, "
          f"perplexity {res.card['forgetting']['before']['perplexity']} -> {res.card['forgetting']['after']['perplexity']}")
    if data["dev_note"]:
        print(f"note: {data['dev_note']}")
    if data["answers_in_no_context"]:
        print(f"warning: {data['answers_in_no_context']} question(s) have an answer in none of their contexts and trained as declines")
    return 0


def _adapter_scale(args: argparse.Namespace) -> int:
    from ..generate.finetune import scale_adapter

    card = scale_adapter(args.adapter, args.out, args.scale, note=args.note)
    sc = card.get("scaled", {})
    msg = f"wrote {args.out}: update x{sc.get('scale')}"
    if "forgetting_after" in sc:
        msg += (f"; perplexity on the general text {card['forgetting']['before']['perplexity']} (base) -> "
                f"{sc['forgetting_after']['perplexity']} (was {card['forgetting']['after']['perplexity']} unscaled)")
    print(msg)
    return 0
