"""``groundqa demo``: the main job on the embedded default.

Indexes the sample corpus shipped in the package (SQuAD v1.1 paragraphs, CC BY-SA 4.0) and
answers its questions, showing the ranked passages each answer rests on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(sub: Any, bench_sub: Any) -> None:
    p = sub.add_parser("demo", help="index the bundled sample corpus and answer its questions")
    p.add_argument("--embedder", default="minilm-l6", help="embedder reference (default: minilm-l6)")
    p.add_argument("--top-k", type=int, default=3, help="passages to show per question (default: 3)")
    p.add_argument("--out", default=None, help="also save the sample index to this folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of a report")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..documents import Chunker, load_documents, sample_corpus_dir, sample_questions
    from ..errors import ConfigError
    from ..index import HybridIndex

    if args.top_k <= 0:
        raise ConfigError(f"--top-k {args.top_k} is not valid; it must be a positive integer")
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    t0 = time.perf_counter()
    say(f"[1/3] loading the sample corpus from {sample_corpus_dir()}")
    loaded = load_documents([sample_corpus_dir()])
    index = HybridIndex(args.embedder)
    index.warm_up()
    chunks = [c for cs in Chunker(index.embedder).chunk_many(loaded.documents) for c in cs]
    say(f"[2/3] indexing {len(loaded.documents)} documents as {len(chunks)} chunks (BM25 + FAISS, {args.embedder})")
    index.add(chunks, show_progress=not args.json)
    if args.out:
        index.save(args.out)
        say(f"      saved the index to {args.out}")
    questions = sample_questions()
    say(f"[3/3] answering {len(questions)} questions")
    results = index.search_batch([q.question for q in questions], top_k=args.top_k)
    report = []
    for q, passages in zip(questions, results):
        report.append(
            {
                "question": q.question,
                "answerable": q.answerable,
                "gold_answers": list(q.answers),
                "passages": [{"rank": p.rank, "score": round(p.score, 4), "doc_id": p.doc_id, "span": [p.chunk.start, p.chunk.end], "text": p.text} for p in passages],
            }
        )
    elapsed = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"questions": report, "seconds": round(elapsed, 2)}, indent=2))
        return 0
    for item in report:
        tag = "" if item["answerable"] else "  (not in the corpus)"
        print(f"\nQ: {item['question']}{tag}")
        if item["gold_answers"]:
            print(f"   gold answer: {' | '.join(item['gold_answers'])}")
        for p in item["passages"]:
            text = p["text"].replace("\n", " ")
            print(f"   [{p['rank']}] {p['score']:.4f}  {p['doc_id']} {p['span'][0]}-{p['span'][1]}  {text[:110]}{'...' if len(text) > 110 else ''}")
    print(f"\ndone in {elapsed:.1f}s")
    return 0
