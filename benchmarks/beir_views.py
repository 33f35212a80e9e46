"""Build BEIR-format retrieval views of ../shared/data sets that have no ``beir/`` folder yet.

Each view is a folder with corpus.jsonl, queries.jsonl and qrels/test.tsv (see
``groundqa.bench.beir``), written under ``runs/views/`` (git-ignored; rebuild with this script):

* ``halueval_qa500``: question -> its own knowledge passage (500 / 500; HaluEval, MIT; knowledge
  from Wikipedia via HotpotQA, CC BY-SA). Relevant: the item's knowledge.
* ``banking77_faq``: a support FAQ. One document per intent (77): the intent name in words as the
  title, then the first 5 training utterances of that intent. Queries: the first 10 test utterances
  of every intent (770). Relevant: the query's gold intent. (BANKING77, CC BY 4.0.)
* ``clinc150_faq``: the same construction on CLINC150's 150 in-scope intents, 5 test queries each
  (750). (CLINC150, CC BY 3.0.)

The sets with their own ``beir/`` folder (SQuAD v1.1 dev, Cranfield, PubMedQA-L) are used as they are.

    python benchmarks/beir_views.py --data ../shared/data --out runs/views
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

FAQ_UTTERANCES = 5


def _write(out: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str]]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in corpus:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, d in qrels:
            f.write(f"{q}\t{d}\t1\n")
    print(f"{out}: {len(corpus)} documents, {len(queries)} queries")


def halueval(data: Path, out: Path) -> None:
    path = data / "halueval_qa500" / "qa_one-turn_data.json"  # JSON lines
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus, queries, qrels = [], [], []
    for i, it in enumerate(items):
        corpus.append({"_id": f"k{i}", "title": "", "text": it["knowledge"]})
        queries.append({"_id": f"q{i}", "text": it["question"]})
        qrels.append((f"q{i}", f"k{i}"))
    _write(out / "halueval_qa500", corpus, queries, qrels)


def _faq(name: str, train: dict[str, list[str]], test: dict[str, list[str]], per_intent: int, out: Path) -> None:
    corpus, queries, qrels = [], [], []
    for intent in sorted(train):
        corpus.append({"_id": intent, "title": intent.replace("_", " "), "text": "\n".join(train[intent][:FAQ_UTTERANCES])})
        for j, text in enumerate(test.get(intent, [])[:per_intent]):
            qid = f"{intent}#{j}"
            queries.append({"_id": qid, "text": text})
            qrels.append((qid, intent))
    _write(out / name, corpus, queries, qrels)


def banking77(data: Path, out: Path) -> None:
    def read(split: str) -> dict[str, list[str]]:
        by: dict[str, list[str]] = defaultdict(list)
        with open(data / "banking77" / f"{split}.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                by[row["category"]].append(row["text"])
        return by

    _faq("banking77_faq", read("train"), read("test"), 10, out)


def clinc150(data: Path, out: Path) -> None:
    raw = json.loads((data / "clinc150_oos" / "data_full.json").read_text(encoding="utf-8"))

    def read(split: str) -> dict[str, list[str]]:
        by: dict[str, list[str]] = defaultdict(list)
        for text, intent in raw[split]:
            by[intent].append(text)
        return by

    _faq("clinc150_faq", read("train"), read("test"), 5, out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("runs/views"))
    args = p.parse_args()
    halueval(args.data, args.out)
    banking77(args.data, args.out)
    clinc150(args.data, args.out)


if __name__ == "__main__":
    main()
