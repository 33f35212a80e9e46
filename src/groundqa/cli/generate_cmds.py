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

    qa = bench_sub.add_parser("qa", help="question answering EM/F1 on SQuAD-format data",
                              description="Answer SQuAD questions and score them with the official EM/F1.")
    qa.add_argument("--data", required=True, help="SQuAD v1.1/v2.0 JSON or JSONL")
    qa.add_argument("--context", default="gold", choices=["gold", "retrieved"],
                    help="gold: the question's own paragraph among distractors (generator only); retrieved: the whole "
                    "pipeline, retrieval over every context of the file, guard and policy")
    qa.add_argument("--verifier", default="default", help="with --context retrieved: the guard's verifier (default: shipped)")
    qa.add_argument("--policy", default="abstain", choices=["return", "flag", "strip", "abstain"], help="with --context retrieved (default: abstain)")
    qa.add_argument("--top-k", type=int, default=4, help="with --context retrieved: passages per question (default: 4)")
    qa.add_argument("--report", default=None, help="with --context retrieved: write Markdown + PNG plots (risk-coverage, reliability, latency) here")
    qa.add_argument("--generator", default="default", help="profile (default, fast, quality), short name, folder, or hub id")
    qa.add_argument("--adapter", default=None, help="a LoRA adapter folder to apply on top of --generator")
    qa.add_argument("--distractors", type=int, default=2, help="other paragraphs of the same article shown with the gold one")
    qa.add_argument("--limit", type=int, default=None, help="a seeded sample of N questions")
    qa.add_argument("--articles", default=None, help="keep only these article titles: 'first:N', 'last:N' (sorted) or a comma list")
    qa.add_argument("--seed", type=int, default=0)
    qa.add_argument("--batch-size", type=int, default=8)
    qa.add_argument("--max-new-tokens", type=int, default=32)
    qa.add_argument("--int8", action="store_true", help="dynamic int8 quantisation (CPU)")
    qa.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    qa.add_argument("--ground", default="snap", choices=["snap", "off"], help="snap short answers to passage spans (default) or keep them as generated")
    qa.add_argument("--reads", default="windows", choices=["windows", "chunks"], help="what the generator reads of each passage: windows (the sentences around the best match to the question; the default) or chunks (whole passages, as before issue 22)")
    qa.add_argument("--instruction", default=None, help="replace the prompt's instruction (may use {decline}); for measuring an untuned model fairly")
    qa.add_argument("--threads", type=int, default=None)
    qa.add_argument("--json", dest="json_out", default=None, help="write the report (with per-question records) here")
    qa.set_defaults(func=_bench_qa)


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


def select_articles(items: list[Any], spec: str | None) -> list[Any]:
    """Keep items whose document is in ``spec``: 'first:N' / 'last:N' of the sorted titles, or a comma list."""
    if not spec:
        return items
    titles = sorted({it.doc_id for it in items})
    if spec.startswith(("first:", "last:")):
        how, n_s = spec.split(":", 1)
        try:
            n = int(n_s)
        except ValueError:
            raise ConfigError(f"--articles {spec!r}: N must be an integer, e.g. last:12")
        keep = set(titles[:n] if how == "first" else titles[-n:])
    else:
        keep = {t.strip() for t in spec.split(",") if t.strip()}
        unknown = keep - set(titles)
        if unknown:
            raise ConfigError(f"--articles names unknown titles {sorted(unknown)[:5]}; titles look like {titles[:3]}")
    return [it for it in items if it.doc_id in keep]


def _bench_generator(args: argparse.Namespace) -> Any:
    from ..generate.hf import TransformersGenerator
    from ..generate.prompts import PromptTemplate

    template = None
    if args.instruction:
        if "{decline}" not in args.instruction:
            raise ConfigError("--instruction must contain {decline} (where the decline sentence goes), so unanswerable questions can be declined")
        template = PromptTemplate(instruction=args.instruction)
    return TransformersGenerator(args.generator, adapter=args.adapter, batch_size=args.batch_size, template=template,
                                 max_new_tokens=args.max_new_tokens, int8=args.int8, dtype=args.dtype, ground=args.ground,
                                 context=getattr(args, "reads", "windows"))


def _bench_qa_retrieved(args: argparse.Namespace, all_items: list, sample: list) -> int:
    """The whole pipeline over an index of every context in the file (issue 5's benchmark)."""
    from ..bench.qa import build_context_index, run_pipeline_qa, summarize, write_report
    from ..generate.hf import TransformersGenerator
    from ..pipeline import Pipeline
    from ..verify.guard import Guard

    if args.top_k <= 0:
        raise ConfigError(f"--top-k {args.top_k} is not valid; it must be a positive integer")
    version = "2.0" if any(not it.answers for it in all_items) else "1.1"
    index = build_context_index(all_items)
    gen = _bench_generator(args)
    pipe = Pipeline(index, gen, Guard(args.verifier, embedder=index.embedder), policy=args.policy, top_k=args.top_k)
    pipe.warm_up()
    records = run_pipeline_qa(sample, pipe, batch_size=args.batch_size, version=version)
    summary = summarize(records, version=version)
    config = {"data": args.data, "context": "retrieved", "version": version, "questions": len(sample), "articles": args.articles,
              "limit": args.limit, "seed": args.seed, "documents": len({it.doc_id for it in all_items}), "paragraphs_indexed": len(index.doc_ids()), "chunks": len(index),
              "generator": args.generator, "adapter": args.adapter, "ground": args.ground, "instruction": args.instruction, "verifier": args.verifier, "policy": args.policy, "top_k": args.top_k}
    out = {"dataset": Path(args.data).name, "results": summary, "config": config}
    print(json.dumps(out, indent=1))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(out, indent=1))
    if args.report:
        write_report(records, summary, args.report, title=f"groundqa end to end: {Path(args.data).name}", config=config)
    return 0


def _bench_qa(args: argparse.Namespace) -> int:
    from ..bench.squad import context_pool, load_squad, run_gold_qa, sample_items
    from ..generate.hf import TransformersGenerator

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    all_items = load_squad(args.data)
    items = select_articles(all_items, args.articles)
    sample = sample_items(items, args.limit, args.seed)
    if not sample:
        raise ConfigError(f"--data {args.data!r} with --articles {args.articles!r} leaves no questions")
    if args.context == "retrieved":
        return _bench_qa_retrieved(args, all_items, sample)
    pool = context_pool(items)
    gen = _bench_generator(args)
    gen.warm_up()
    name = args.generator + (f"+{Path(args.adapter).name}" if args.adapter else "")
    report = run_gold_qa(sample, gen, dataset=Path(args.data).name, pool=pool, distractors=args.distractors,
                         seed=args.seed, batch_size=args.batch_size, show_progress=True, generator_name=name)
    d = report.to_dict()
    d["settings"].update({"limit": args.limit, "articles": args.articles, "int8": args.int8, "dtype": args.dtype,
                          "ground": args.ground, "instruction": args.instruction,
                          "threads": args.threads, "max_new_tokens": args.max_new_tokens, "load_seconds": round(gen.load_seconds, 1)})
    print(json.dumps({k: v for k, v in d.items()}, indent=1))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        full = report.to_dict(with_records=True)
        full["settings"] = d["settings"]
        Path(args.json_out).write_text(json.dumps(full, indent=1))
    return 0
