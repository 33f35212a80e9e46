"""Durable document ingest for the service: an fsynced append-only journal plus index snapshots.

A 2xx from ``POST /v1/documents`` or ``DELETE /v1/documents/{id}`` is sent only after the change
is in ``journal.jsonl`` and the file is fsynced (and, for a new journal, its folder). The index in
memory is updated right after; ``HybridIndex.save`` (atomic: temporary folder, then rename) writes
it to the index folder every ``snapshot_interval_s`` when it changed, and at shutdown. At start-up
the journal is replayed over the last snapshot: documents whose chunks are all in the index are
skipped, the others are chunked and added, deleted ones are removed. Replay is idempotent, so a
crash at any point (before or after a snapshot) loses nothing that was acknowledged. A torn last
line (a crash in the middle of an append, never acknowledged) is ignored, with a warning; any
other damaged line, or a line of valid JSON that is not a put or delete record, stops start-up
with the file, the line and the fix.

Next to the journal, ``index.json`` records how many documents of the index are not in the
journal (documents of ``groundqa index build``). When the index folder is missing but the journal
is not, replay refuses to start (the service would serve the journal's documents only, and its
first snapshot would make the loss permanent) unless that number is 0: then the journal is a
complete record and the index is rebuilt from it.

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
        docs, deleted, rep.torn_lines = read_journal(self.journal_path)
        check_index_folder(self.index_dir, self.state_dir, docs)
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
        self._write_marker(None if present is None else len(self._prebuilt))
        if rep.deleted or todo:
            # the snapshot must hold the replayed state before the journal forgets its tombstones
            self._dirty = True
            self.snapshot()
        self._compact()
        self._journal = open(self.journal_path, "ab")
        rep.seconds = time.perf_counter() - t0
        return rep

    @property
    def marker_path(self) -> Path:
        return self.state_dir / MARKER

    def _write_marker(self, prebuilt: int | None) -> None:
        """Record how many documents of the index are not in the journal (None: unknown)."""
        record = {"format": 1, "index_dir": str(self.index_dir) if self.index_dir is not None else None, "prebuilt_documents": prebuilt, "time": time.time()}
        tmp = self.marker_path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.marker_path)

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
            self._check_chunk_owners(fresh, groups)
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

    def _check_chunk_owners(self, docs: Sequence[Document], groups: Sequence[Sequence[Any]]) -> None:
        """Refuse (before anything is written) chunks whose id another document already holds:
        the index would keep the other one's chunk and this document would have none, while the
        report said otherwise. Chunk ids hash (document id, text) one to one (``chunk_id``), so
        this guards against a hash collision or a foreign chunker, not against ordinary input."""
        owner: dict[str, str] = {}
        for d, g in zip(docs, groups):
            for c in g:
                if owner.setdefault(c.id, d.id) != d.id:
                    raise DocumentError("documents", f"documents {owner[c.id]!r} and {d.id!r} have a chunk with the same id {c.id!r}; nothing was stored. Change one document's id")
        lookup = getattr(self.index, "existing_ids", None)
        present = lookup(list(owner)) if lookup is not None else [i for i in owner if self.index.get(i) is not None]
        for cid in present:
            held = self.index.get(cid)
            if held is not None and held.doc_id != owner[cid]:
                raise DocumentError("documents", f"document {owner[cid]!r} has a chunk whose id {cid!r} document {held.doc_id!r} already holds in the index; nothing was stored. Change the document's id")

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


MARKER = "index.json"


def read_journal(path: Path, *, warn: bool = True) -> tuple[dict[str, StoredDocument], set[str], int]:
    """``(live documents, deleted ids, torn lines)`` of the journal at ``path`` (empty if it does not
    exist). ``ConfigError`` naming the file, the line and the fix for a damaged line that is not
    the last one, or a line that is not a put or delete record; a torn last line (a crash in the
    middle of an append, never acknowledged) is skipped, with a warning when ``warn``."""
    docs: dict[str, StoredDocument] = {}
    deleted: set[str] = set()
    torn = 0
    if not path.exists():
        return docs, deleted, torn
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for n, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            r = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deeply
            # only the last line can be torn (a crash mid-append, never acknowledged)
            if any(x.strip() for x in lines[n + 1 :]):
                raise ConfigError(
                    f"{path}: line {n + 1} is damaged and is not the last one; the journal was edited or the disk is failing. "
                    f"Restore the journal from a backup, or repair or remove line {n + 1} (its document's change is lost then) "
                    "and start again"
                ) from None
            torn += 1
            if warn:
                log.warning("%s: line %d (the last) is torn, a write cut by a crash that was never acknowledged; it is ignored", path, n + 1)
            continue
        problem = _record_problem(r)
        if problem is not None:
            raise ConfigError(
                f"{path}: line {n + 1} is valid JSON but not a journal record ({problem}); the journal was edited or damaged. "
                f"Restore it from a backup, or repair or remove line {n + 1} (its document's change is lost then) and start "
                "again; the other lines are untouched"
            )
        if r["op"] == "put":
            docs[r["id"]] = StoredDocument.from_record(r)
            deleted.discard(r["id"])
        else:
            docs.pop(r["id"], None)
            deleted.add(r["id"])
    return docs, deleted, torn


def check_index_folder(index_dir: Path | None, state_dir: Path, docs: Mapping[str, StoredDocument]) -> None:
    """Refuse to start when the index folder is gone but the journal is not: the service would
    serve the journal's documents only, and its first snapshot would make the loss of the index's
    own documents permanent. Unless the marker the store keeps next to the journal (``index.json``)
    says that every document of the index came through the journal: then the journal is a complete
    record and the index is rebuilt from it, with a warning."""
    if index_dir is None or index_dir.exists() or not docs:
        return
    journal = state_dir / "journal.jsonl"
    marker = _read_marker(state_dir / MARKER)
    prebuilt = marker.get("prebuilt_documents") if marker else None
    if prebuilt == 0:
        log.warning(
            "index folder %s does not exist: rebuilding it from the journal %s (%d documents; every document of the index was "
            "ingested through the service, so nothing is lost)", index_dir, journal, len(docs)
        )
        return
    held = (
        f"the index also held {prebuilt} document(s) built with `groundqa index build` that the journal does not have"
        if isinstance(prebuilt, int)
        else f"nothing in {state_dir} records whether the index held documents built with `groundqa index build` that the journal does not have"
    )
    raise ConfigError(
        f"the index folder {index_dir} does not exist, but {journal} holds {len(docs)} document(s) ingested through the "
        f"service, and {held}. Starting would serve the journal's documents only, and the next snapshot would make the loss "
        f"permanent. Restore {index_dir} from a backup (or rebuild it with `groundqa index build SOURCES --out {index_dir}`; "
        f"the journal is replayed over it), or pass the right --index; to serve the journal's documents alone, create the "
        f"empty folder {index_dir} and start again"
    )


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s cannot be read (%s); treated as missing", path, exc)
        return None
    return data if isinstance(data, dict) else None


def _record_problem(r: Any) -> str | None:
    """What makes a parsed journal line something other than a put or delete record (None: fine)."""
    if not isinstance(r, dict):
        return f"a JSON {type(r).__name__}, not an object"
    op = r.get("op")
    if op not in ("put", "delete"):
        return f"op is {op!r}, not 'put' or 'delete'"
    if not isinstance(r.get("id"), str) or not r["id"]:
        return f"id is {r.get('id')!r}, not a non-empty string"
    if op == "delete":
        return None
    for name in ("text", "sha256"):
        if not isinstance(r.get(name), str):
            return f"a put with no {name!r} field" if name not in r else f"{name} is a {type(r[name]).__name__}, not a string"
    if not isinstance(r.get("source", ""), str):
        return "source is not a string"
    if not isinstance(r.get("metadata") or {}, dict):
        return "metadata is not an object"
    ids = r.get("chunk_ids") or []
    if not isinstance(ids, list) or not all(isinstance(c, str) for c in ids):
        return "chunk_ids is not a list of strings"
    if isinstance(r.get("created", 0.0), bool) or not isinstance(r.get("created", 0.0), (int, float)):
        return "created is not a number"
    return None


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
