"""Latency of one verified answer (issue 22): p50/p95 per stage of ``Pipeline.ask``, whole-chunk
prompts against evidence-window prompts, in the same run, with answer quality beside each.

Every question is asked once per setting, one question at a time (a user's ask, not a batch), and
the settings take turns question by question (the order flips each question), so drift on a shared
machine falls on both alike. The same loaded model serves every setting; only what it reads
changes. Settings:

* ``chunks``: each passage whole, every prompt token read (the previous default);
* ``chunks+cache``: each passage whole, the prompt prefix read once (what the cache alone buys);
* ``windows``: the sentences around each passage's best match, prefix cached (the default).

Corpora: ``sample`` (the demo's ten SQuAD articles and ten questions), ``docs`` (the Starlette
docs-QA set in benchmarks/data/docs_qa, its judging rule) and ``squad`` (SQuAD v1.1 dev, retrieval
over all 2,067 paragraphs, a seeded sample of the 12 held-out articles' questions).

Quality per setting: ``answered`` (share of answerable questions answered), ``right`` /
``wrong`` returned answers, ``declined_unanswerable``, ``f1`` (SQuAD F1 of the returned answer,
0 when nothing is returned, over answerable questions) and ``f1_generated`` (of the generator's
text before the guard: the reader alone).

    OMP_NUM_THREADS=1 python benchmarks/latency.py --corpora sample,docs --out benchmarks/results/latency.json
    OMP_NUM_THREADS=1 python benchmarks/latency.py --corpora squad --limit 100 --settings chunks,windows \\
        --out benchmarks/results/latency/latency_squad.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "benchmarks" / "data" / "docs_qa"
SQUAD = ROOT.parent / "shared" / "data" / "squad_v1.1_dev" / "dev-v1.1.json"
SETTINGS = {"chunks": ("chunks", False), "chunks+cache": ("chunks", True), "windows": ("windows", True)}


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def load_corpus(name: str, args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]], str]:
    """(index, questions [{question, answers, answerable}], judging rule) of one corpus."""
    from groundqa.documents import Chunker, load_documents
    from groundqa.index import HybridIndex

    if name == "sample":
        from groundqa.documents.sample import sample_corpus_dir, sample_questions

        docs = load_documents([str(sample_corpus_dir())]).documents
        qs = [{"question": q.question, "answers": list(q.answers), "answerable": q.answerable} for q in sample_questions()]
        rule = "squad"
    elif name == "docs":
        docs = load_documents([str(DOCS / "starlette-0.41.3" / "docs")]).documents
        spec = json.loads((DOCS / "starlette_questions.json").read_text(encoding="utf-8"))
        qs = [{"question": q["question"], "answers": q["answers"], "answerable": q["answerable"]} for q in spec["questions"]]
        rule = "docs"
    elif name == "squad":
        from groundqa.bench.qa import build_context_index
        from groundqa.bench.squad import load_squad, sample_items

        items = load_squad(args.squad)
        index = build_context_index(items, "minilm-l6", show_progress=False)
        titles = sorted({it.doc_id for it in items})[-12:]
        chosen = sample_items([it for it in items if it.doc_id in titles], args.limit, 0)
        return index, [{"question": it.question, "answers": list(it.answers), "answerable": True} for it in chosen], "squad"
    else:
        raise SystemExit(f"unknown corpus {name!r}; use sample, docs or squad")
    index = HybridIndex("minilm-l6")
    index.warm_up()
    index.add([c for cs in Chunker(index.embedder).chunk_many(docs) for c in cs])
    if args.limit and name != "squad":
        qs = qs[: args.limit]
    return index, qs, rule


def judge(answer_text: str, golds: list[str], rule: str) -> tuple[bool, float]:
    from groundqa.bench.squad import best_over
    from groundqa.generate.prompts import strip_citations

    text = strip_citations(answer_text)
    _, f1 = best_over(golds, text) if golds else (0.0, 0.0)
    if rule == "docs":
        from docs_qa import is_right  # this script's folder is on sys.path

        return is_right(answer_text, golds), f1 * 100
    return f1 >= 0.5, f1 * 100


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="sample,docs")
    ap.add_argument("--settings", default="chunks,chunks+cache,windows")
    ap.add_argument("--generator", default="default")
    ap.add_argument("--window-words", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None, help="questions per corpus (squad: a seeded sample, default 100)")
    ap.add_argument("--squad", default=str(SQUAD))
    ap.add_argument("--threads", default="auto", help="torch threads (default auto: the free cores)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latency.json"))
    args = ap.parse_args()
    if "squad" in args.corpora and args.limit is None:
        args.limit = 100

    from groundqa.generate.hf import TransformersGenerator
    from groundqa.pipeline import Pipeline
    from groundqa.runtime import apply_threads
    from groundqa.verify.guard import Guard

    load0 = os.getloadavg()[0]
    threads = apply_threads(args.threads)
    settings = args.settings.split(",")
    gen_kw = {"window_words": args.window_words} if args.window_words else {}
    gen = TransformersGenerator(args.generator, batch_size=1, threads=args.threads, **gen_kw)
    t = time.perf_counter()
    gen.warm_up()
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"config": {"generator": args.generator, "window_words": gen.window_words, "threads": threads,
                                      "load_average_at_start": round(load0, 2), "cpus": os.cpu_count(), "machine": platform.machine(),
                                      "settings": {s: dict(zip(("context", "prefix_cache"), SETTINGS[s])) for s in settings},
                                      "generator_load_s": round(load_s, 1),
                                      "command": "OMP_NUM_THREADS=%s python %s" % (os.environ.get("OMP_NUM_THREADS", ""), " ".join(sys.argv))},
                           "corpora": {}}
    for corpus in args.corpora.split(","):
        index, questions, rule = load_corpus(corpus, args)
        guard = Guard("default", embedder=index.embedder)
        pipe = Pipeline(index, gen, guard)
        pipe.warm_up()
        pipe.ask(questions[0]["question"])  # first-call costs (the prefix cache, lazy imports) stay out of the timings
        gen.clear_prompt_cache()  # ... but the warm-up's prompt does not make the first question a repeat
        rows: dict[str, list[dict[str, Any]]] = {s: [] for s in settings}
        for qi, q in enumerate(questions):
            order = settings if qi % 2 == 0 else settings[::-1]
            for s in order:
                gen.context, gen.prefix_cache = SETTINGS[s]
                t = time.perf_counter()
                a = pipe.ask(q["question"])
                wall = (time.perf_counter() - t) * 1000
                right, f1 = judge(a.text, q["answers"], rule) if a.answered and q["answerable"] else (False, 0.0)
                gen_right, gen_f1 = judge(a.generated, q["answers"], rule) if a.generated and q["answerable"] else (False, 0.0)
                n_prompt = len(gen.tokenizer(gen.prompt(q["question"], a.passages), add_special_tokens=False)["input_ids"])
                rows[s].append({"question": q["question"], "answerable": q["answerable"], "answer": a.text, "verdict": a.verdict, "prompt_tokens": n_prompt,
                                "generated": a.generated, "right": right, "f1": f1, "f1_generated": gen_f1, "generated_right": gen_right,
                                "ms": {**{k: round(v, 1) for k, v in a.timings.items()}, "wall": round(wall, 1)}})
            print(f"[{corpus} {qi + 1}/{len(questions)}] " + "  ".join(f"{s}: {rows[s][-1]['ms']['wall'] / 1000:.1f}s {rows[s][-1]['answer'][:30]!r}" for s in settings), flush=True)
        summary = {}
        for s in settings:
            rs = rows[s]
            ans = [r for r in rs if r["answerable"]]
            una = [r for r in rs if not r["answerable"]]
            returned = [r for r in ans if r["verdict"] not in ("withheld", "declined")]
            stage = {k: {"p50": round(pct([r["ms"].get(k, 0.0) for r in rs], 0.5)), "p95": round(pct([r["ms"].get(k, 0.0) for r in rs], 0.95))}
                     for k in ("retrieve", "generate", "verify", "wall")}
            summary[s] = {
                "questions": len(rs), "stage_ms": stage,
                "generate_mean_ms": round(statistics.fmean(r["ms"].get("generate", 0.0) for r in rs)),
                "prompt_tokens": {"mean": round(statistics.fmean(r.get("prompt_tokens", 0) for r in rs)), "p95": round(pct([r.get("prompt_tokens", 0) for r in rs], 0.95))},
                "answered": round(len(returned) / max(1, len(ans)), 3),
                "right": sum(r["right"] for r in ans), "wrong": sum(1 for r in returned if not r["right"]),
                "declined_unanswerable": sum(1 for r in una if r["verdict"] in ("withheld", "declined")), "unanswerable": len(una),
                "f1": round(statistics.fmean(r["f1"] for r in ans), 1) if ans else None,
                "f1_generated": round(statistics.fmean(r["f1_generated"] for r in ans), 1) if ans else None,
                "generated_right": sum(r["generated_right"] for r in ans), "answerable": len(ans),
            }
        base = summary.get("chunks")
        if base:
            for s in settings:
                summary[s]["generate_speedup_vs_chunks"] = round(base["generate_mean_ms"] / max(1, summary[s]["generate_mean_ms"]), 2)
        out["corpora"][corpus] = {"summary": summary, "records": rows}
        print_table(corpus, summary)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def print_table(corpus: str, summary: dict[str, Any]) -> None:
    print(f"\n{corpus}")
    head = f"{'setting':<14}{'tokens':>8}{'gen p50':>9}{'gen p95':>9}{'ask p50':>9}{'ask p95':>9}{'speedup':>9}{'answered':>10}{'right':>7}{'wrong':>7}{'U decl':>8}{'F1':>7}{'F1 gen':>8}"
    print(head)
    for s, r in summary.items():
        st = r["stage_ms"]
        print(f"{s:<14}{r.get('prompt_tokens', {}).get('mean', 0):>8}{st['generate']['p50'] / 1000:>8.2f}s{st['generate']['p95'] / 1000:>8.2f}s{st['wall']['p50'] / 1000:>8.2f}s{st['wall']['p95'] / 1000:>8.2f}s"
              f"{r.get('generate_speedup_vs_chunks', 0):>8.2f}x{r['answered']:>10.2f}{r['right']:>7}{r['wrong']:>7}{r['declined_unanswerable']:>5}/{r['unanswerable']:<2}"
              f"{r['f1'] if r['f1'] is not None else '-':>7}{r['f1_generated'] if r['f1_generated'] is not None else '-':>8}")


if __name__ == "__main__":
    sys.exit(main())
