"""Commands of the guard: ``train-verifier``, ``calibrate`` and ``bench guard``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
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
    from ..verify.synth import Pair, iter_jsonl
    from ..verify.train import TrainConfig, build_training_pairs, describe_pairs, export_fp16, train_cross_encoder

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
        from ..verify.synth import write_jsonl

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
        run_calibrate(argparse.Namespace(data=args.calibrate, verifier=export, out=str(cal), target_precision=0.9,
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
    return run_calibrate(args)


def run_calibrate(args: Any) -> int:
    """``groundqa calibrate``: fit the guard's combiner and thresholds on ``--data`` and write ``--out``."""
    from ..pipeline.build import make_guard
    from ..verify.calibrate import evaluate, featurize, fit_with_thresholds, half_split, predict
    from ..verify.data import load_guard_file

    if not 0.0 < args.target_precision < 1.0:
        raise ConfigError(f"--target-precision={args.target_precision!r} is not valid; pass a number in (0, 1), e.g. 0.9")
    fmt, examples = load_guard_file(args.data, args.limit)
    guard = make_guard(args.verifier, args.embedder, judge=getattr(args, "judge", None), judge_dtype=getattr(args, "judge_dtype", "fp32"))
    table = featurize(guard, examples, fmt=fmt)
    info = {
        "data": str(args.data),
        "format": fmt,
        "examples": len(examples),
        "supported": int(table.y.sum()),
        "verifier": args.verifier,
        "embedder": args.embedder,
        "split": args.split,
    }
    report: dict[str, Any] = {}
    if args.split == "half":
        fit = half_split(table.groups)
        comb = fit_with_thresholds(table.X[fit], table.y[fit], table.features, args.target_precision, info)
        held = evaluate(table.y[~fit], predict(comb, table.X[~fit], table.features), comb.threshold)
        report["held_out_half"] = held
    else:
        comb = fit_with_thresholds(table.X, table.y, table.features, args.target_precision, info)
    report["fit"] = evaluate(table.y, predict(comb, table.X, table.features), comb.threshold)
    comb = comb.with_thresholds(comb.threshold, comb.thresholds, {**info, "metrics": report})
    comb.save(args.out)
    print(json.dumps({"out": str(args.out), "threshold": comb.threshold, "thresholds": dict(comb.thresholds), **report}, indent=2))
    return 0
