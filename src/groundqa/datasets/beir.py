"""Read a BEIR-format retrieval folder and turn its corpus into chunks for the index.

The format (Thakur et al., 2021, https://github.com/beir-cellar/beir) is::

    corpus.jsonl      {"_id": ..., "title": ..., "text": ...}     one document per line
    queries.jsonl     {"_id": ..., "text": ...}                   one query per line
    qrels/test.tsv    query-id <TAB> corpus-id <TAB> score        with a header line

Each document becomes one chunk whose ``doc_id`` is the document's ``_id`` (SQuAD paragraphs and
Cranfield abstracts are short, so they are indexed whole; the embedder truncates past its token
limit, as BEIR's dense baselines do). The chunk text is ``title + "\\n" + text``, or just ``text``
when the text already starts with the title (Cranfield's abstracts repeat their titles).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Mapping

from ..documents import chunk_id
from ..errors import ConfigError
from ..types import Chunk, Document

QuerySplit = Literal["all", "even", "odd"]
QUERY_SPLITS: tuple[str, ...] = ("all", "even", "odd")


@dataclass(frozen=True)
class BeirDocument:
    """One corpus entry."""

    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """What is indexed: the title, a newline, the text (the title once if the text repeats it)."""
        title = self.title.strip()
        if not title or self.text.lstrip().lower().startswith(title.lower()):
            return self.text
        return f"{title}\n{self.text}"


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR folder in memory. ``queries`` keeps file order and holds only judged queries."""

    name: str
    path: str
    corpus: Mapping[str, BeirDocument]
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]
    split: str = "test"
    skipped_queries: int = field(default=0, compare=False)

    def documents(self) -> list[Document]:
        return [
            Document(id=d.id, text=d.full_text, source=self.name, metadata={"title": d.title})
            for d in self.corpus.values()
        ]

    def chunks(self) -> list[Chunk]:
        """One chunk per document, ``doc_id`` = the BEIR ``_id``, id = ``documents.chunk_id`` (content hash)."""
        out = []
        for d in self.corpus.values():
            text = d.full_text
            out.append(
                Chunk(id=chunk_id(d.id, text), doc_id=d.id, text=text, start=0, end=len(text), source=self.name, metadata={"title": d.title})
            )
        return out

    def select_queries(self, split: str = "all", limit: int | None = None) -> "BeirDataset":
        """The same corpus with a subset of the queries.

        ``split``: ``"all"``; ``"even"`` / ``"odd"`` keep the 2nd, 4th, ... / 1st, 3rd, ... judged
        query in file order (for Cranfield, whose ids are 1..225 in order, that is id parity).
        Used to tune fusion on one half and report on the other. ``limit`` then keeps the first
        ``limit`` queries of the split.
        """
        if split not in QUERY_SPLITS:
            raise ConfigError(f"query_split={split!r} is not valid; choose one of: {', '.join(QUERY_SPLITS)}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"limit_queries={limit!r} is not valid; it must be a whole number >= 1, or omitted for all")
        qids = list(self.queries)
        if split == "even":
            qids = qids[1::2]
        elif split == "odd":
            qids = qids[0::2]
        if limit is not None:
            qids = qids[:limit]
        return replace(
            self,
            queries={q: self.queries[q] for q in qids},
            qrels={q: self.qrels[q] for q in qids},
        )


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{lineno}: not valid JSON ({exc.msg}); each line must be one JSON object") from exc
            missing = [k for k in required if k not in row]
            if missing:
                raise ConfigError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}; BEIR rows need {', '.join(required)}")
            rows.append(row)
    return rows


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``query-id <TAB> corpus-id <TAB> score`` lines after a header, as ``{qid: {docid: score}}``."""
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{path}: empty qrels file; expected a header and query-id/corpus-id/score lines")
        for lineno, row in enumerate(reader, 2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                raise ConfigError(f"{path}:{lineno}: expected 3 tab-separated columns (query-id, corpus-id, score), got {row!r}")
            try:
                score = int(float(row[2]))
            except ValueError as exc:
                raise ConfigError(f"{path}:{lineno}: score {row[2]!r} is not a number") from exc
            qrels.setdefault(row[0], {})[row[1]] = score
    return qrels


def load_beir(path: str | Path, *, split: str = "test", name: str | None = None) -> BeirDataset:
    """Load a BEIR folder. Only queries with at least one relevant judged document are kept.

    ``name`` defaults to the folder's name, or its parent's when the folder is called ``beir``
    (``../shared/data/cranfield/beir`` -> ``cranfield``).
    """
    root = Path(path)
    files = {"corpus": root / "corpus.jsonl", "queries": root / "queries.jsonl", "qrels": root / "qrels" / f"{split}.tsv"}
    if not root.is_dir():
        raise ConfigError(f"data={str(path)!r} is not a directory; pass a BEIR folder holding corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    for what, f in files.items():
        if not f.is_file():
            raise ConfigError(f"data={str(path)!r} has no {f.relative_to(root)}; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    corpus: dict[str, BeirDocument] = {}
    clashes: list[str] = []
    for row in _read_jsonl(files["corpus"], ("_id", "text")):
        did = str(row["_id"])
        doc = BeirDocument(id=did, title=str(row.get("title") or ""), text=str(row["text"]))
        first = corpus.setdefault(did, doc)
        if first != doc:  # an exact repeat is one document; another text would replace it unseen
            clashes.append(did)
    if clashes:
        raise ConfigError(f"{files['corpus']}: {len(clashes)} line(s) reuse the _id of an earlier document with a different title or text "
                          f"(e.g. {clashes[0]!r}); the qrels cannot say which one is judged: give every document its own _id")
    raw_qrels = load_qrels(files["qrels"])
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    skipped = 0
    for row in _read_jsonl(files["queries"], ("_id", "text")):
        qid = str(row["_id"])
        judged = raw_qrels.get(qid)
        if not judged or not any(s > 0 for s in judged.values()):
            skipped += 1
            continue
        queries[qid] = str(row["text"])
        qrels[qid] = judged
    unknown = {d for j in qrels.values() for d in j if d not in corpus}
    if unknown:
        example = sorted(unknown)[:3]
        raise ConfigError(f"{files['qrels']}: {len(unknown)} judged document id(s) are not in corpus.jsonl (e.g. {example}); the files do not belong together")
    if name is None:
        name = root.resolve().parent.name if root.resolve().name == "beir" else root.resolve().name
    return BeirDataset(name=name, path=str(root), corpus=corpus, queries=queries, qrels=qrels, split=split, skipped_queries=skipped)
