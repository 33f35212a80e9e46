"""Durable document ingest for the service: an fsynced append-only journal plus index snapshots.

A 2xx from ``POST /v1/documents`` or ``DELETE /v1/documents/{id}`` is sent only after the change
is in ``journal.jsonl`` and the file is fsynced (and, for a new journal, its folder). The index in
memory is updated right after; ``HybridIndex.save`` (atomic: temporary folder, then rename) writes
it to the index folder every ``snapshot_interval_s`` when it changed, and at shutdown. At start-up
the journal is replayed over the last snapshot: documents whose chunks are all in the index are
skipped, the others are chunked and added, deleted ones are removed. Replay is idempotent, so a
crash at any point (before or after a snapshot) loses nothing that was acknowledged. A torn last
line (a crash in the middle of an append, never acknowledged) is ignored.

After replay the journal is compacted to one ``put`` line per live document (written to a
temporary file, fsynced and renamed), so it stays the size of the corpus. The journal is also
where ``GET /v1/documents/{id}`` finds a document's text.

Identity is by content: a document sent without an id gets ``sha256:<first 32 hex of its text's
sha256>``; sending the same id with the same text again is a no-op (``unchanged``), with other text
it replaces the old version (``updated``). That holds for documents that came with the index
(built by ``groundqa index build``) too: an update deletes their old chunks. At replay a document
is reindexed when the index lacks one of its journalled chunks or still holds others (an older
version), so no stale chunk survives a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from ..errors import ConfigError, DocumentError
from ..fsutil import fsync_dir
from ..types import Document

log = logging.getLogger(__name__)

Status = Literal["created", "unchanged", "updated"]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_batch_ids(docs: Sequence[Document]) -> None:
    """Raise ``DocumentError`` when two documents of one request share an id but not their text.

    ``POST /v1/documents`` calls it before anything is written. Across requests the same id with
    other text is an update; inside one request the later text would replace the earlier one
    before anyone saw it (usually ids made from something that repeats, such as a title), so the
    request is refused whole. The same id with the same text is an exact repeat, stored once
    (its status: ``unchanged``). ``DocumentStore.ingest`` itself keeps the last version of an id."""
    first: dict[str, tuple[int, str]] = {}
    clashes: list[tuple[str, int, int]] = []
    for i, d in enumerate(docs):
        digest = content_hash(d.text)
        prev = first.setdefault(d.id, (i, digest))
        if prev[1] != digest:
            clashes.append((d.id, prev[0], i))
    if clashes:
        doc_id, a, b = clashes[0]
        raise DocumentError(
            "documents",
            f"{len(clashes)} document(s) reuse the id of an earlier document in the same request with a different text "
            f"(e.g. {doc_id!r} at positions {a} and {b}); nothing was stored. Give each document its own id, or leave "
            "id out to use the content hash",
        )


@dataclass(frozen=True)
class StoredDocument:
    """A live document: what was sent, its content hash, and the ids of its chunks."""

    id: str
    text: str
    source: str
    metadata: Mapping[str, Any]
    sha256: str
    chunk_ids: tuple[str, ...]
    created: float

    def to_record(self) -> dict[str, Any]:
        return {"op": "put", "id": self.id, "text": self.text, "source": self.source, "metadata": dict(self.metadata), "sha256": self.sha256, "chunk_ids": list(self.chunk_ids), "created": self.created}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> "StoredDocument":
        return cls(r["id"], r["text"], r.get("source", ""), dict(r.get("metadata") or {}), r["sha256"], tuple(r.get("chunk_ids") or ()), float(r.get("created", 0.0)))


@dataclass(frozen=True)
class IngestOutcome:
    id: str
    status: Status
    chunks: int


@dataclass
class ReplayReport:
    documents: int = 0
    reindexed: int = 0
    deleted: int = 0
    torn_lines: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class DocumentStore:
    """The index plus the journal that makes changes to it durable. Thread-safe: writes are
    serialised by one lock; searches go to the index, which has its own lock."""

    def __init__(self, index: Any, index_dir: Path | None, state_dir: Path, *, chunker: Any = None) -> None:
        self.index = index
        self.index_dir = index_dir
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal_path = self.state_dir / "journal.jsonl"
        self._chunker = chunker
        self._chunker_lock = threading.Lock()
        self._warm_lock = threading.Lock()
        self._docs: dict[str, StoredDocument] = {}
        self._write = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._journal: Any = None
        self._dirty = False
        self._prebuilt: set[str] = set()  # documents that came with the index, not the journal
        self.snapshots = 0

    # -- start-up -------------------------------------------------------------------------------
    def chunker(self) -> Any:
        with self._chunker_lock:
            if self._chunker is None:
                from ..documents import Chunker

                self._chunker = Chunker(self.index.embedder)
            return self._chunker

    def warm_up(self) -> None:
        """Load what the first ingest would otherwise load (the chunker and its token counter)."""
        with self._warm_lock:  # an ingest meanwhile waits for this instead of loading it all again
            try:
                self.chunker().chunk_many([Document(id="warm-up", text="Warm up the chunker.")])
            except Exception:  # the first ingest will report the problem to its client
                log.exception("warming up the chunker failed")

    def replay(self) -> ReplayReport:
        """Rebuild the document map from the journal and bring the index up to date with it."""
        t0 = time.perf_counter()
        rep = ReplayReport()
        docs: dict[str, StoredDocument] = {}
        deleted: set[str] = set()
        if self.journal_path.exists():
            with open(self.journal_path, "rb") as f:
                lines = f.read().split(b"\n")
            for n, raw in enumerate(lines):
                if not raw.strip():
                    continue
                try:
                    r = json.loads(raw)
                except json.JSONDecodeError:
                    # only the last line can be torn (a crash mid-append, never acknowledged)
                    rep.torn_lines += 1
                    if any(x.strip() for x in lines[n + 1 :]):
                        raise ConfigError(f"{self.journal_path}: line {n + 1} is damaged and is not the last one; the journal was edited or the disk is failing")
                    continue
                if r.get("op") == "put":
                    docs[r["id"]] = StoredDocument.from_record(r)
                    deleted.discard(r["id"])
                elif r.get("op") == "delete":
                    docs.pop(r["id"], None)
                    deleted.add(r["id"])
        if deleted:
            rep.deleted = self.index.delete(deleted)
        present = self._chunk_ids_by_doc()
        if present is None:
            todo = [d for d in docs.values() if not d.chunk_ids or any(self.index.get(c) is None for c in d.chunk_ids)]
        else:
            # reindex a document when the index lacks one of its chunks or still holds chunks of
            # an older version (a snapshot taken before the update, or a pre-built document)
            todo = [d for d in docs.values() if not d.chunk_ids or present.get(d.id, set()) != set(d.chunk_ids)]
            self._prebuilt = set(present) - set(docs) - deleted
        if todo:
            # a document replaced after the snapshot: its old chunks go first
            self.index.delete([d.id for d in todo])
            chunks = [c for group in self.chunker().chunk_many([self._as_document(d) for d in todo]) for c in group]
            self.index.add(chunks)
            rep.reindexed = len(todo)
        self._docs = docs
        rep.documents = len(docs)
        if rep.deleted or todo:
            # the snapshot must hold the replayed state before the journal forgets its tombstones
            self._dirty = True
            self.snapshot()
        self._compact()
        self._journal = open(self.journal_path, "ab")
        rep.seconds = time.perf_counter() - t0
        return rep

    def _chunk_ids_by_doc(self) -> dict[str, set[str]] | None:
        """doc id -> ids of its chunks in the index (None for a retriever that cannot list them)."""
        chunks = getattr(self.index, "chunks", None)
        if chunks is None:
            return None
        out: dict[str, set[str]] = {}
        for c in chunks:
            out.setdefault(c.doc_id, set()).add(c.id)
        return out

    def _compact(self) -> None:
        tmp = self.journal_path.with_suffix(".jsonl.tmp")
        with open(tmp, "wb") as f:
            for d in self._docs.values():
                f.write(_line(d.to_record()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.journal_path)
        fsync_dir(self.state_dir)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, doc_id: str) -> StoredDocument | None:
        """A live document; one that came with the index (built by ``groundqa index build``) is
        rebuilt from its chunks (text joined from their spans)."""
        d = self._docs.get(doc_id)
        if d is not None:
            return d
        chunks = sorted(self.index.chunks_of(doc_id), key=lambda c: c.start)
        if not chunks:
            return None
        text, upto = "", chunks[0].start
        for c in chunks:
            if c.end <= upto:
                continue
            piece = c.text[max(0, upto - c.start) :]
            text += (" " if text and c.start > upto else "") + piece
            upto = c.end
        return StoredDocument(doc_id, text, chunks[0].source, dict(chunks[0].metadata), content_hash(text), tuple(c.id for c in chunks), 0.0)

    def __len__(self) -> int:
        return len(self._docs)

    def doc_ids(self) -> list[str]:
        return list(self._docs)

    # -- writes ---------------------------------------------------------------------------------
    def ingest(self, docs: Sequence[Document]) -> list[IngestOutcome]:
        """Make ``docs`` durable and searchable; returns one outcome per document, in order.

        Group commit: requests that arrive while another one is being written wait for the lock
        and are then written together (one chunking call, one fsync, one index update); each
        caller still returns only after its own documents are journaled and indexed.
        """
        if self._journal is None:
            raise RuntimeError("DocumentStore.replay() must run before ingest")
        req = _Pending(list(docs))
        with self._pending_lock:
            self._pending.append(req)
        with self._write:
            if not req.done:
                with self._pending_lock:
                    group, self._pending = self._pending, []
                try:
                    self._commit(group)
                except BaseException as exc:
                    for r in group:
                        if not r.done:
                            r.error, r.done = exc, True
                    raise
        if req.error is not None:
            raise req.error
        return req.outcomes

    def _commit(self, group: list["_Pending"]) -> None:
        # statuses in arrival order, as if the requests had been written one by one
        view: dict[str, str] = {}  # id -> digest as of the previous document in the group
        fresh: list[Document] = []
        for r in group:
            for d in r.docs:
                digest = content_hash(d.text)
                old = view.get(d.id) or (self._docs[d.id].sha256 if d.id in self._docs else None)
                if old is None and d.id in self._prebuilt:
                    built = self.get(d.id)  # a document of the pre-built index: an update replaces it
                    old = built.sha256 if built is not None else None
                if old == digest:
                    r.outcomes.append(IngestOutcome(d.id, "unchanged", -1))
                    continue
                r.outcomes.append(IngestOutcome(d.id, "updated" if old is not None else "created", -1))
                view[d.id] = digest
                fresh.append(d)
        if fresh:
            # the last version of each id is what the index holds (the journal replays in order)
            last = {d.id: i for i, d in enumerate(fresh)}
            with self._warm_lock:
                pass  # a warm-up in progress finishes first
            groups = self.chunker().chunk_many(fresh)
            now = time.time()
            stored = [StoredDocument(d.id, d.text, d.source, dict(d.metadata), content_hash(d.text), tuple(c.id for c in g), now) for d, g in zip(fresh, groups)]
            # durable first: the journal lines are fsynced before anything is acknowledged
            self._append([x.to_record() for x in stored])
            replaced = [i for i in last if i in self._docs or i in self._prebuilt]
            if replaced:
                self.index.delete(replaced)
            self.index.add([c for i, g in enumerate(groups) if last[fresh[i].id] == i for c in g])
            for i, x in enumerate(stored):
                if last[x.id] == i:
                    self._docs[x.id] = x
                    self._prebuilt.discard(x.id)
            self._dirty = True
        for r in group:
            r.outcomes = [IngestOutcome(o.id, o.status, self._chunk_count(o.id)) for o in r.outcomes]
            r.done = True

    def _chunk_count(self, doc_id: str) -> int:
        d = self._docs.get(doc_id) or self.get(doc_id)
        return len(d.chunk_ids) if d is not None else 0

    def delete(self, doc_id: str) -> int | None:
        """Remove a document; returns the number of chunks removed, or None if it is unknown."""
        with self._write:
            if doc_id not in self._docs and not self.index.chunks_of(doc_id):
                return None
            self._append([{"op": "delete", "id": doc_id, "time": time.time()}])
            removed = self.index.delete([doc_id])
            self._docs.pop(doc_id, None)
            self._prebuilt.discard(doc_id)
            self._dirty = True
            return removed

    def _append(self, records: Iterable[Mapping[str, Any]]) -> None:
        data = b"".join(_line(r) for r in records)
        self._journal.write(data)
        self._journal.flush()
        os.fsync(self._journal.fileno())

    # -- snapshots ------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._dirty

    def snapshot(self) -> bool:
        """Save the index atomically if it changed since the last save; True if it saved."""
        if not self._dirty or self.index_dir is None or not hasattr(self.index, "save"):
            return False
        with self._write:
            self._dirty = False
            try:
                self.index.save(self.index_dir)
            except BaseException:
                self._dirty = True
                raise
        self.snapshots += 1
        return True

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    @staticmethod
    def _as_document(d: StoredDocument) -> Document:
        return Document(id=d.id, text=d.text, source=d.source, metadata=dict(d.metadata))


@dataclass
class _Pending:
    """One ingest call waiting for a group commit."""

    docs: list[Document]
    outcomes: list[IngestOutcome] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
