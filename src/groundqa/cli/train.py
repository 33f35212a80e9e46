"""The training commands: ``groundqa finetune`` and ``adapter-scale`` (the generator), ``groundqa
train-verifier`` and ``calibrate`` (the guard)."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)


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
    _register_generator(sub)
    _register_verifier(sub)


def _register_generator(sub: Any) -> None:
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
    ft.add_argument("--dev-unanswerable-rate", type=float, default=None,
                    help="share of dev questions shown without their answer (default: --unanswerable-rate)")
    ft.add_argument("--select-by", default="f1", choices=["f1", "f1+decline"],
                    help="checkpoint kept at the end: best dev F1 (default), or best mean of dev F1 and dev decline rate")
    ft.add_argument("--eval-steps", type=int, default=50, help="evaluate on dev and checkpoint every N steps")
    ft.add_argument("--patience", type=int, default=3, help="early stopping: evaluations without a gain in the --select-by metric")
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
    from ..train.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(
        data=args.data, base=args.base, out=args.out, lora=args.lora, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout, learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps,
        batch_size=args.batch_size, grad_accum=args.grad_accum, max_examples=args.max_examples,
        distractors=tuple(args.distractors), unanswerable_rate=args.unanswerable_rate,
        decline_from=args.decline_from, init_adapter=args.init_adapter, max_passage_words=args.max_passage_words, dev_docs=args.dev_docs, dev_split=args.dev_split, dev_sample=args.dev_sample,
        dev_unanswerable_rate=args.dev_unanswerable_rate, select_by=args.select_by,
        eval_steps=args.eval_steps, patience=args.patience, time_budget_min=args.time_budget_min, seed=args.seed,
        threads=args.threads, resume=not args.no_resume, precision=args.precision,
        command="groundqa " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("groundqa") else "",
    )
    if args.curve:
        from ..train.curve import CurveConfig, parse_sizes, run_curve

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
    from ..train.finetune import scale_adapter

    card = scale_adapter(args.adapter, args.out, args.scale, note=args.note)
    sc = card.get("scaled", {})
    msg = f"wrote {args.out}: update x{sc.get('scale')}"
    if "forgetting_after" in sc:
        msg += (f"; perplexity on the general text {card['forgetting']['before']['perplexity']} (base) -> "
                f"{sc['forgetting_after']['perplexity']} (was {card['forgetting']['after']['perplexity']} unscaled)")
    print(msg)
    return 0



def _register_verifier(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train-verifier", help="fine-tune the cross-encoder verifier (claim, evidence) -> supported",
                       description="Fine-tune the guard's cross-encoder on (claim, evidence, label) pairs. By default it continues "
                       "training the shipped verifier (--base default), e.g. on the pairs `groundqa review export --verifier` writes; "
                       "--base minilm-l6 starts over from the plain encoder. A new verifier needs a new calibration: run "
                       "`groundqa calibrate` afterwards (the command says how), or pass --calibrate FILE.")
    t.add_argument("--output", required=True, help="folder for checkpoints; rerun with the same folder to resume")
    t.add_argument("--base", default="default",
                   help="model to start from: 'default' (the shipped verifier, continued; the default), 'minilm-l6' (start over "
                   "from the plain encoder), or a folder / hub id")
    t.add_argument("--snli", default=None, help="e-SNLI folder (s1/s2/labels.{dev,test}); CC BY-SA 4.0")
    t.add_argument("--squad", default=None, help="SQuAD v1.1 json: synthetic pairs from its first --train-titles titles")
    t.add_argument("--pairs", action="append", default=[], help="extra jsonl of {claim, evidence, label 0|1} pairs (repeatable)")
    t.add_argument("--train-titles", type=int, default=36)
    t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--epochs", type=float, default=1.0)
    t.add_argument("--max-steps", type=int, default=-1)
    t.add_argument("--save-steps", type=int, default=100)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--stop-at", default=None, help="UTC wall-clock time HH:MM at which to save and stop (a CPU budget)")
    t.add_argument("--no-resume", action="store_true", help="start again even if checkpoints exist")
    t.add_argument("--export", default=None, help="after training, write fp16 safetensors + card to this folder (what the guard loads)")
    t.add_argument("--calibrate", default=None, metavar="LABELLED.jsonl",
                   help="after training, run `groundqa calibrate` on this labelled file (claim/evidence/label, WiCE or HaluEval; "
                   "not the training pairs) for the exported verifier, writing EXPORT/calibration.json. Implies --export "
                   "(default OUTPUT/verifier)")
    t.add_argument("--calibrate-embedder", default="minilm-l6", help="with --calibrate: the embedder of the guard's cosine signal (as `calibrate --embedder`)")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("calibrate", help="fit the guard's combiner and thresholds on a labelled file")
    c.add_argument("--data", required=True, help="labelled jsonl (WiCE, HaluEval or plain claim/evidence/label)")
    c.add_argument("--verifier", default="default", help="cross-encoder reference ('default' = shipped, 'none' = no model)")
    c.add_argument("--out", required=True, help="where to write the calibration JSON the guard loads")
    c.add_argument("--target-precision", type=float, default=0.9, help="precision wanted on 'unsupported' verdicts")
    c.add_argument("--embedder", default="minilm-l6", help="embedder for the cosine signal ('none' to skip; 'hash' for tests)")
    c.add_argument("--judge", default=None, help="LLM-judge signal: a causal LM reference, e.g. qwen2.5-coder-0.5b (or the slower qwen2.5-coder-1.5b)")
    c.add_argument("--judge-dtype", default="fp32", choices=["int8", "bf16", "fp32"], help="the judge's weights on CPU (default fp32; int8 suits the 1.5B)")
    c.add_argument("--limit", type=int, default=None)
    c.add_argument("--split", choices=["all", "half"], default="all", help="'half': fit on one half by claim id and report the other")
    c.set_defaults(func=cmd_calibrate)


def cmd_train(args: argparse.Namespace) -> int:
    from ..datasets.synth import Pair, iter_jsonl
    from ..train.verifier import TrainConfig, build_training_pairs, describe_pairs, export_fp16, train_cross_encoder

    if not args.snli and not args.squad and not args.pairs:
        raise ConfigError("train-verifier needs data: pass --snli, --squad and/or --pairs")
    if args.calibrate and not Path(args.calibrate).exists():
        raise ConfigError(f"--calibrate {args.calibrate} does not exist; pass a labelled jsonl (claim, evidence, label) held out from training")
    cfg = TrainConfig(
        output_dir=args.output, base=args.base, max_length=args.max_length, batch_size=args.batch_size,
        learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps, save_steps=args.save_steps,
        threads=args.threads, seed=args.seed, deadline=_deadline(args.stop_at),
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    data_file = out / "train_pairs.jsonl"
    if data_file.exists() and not args.no_resume:
        # resume: the exact same pairs, in the same order
        train = [Pair(**d) for d in iter_jsonl(data_file)]
        desc = json.loads((out / "data.json").read_text())
        print(f"resuming with {len(train)} pairs from {data_file}", file=sys.stderr)
    else:
        train, val, desc = build_training_pairs(args.snli, args.squad, seed=args.seed, n_train_titles=args.train_titles)
        for f in args.pairs:
            if not Path(f).exists():
                raise ConfigError(f"--pairs {f} does not exist; pass a jsonl of {{claim, evidence, label}} (e.g. from `groundqa review export --verifier`)")
            extra = []
            for ln, d in enumerate(iter_jsonl(f), start=1):
                if not {"claim", "evidence", "label"} <= set(d) or int(d["label"]) not in (0, 1):
                    raise ConfigError(f"--pairs {f}:{ln} needs claim, evidence and label 0 or 1; got keys {sorted(d)}")
                extra.append(Pair(d["claim"], d["evidence"], int(d["label"]), d.get("kind", "extra"), f))
            train += extra
            desc["sources"][f] = describe_pairs(extra)
        desc.update(describe_pairs(train, prefix="train_"))
        desc["positive_rate"] = desc.pop("train_positive_rate")
        from ..datasets.synth import write_jsonl

        write_jsonl(train, data_file)
        write_jsonl(val, out / "val_pairs.jsonl")
        (out / "data.json").write_text(json.dumps(desc, indent=2))
    pos = sum(p.label for p in train)
    sources = ", ".join(f"{k} ({v.get('pairs')})" for k, v in desc["sources"].items())
    print(f"training on {len(train)} pairs ({pos} supported, {len(train) - pos} not) from {sources}, "
          f"starting from {_base_name(args.base)}", file=sys.stderr)
    summary = train_cross_encoder(cfg, train, resume=not args.no_resume)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    export = args.export or (str(out / "verifier") if args.calibrate else None)
    if export:
        export_fp16(Path(args.output) / "final", export, {"data": desc, "train": summary})
        print(f"exported to {export}")
    if args.calibrate:
        cal = Path(export) / "calibration.json"  # type: ignore[arg-type]
        from ..train.calibrate import CalibrateConfig, run_calibrate

        run_calibrate(CalibrateConfig(data=args.calibrate, verifier=export, out=str(cal), target_precision=0.9,  # type: ignore[arg-type]
                                      embedder=args.calibrate_embedder, judge=None, judge_dtype="fp32", limit=None, split="all"))
        print(f"calibrated: use it with [guard] verifier = {json.dumps(export)} and calibration = {json.dumps(str(cal))} "
              f"(or Guard(verifier=..., calibration=...))")
    else:
        model = export or str(Path(args.output) / "final")
        how = "" if export else " (first export it: rerun with --export DIR, or pass --calibrate FILE)"
        print(f"next: the guard's thresholds were fitted for the shipped verifier, not this one; recalibrate before using it{how}:\n"
              f"    groundqa calibrate --data LABELLED.jsonl --verifier {export or 'EXPORT_DIR'} --out calibration.json\n"
              f"then set [guard] verifier = {json.dumps(model if export else 'EXPORT_DIR')} and calibration = \"calibration.json\"")
    return 0


def _base_name(base: str) -> str:
    return "the shipped verifier (--base default)" if base in ("default", "") else base


def _deadline(stop_at: str | None) -> float | None:
    if not stop_at:
        return None
    import datetime as dt

    try:
        hh, mm = (int(x) for x in stop_at.split(":"))
        now = dt.datetime.now(dt.timezone.utc)
        t = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    except ValueError as exc:
        raise ConfigError(f"--stop-at={stop_at!r} is not valid; pass a UTC time HH:MM such as 17:05") from exc
    if t <= now:
        t += dt.timedelta(days=1)
    return t.timestamp()


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..train.calibrate import CalibrateConfig, run_calibrate

    run_calibrate(CalibrateConfig(data=args.data, verifier=args.verifier, out=args.out, target_precision=args.target_precision,
                                  embedder=args.embedder, judge=args.judge, judge_dtype=args.judge_dtype, limit=args.limit, split=args.split))
    return 0
