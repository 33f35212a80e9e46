"""Split SQuAD v1.1 dev by article for the generator benchmark (issue 3).

Articles sorted by title: the first 36 for fine-tuning (train + dev), the last 12 (Scottish_Parliament
... Yuan_dynasty) held out. Writes two SQuAD-format files into OUT_DIR (default runs/squad_split,
which git ignores):

    python benchmarks/generator_split.py [--squad ../shared/data/squad_v1.1_dev/dev-v1.1.json] [--out-dir runs/squad_split]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from groundqa.bench.squad import split_articles


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", default="/work/shared/data/squad_v1.1_dev/dev-v1.1.json")
    ap.add_argument("--out-dir", default="runs/squad_split")
    a = ap.parse_args()
    data = json.loads(Path(a.squad).read_text())
    train, held = split_articles(data, 36)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train36.json", train), ("heldout12.json", held)):
        (out / name).write_text(json.dumps(part))
        n = sum(len(p["qas"]) for art in part["data"] for p in art["paragraphs"])
        print(f"{out / name}: {len(part['data'])} articles, {n} questions: "
              f"{part['data'][0]['title']} ... {part['data'][-1]['title']}")


if __name__ == "__main__":
    main()
