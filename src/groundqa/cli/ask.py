"""``groundqa demo`` (the main job on the embedded default) and ``groundqa ask``.

``demo`` indexes the sample corpus shipped in the package (SQuAD v1.1 paragraphs, CC BY-SA 4.0)
and answers its questions through the whole pipeline: each answer with its claims, their support
scores and citations, and a decline for the questions the corpus cannot answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..types import POLICIES
from ..text import printable


def register(sub: Any, bench_sub: Any) -> None:
    from ..generate.profiles import PROFILES  # names only: no model loads

    generator_help = (f"generator profile ({', '.join(PROFILES)}), model, or openai:http://HOST:PORT/v1 "
                      "(a model on an OpenAI-compatible server; default: default)")
    p = sub.add_parser("demo", help="index the bundled sample corpus and answer its questions, verified")
    p.add_argument("--embedder", default="minilm-l6", help="embedder reference (default: minilm-l6)")
    p.add_argument("--generator", default="default", help=generator_help)
    p.add_argument("--server-model", default=None, metavar="NAME", help="with --generator openai:URL: the server's model name (default: the only one it lists)")
    p.add_argument("--verifier", default="default", help="verifier model for the guard (default: the shipped one)")
    p.add_argument("--judge", default=None, help="add an LLM judge to the guard, e.g. qwen2.5-coder-0.5b (default: none)")
    p.add_argument("--reader", default=None, help="add the extractive reader to the guard: default (the shipped one, with its calibration) or a folder (default: none)")
    p.add_argument("--policy", default="abstain", choices=POLICIES, help="what to do with unsupported claims (default: abstain, withhold the answer)")
    p.add_argument("--top-k", type=int, default=4, help="passages per question (default: 4)")
    p.add_argument("--retrieval-only", action="store_true", help="show ranked passages only (no generator, no guard)")
    p.add_argument("--context", default="windows", choices=("windows", "chunks"), help="what the generator reads of each passage: windows (the sentences around its best match to the question; the default, about 3x faster) or chunks (whole passages)")
    p.add_argument("--threads", default="auto", help="torch threads: auto (the cores other work leaves free; the default) or a number")
    p.add_argument("--out", default=None, help="also save the sample index to this folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of a report")
    p.set_defaults(func=_demo)

    a = sub.add_parser(
        "ask",
        help="answer a question (or a file of them) from an index, every claim checked",
        description="Answer questions from an index. Each run loads the models (tens of seconds on a CPU): "
        "ask many at once with --questions FILE, or keep them loaded with `groundqa serve`.",
    )
    a.add_argument("--index", required=True, help="index folder (from `groundqa index build`)")
    a.add_argument("question", nargs="?", default=None, help="the question (or use --questions FILE)")
    a.add_argument("--questions", default=None, metavar="FILE", help="ask every question in FILE: .txt (one per line, # comments), .json (a list of strings or of {\"question\": ...}) or .jsonl")
    a.add_argument("--generator", default="default", help=generator_help)
    a.add_argument("--server-model", default=None, metavar="NAME", help="with --generator openai:URL: the server's model name (default: the only one it lists)")
    a.add_argument("--verifier", default="default", help="verifier model for the guard (default: the shipped one)")
    a.add_argument("--judge", default=None, help="add an LLM judge to the guard, e.g. qwen2.5-coder-0.5b (default: none)")
    a.add_argument("--context", default="windows", choices=("windows", "chunks"), help="what the generator reads of each passage: windows (the sentences around its best match to the question; the default, about 3x faster) or chunks (whole passages)")
    a.add_argument("--threads", default="auto", help="torch threads: auto (the cores other work leaves free; the default) or a number")
    a.add_argument("--config", default=None, help="a TOML pipeline config (overrides the options above)")
    a.add_argument("--policy", default=None, choices=POLICIES, help="what to do with unsupported claims: abstain (default: withhold the answer), strip, flag or return")
    a.add_argument("--top-k", type=int, default=4)
    a.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="metadata filter (repeatable)")
    a.add_argument("--json", action="store_true", help="print the answer as JSON")
    a.set_defaults(func=_ask)


def _pipeline(index: Any, generator: str, verifier: str, policy: str | None, top_k: int, judge: str | None = None,
              server_model: str | None = None, context: str = "windows", threads: str | int | None = "auto", reader: str | None = None) -> Any:
    from ..pipeline import build_pipeline
    from ..pipeline.build import stages_config

    return build_pipeline(stages_config(generator, verifier, policy=policy, top_k=top_k, judge=judge, server_model=server_model,
                                        context=context, threads=threads, reader=reader), retriever=index)


def _check_top_k(k: int) -> None:
    from ..errors import ConfigError

    if k <= 0:
        raise ConfigError(f"--top-k {k} is not valid; it must be a positive integer")


def read_questions(path: str | Path) -> list[str]:
    """Questions from a file: ``.txt`` one per line (blank lines and ``#`` comments skipped),
    ``.json`` a list of strings or of objects with a ``question`` field, ``.jsonl`` one such
    object (or string) per line."""
    from ..errors import ConfigError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--questions {str(path)!r} is not a file; pass a .txt (one question per line), .json or .jsonl file")
    raw = p.read_text(encoding="utf-8")
    items: list[Any]
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(raw)
            items = data.get("questions", data) if isinstance(data, dict) else data
        elif p.suffix.lower() in (".jsonl", ".ndjson"):
            items = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            items = [line.strip() for line in raw.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--questions {str(path)!r} is not valid JSON ({exc}); use one question per line in a .txt file instead") from exc
    if not isinstance(items, list):
        raise ConfigError(f"--questions {str(path)!r}: expected a list of questions, got {type(items).__name__}")
    out = []
    for n, item in enumerate(items, start=1):
        q = item.get("question") if isinstance(item, dict) else item
        if not isinstance(q, str) or not q.strip():
            raise ConfigError(f"--questions {str(path)!r}: item {n} has no question text ({item!r}); give each item a non-empty \"question\"")
        out.append(q.strip())
    if not out:
        raise ConfigError(f"--questions {str(path)!r} holds no questions")
    return out


def _ask(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..index.backends import is_milvus_uri, open_retriever  # an index directory or a Milvus URI
    from .index import check_index_dir

    _check_top_k(args.top_k)
    if (args.question is None) == (args.questions is None):
        raise ConfigError("pass one question, or --questions FILE for many (not both, not neither)")
    questions = [args.question] if args.questions is None else read_questions(args.questions)
    if not is_milvus_uri(args.index):
        check_index_dir(Path(args.index))
    filters = _parse_filters(args.filter)
    t0 = time.perf_counter()
    retriever = open_retriever(args.index)
    t_index = time.perf_counter() - t0
    if args.config:
        from ..pipeline import build_pipeline

        pipe = build_pipeline(args.config, retriever=retriever)
    else:
        pipe = _pipeline(retriever, args.generator, args.verifier, args.policy, args.top_k, args.judge, args.server_model, args.context, args.threads)
    t1 = time.perf_counter()
    pipe.warm_up()
    t_models = time.perf_counter() - t1
    t2 = time.perf_counter()
    answers = []
    batch = max(1, int(getattr(pipe.generator, "batch_size", 8) or 8))
    for s in range(0, len(questions), batch):
        answers.extend(pipe.ask_batch(questions[s : s + batch], filters=filters, policy=args.policy))
    t_ask = time.perf_counter() - t2
    if args.json:
        data = [a.to_dict() for a in answers]
        print(json.dumps(data[0] if args.questions is None else data, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(render_answer(a, color=_use_color()) for a in answers))
    print(time_report(t_index, t_models, t_ask, answers, args.index), file=sys.stderr)
    return 0


def time_report(t_index: float, t_models: float, t_ask: float, answers: list[Any], index: str) -> str:
    """Where the time of an `ask` run went, and how to spend less of it."""
    n = len(answers)
    stage = {k: sum(a.timings.get(k, 0.0) for a in answers) / max(1, n) for k in ("retrieve", "generate", "verify")}
    per = ", ".join(f"{k} {v:.0f} ms" for k, v in stage.items())
    lines = [
        f"time: opening the index {t_index:.1f} s, loading the models {t_models:.1f} s, answering {n} question(s) {t_ask:.1f} s "
        f"(per question: {per})"
    ]
    if t_models > t_ask:
        lines.append(
            f"      most of it was loading the models, which every `groundqa ask` does again: ask many questions at once "
            f"with --questions FILE, or keep the models loaded with `groundqa serve --index {index}` and POST to /v1/ask"
        )
    return "\n".join(lines)


def _parse_filters(items: list[str]) -> dict[str, Any] | None:
    from ..errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--filter {item!r} is not valid; use KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out or None


def _use_color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def render_answer(answer: Any, *, color: bool = False) -> str:
    """A readable answer: text, verdict, claims coloured by verdict with score and citation, passages."""
    green, red, dim, bold, reset = ("\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m") if color else ("",) * 5
    e = printable  # document text, ids and generated text reach the terminal escaped (issue 25)
    lines = [f"{bold}Q: {e(answer.question)}{reset}", f"A: {e(answer.text, newlines=True)}"]
    why = f" ({answer.reason})" if answer.reason else ""
    thr = getattr(answer, "threshold", None)
    support = f"; support {answer.support:.2f}" + (f" (threshold {thr:.2f})" if thr is not None else "") if answer.claims else ""
    lines.append(f"   verdict: {answer.verdict}{why}{support}")
    g = getattr(answer, "grounding", None)
    if g:
        where = f"{e(g['doc_id'])} [{g['start']}:{g['end']}]" if "doc_id" in g else f"passage {g['passage_rank']} [{g['start']}:{g['end']}]"
        lines.append(f"   {dim}span: \"{_short(g['text'], 60)}\" at {where}{' (exact)' if g.get('exact') else ' (snapped)'}{reset}")
    for c in answer.claims:
        mark, col = ("supported", green) if c.supported else ("UNSUPPORTED", red)
        cite = ""
        if c.citation is not None:
            ct = c.citation
            cite = f"  <- {e(ct.doc_id)} [{ct.start}:{ct.end}] \"{_short(ct.text, 70)}\""
        reasons = f" ({'; '.join(c.reasons)})" if c.reasons else ""
        lines.append(f"   {col}[{mark} {c.probability:.2f}]{reset} {e(claim_shown(c, answer.generated))}{reasons}{dim}{cite}{reset}")
    for i, p in enumerate(answer.passages, start=1):
        lines.append(f"   {dim}[{i}] {e(p.doc_id)} {p.chunk.start}-{p.chunk.end} score {p.score:.4f}: {_short(p.text, 90)}{reset}")
    t = answer.timings
    lines.append(f"   {dim}retrieve {t.get('retrieve', 0):.0f} ms, generate {t.get('generate', 0):.0f} ms, verify {t.get('verify', 0):.0f} ms{reset}")
    return "\n".join(lines)


def answer_is_right(text: str, golds: Any) -> bool:
    """True when a gold answer, SQuAD-normalised, occurs in the answer text (citation marks aside)."""
    from ..datasets.squad import normalize_answer
    from ..text import remove_citations as strip_citations

    got = f" {normalize_answer(strip_citations(text))} "
    return any(f" {normalize_answer(g)} " in got for g in golds if normalize_answer(g))


def claim_shown(claim: Any, generated: str) -> str:
    """A claim as the answer says it: a short answer is checked together with its question
    ("What is the default? 100"), but shown as the answer's own words ("100")."""
    from ..text import strip_citations

    if getattr(claim, "text", "") and 0 <= claim.start < claim.end <= len(generated):
        own = strip_citations(generated[claim.start : claim.end])[0]
        if own and not claim.text.startswith(own):
            return own
    return claim.text


def _short(text: str, n: int) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= n else text[: n - 3] + "..."


def _demo(args: argparse.Namespace) -> int:
    from ..documents import Chunker, load_documents, sample_corpus_dir, sample_questions
    from ..index import HybridIndex

    _check_top_k(args.top_k)
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    steps = 3 if args.retrieval_only else 4
    say(f"[1/{steps}] loading the sample corpus from {sample_corpus_dir()}")
    loaded = load_documents([sample_corpus_dir()])
    index = HybridIndex(args.embedder)
    index.warm_up()
    chunks = [c for cs in Chunker(index.embedder).chunk_many(loaded.documents) for c in cs]
    say(f"[2/{steps}] indexing {len(loaded.documents)} documents as {len(chunks)} chunks (BM25 + FAISS, {args.embedder})")
    index.add(chunks, show_progress=not args.json)
    if args.out:
        index.save(args.out)
        say(f"      saved the index to {args.out}")
    questions = sample_questions()
    if args.retrieval_only:
        say(f"[3/3] retrieving passages for {len(questions)} questions")
        results = index.search_batch([q.question for q in questions], top_k=args.top_k)
        report = [{"question": q.question, "answerable": q.answerable, "gold_answers": list(q.answers), "passages": [p.to_dict() for p in ps]} for q, ps in zip(questions, results)]
        if args.json:
            print(json.dumps({"questions": report}, indent=2, ensure_ascii=False))
        else:
            for item in report:
                print(f"\nQ: {item['question']}" + ("" if item["answerable"] else "  (not in the corpus)"))
                for p in item["passages"]:
                    print(f"   [{p['rank']}] {p['score']:.4f}  {printable(p['doc_id'])} {p['start']}-{p['end']}  {_short(p['text'], 100)}")
        return 0
    say(f"[3/{steps}] loading the generator ({args.generator}) and the guard (verifier: {args.verifier})")
    pipe = _pipeline(index, args.generator, args.verifier, args.policy, args.top_k, args.judge, args.server_model, args.context, args.threads,
                     args.reader)
    pipe.warm_up()
    say(f"[4/{steps}] answering {len(questions)} questions")
    answers = []
    for n, q in enumerate(questions, start=1):
        a = pipe.ask(q.question)
        answers.append((q, a))
        if not args.json:
            gold = f"   gold: {' | '.join(q.answers)}" if q.answers else "   (the corpus does not answer this: it should be declined)"
            print(f"\n({n}/{len(questions)})\n" + render_answer(a, color=_use_color()) + "\n" + gold, flush=True)
    elapsed = time.perf_counter() - t0
    if args.json:
        rows = [dict(a.to_dict(), gold_answers=list(q.answers), answerable=q.answerable,
                     right=bool(q.answerable and a.answered and answer_is_right(a.text, q.answers))) for q, a in answers]
        summary = {"answerable": sum(q.answerable for q, _ in answers), "answered": sum(a.answered for q, a in answers if q.answerable),
                   "right": sum(r["right"] for r in rows), "unanswerable": sum(not q.answerable for q, _ in answers),
                   "declined": sum(not a.answered for q, a in answers if not q.answerable),
                   "selective": _selective(answers)}
        print(json.dumps({"answers": rows, "summary": summary, "seconds": round(elapsed, 1)}, indent=2, ensure_ascii=False))
        return 0
    answered = sum(a.answered for q, a in answers if q.answerable)
    right = sum(a.answered and answer_is_right(a.text, q.answers) for q, a in answers if q.answerable)
    declined = sum(not a.answered for q, a in answers if not q.answerable)
    n_ans = sum(q.answerable for q in questions)
    t = [a.timings for _, a in answers]
    per = {k: sum(x.get(k, 0.0) for x in t) / max(1, len(t)) for k in ("retrieve", "generate", "verify")}
    sel = _selective(answers)
    print(f"\nanswered {answered}/{n_ans} answerable questions, {right} correctly (a gold answer in the answer); "
          f"declined {declined}/{len(questions) - n_ans} unanswerable ones; {elapsed:.0f}s in all "
          f"(per question: retrieve {per['retrieve']:.0f} ms, generate {per['generate']:.0f} ms, verify {per['verify']:.0f} ms)\n"
          f"selective answering over all {sel['n']} questions: coverage {sel['coverage_at_90']:.0%} at 90% precision, "
          f"{sel['coverage_at_95']:.0%} at 95%; area under the risk-coverage curve {sel['aurc']:.3f}")
    return 0


def _selective(answers: list) -> dict:
    """Coverage at 90%/95% precision and AURC of the demo's answers, each generated answer scored by
    its support and right when a gold answer is in it (groundqa.metrics.selective)."""
    from ..metrics.selective import answer_score, selective_metrics

    return selective_metrics([answer_score(a) for _, a in answers],
                             [bool(q.answerable and answer_is_right(a.generated, q.answers)) for q, a in answers]).to_dict()
