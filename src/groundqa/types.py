"""Plain, typed records that flow between the pipeline's stages (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Document:
    """One source document before chunking.

    ``id`` is the caller's document id (a file path relative to the ingest root, a jsonl id field,
    ...); ``source`` says where the text came from; ``metadata`` holds filterable fields.
    """

    id: str
    text: str
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A window of a document's sentences: the unit that is indexed and retrieved.

    ``start``/``end`` are character offsets into the document's text, so
    ``document.text[start:end] == chunk.text``. ``id`` is a hash of the document id and the text,
    so ingesting the same document twice yields the same chunks.
    """

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Chunk":
        return cls(
            id=d["id"],
            doc_id=d["doc_id"],
            text=d["text"],
            start=int(d["start"]),
            end=int(d["end"]),
            source=d.get("source", ""),
            metadata=dict(d.get("metadata") or {}),
        )


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score, its rank (1-based), and each retriever's score.

    ``scores`` maps a retriever name ("bm25", "dense") to that retriever's raw score for this chunk;
    a retriever that did not return the chunk is absent.
    """

    chunk: Chunk
    score: float
    rank: int
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def id(self) -> str:
        return self.chunk.id

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": self.score,
            "scores": dict(self.scores),
            **self.chunk.to_dict(),
        }
