"""Split documents into sentence windows that fit the embedder's token limit.

A chunk is a run of whole sentences (``groundqa.text.sentence_spans``) whose token count, as the
embedder counts it (special tokens included), is at most ``max_tokens``. Consecutive chunks share
``overlap_sentences`` sentences, so a fact that straddles a boundary is whole in one of them. A
sentence longer than the limit on its own is cut at word boundaries (and a single "word" longer
than the limit, such as a URL or a base64 blob, at character boundaries).

Token counts come from the embedder's tokenizer in large batches: one call for all the sentences
of many documents, and one more call that checks every planned window exactly (tokenizers do not
always count a concatenation as the sum of its parts); a window that fails the check is planned
again with one sentence fewer. So the limit holds exactly, at the cost of two batched calls.

Chunk ids are ``sha256(doc_id + "\\0" + text)`` (32 hex characters), so chunking the same
document twice gives the same ids and adding them to an index again changes nothing. Repeated
identical text inside one document yields one chunk (the first occurrence). The NUL separates id
and text unambiguously only when the id holds no NUL; an id that does (``normalize_doc_id`` keeps
them out of the service and the loaders, but a library caller can still build one) is hashed
another way: ``sha256("groundqa-chunk/2:" + sha256(doc_id) + ":" + sha256(text))``, in hex. That
string has no NUL, so it can equal no id-NUL-text string. Chunks of every NUL-free id keep the
ids they always had, so existing indexes stay valid and re-adding their documents is still a
no-op; only a document whose id holds a NUL gets new chunk ids (re-adding it once replaces its
chunks, as an update does).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from ..errors import ConfigError
from ..text import sentence_spans
from ..types import Chunk, Document

__all__ = ["Chunker", "TokenCounter", "chunk_documents", "chunk_id"]

_WORD = re.compile(r"\S+")
_BATCH = 4096  # texts per tokenizer call


@runtime_checkable
class TokenCounter(Protocol):
    """What chunking needs from an embedder (every groundqa embedder has both)."""

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def chunk_id(doc_id: str, text: str) -> str:
    """The content hash that identifies a chunk: 32 hex characters of sha256(doc id, text), one
    to one with (doc id, text) (see the module docstring for ids that hold a NUL)."""
    if "\x00" in doc_id:
        parts = (hashlib.sha256(doc_id.encode("utf-8", "surrogatepass")).hexdigest(), hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
        return hashlib.sha256(f"groundqa-chunk/2:{parts[0]}:{parts[1]}".encode("ascii")).hexdigest()[:32]
    return hashlib.sha256(f"{doc_id}\x00{text}".encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class _Unit:
    """A span of the document that is never split further by the planner (a sentence or piece)."""

    start: int
    end: int
    tokens: int  # without special tokens


class Chunker:
    """Sentence-window chunking that fits a token limit.

    Args:
        embedder_or_token_counter: an embedder (anything with ``count_tokens(texts)`` and
            ``max_tokens``), or a plain function ``texts -> list of token counts``, in which case
            ``max_tokens`` must be given.
        max_tokens: the most tokens a chunk may have, special tokens included. Default: the
            embedder's own limit; a smaller value gives smaller chunks; a larger one is refused,
            since the embedder would silently cut the rest.
        overlap_sentences: sentences repeated at the start of the next chunk (0 for none).
        language: the Punkt language for sentence splitting.

    ``chunk(doc)`` chunks one document; ``chunk_many(docs)`` batches the tokenizer calls over many.
    """

    def __init__(
        self,
        embedder_or_token_counter: TokenCounter | Callable[[Sequence[str]], Sequence[int]],
        max_tokens: int | None = None,
        overlap_sentences: int = 1,
        *,
        language: str = "english",
    ) -> None:
        counter = embedder_or_token_counter
        if hasattr(counter, "count_tokens"):
            self._count: Callable[[Sequence[str]], Sequence[int]] = counter.count_tokens  # type: ignore[union-attr]
            limit = getattr(counter, "max_tokens", None)
        elif callable(counter):
            self._count = counter
            limit = None
        else:
            raise ConfigError(
                f"embedder_or_token_counter={counter!r} is not valid; pass an embedder (with "
                "count_tokens and max_tokens) or a function that maps texts to token counts"
            )
        if max_tokens is None:
            if limit is None:
                raise ConfigError("max_tokens=None needs an embedder that has max_tokens; pass max_tokens=N with a plain token-counting function")
            max_tokens = int(limit)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ConfigError(f"max_tokens={max_tokens!r} is not valid; it must be a positive integer")
        if limit is not None and max_tokens > int(limit):
            raise ConfigError(
                f"max_tokens={max_tokens} is more than the embedder's limit of {int(limit)} tokens; "
                "the embedder would cut the rest of each chunk. Pass max_tokens <= "
                f"{int(limit)} or leave it unset"
            )
        if not isinstance(overlap_sentences, int) or isinstance(overlap_sentences, bool) or overlap_sentences < 0:
            raise ConfigError(f"overlap_sentences={overlap_sentences!r} is not valid; it must be an integer >= 0")
        self.max_tokens = max_tokens
        self.overlap_sentences = overlap_sentences
        self.language = language
        self._overhead: int | None = None  # special tokens the counter adds to every text

    # -- token counting ------------------------------------------------------------------------

    def count(self, texts: Sequence[str]) -> list[int]:
        """Token counts of ``texts`` (special tokens included), in batches of a few thousand."""
        out: list[int] = []
        for i in range(0, len(texts), _BATCH):
            out.extend(int(n) for n in self._count(list(texts[i : i + _BATCH])))
        if len(out) != len(texts):
            raise ConfigError(f"the token counter returned {len(out)} counts for {len(texts)} texts; it must return one count per text")
        return out

    @property
    def overhead(self) -> int:
        """Tokens the counter adds to any text (``[CLS]`` and ``[SEP]`` for BERT-like models)."""
        if self._overhead is None:
            self._overhead = self.count([""])[0]
            if self._overhead >= self.max_tokens:
                raise ConfigError(
                    f"max_tokens={self.max_tokens} leaves no room for text: the embedder adds "
                    f"{self._overhead} special tokens to every text; raise max_tokens"
                )
        return self._overhead

    @property
    def budget(self) -> int:
        """Tokens available for the text of one chunk."""
        return self.max_tokens - self.overhead

    # -- public API ----------------------------------------------------------------------------

    def chunk(self, doc: Document) -> list[Chunk]:
        """The chunks of one document, in order (none for a document without text)."""
        return self.chunk_many([doc])[0]

    def chunk_many(self, docs: Sequence[Document]) -> list[list[Chunk]]:
        """The chunks of each document, counting tokens for all of them in a few batched calls."""
        docs = list(docs)
        budget = self.budget
        spans = [sentence_spans(d.text, self.language) for d in docs]
        counts = self.count([d.text[s:e] for d, ds in zip(docs, spans) for s, e in ds])
        units: list[list[_Unit]] = []
        pos = 0
        long_ones: list[tuple[int, int]] = []  # (doc index, unit index) of over-long sentences
        for di, (d, ds) in enumerate(zip(docs, spans)):
            us = []
            for s, e in ds:
                n = counts[pos] - self.overhead
                pos += 1
                if n > budget:
                    long_ones.append((di, len(us)))
                us.append(_Unit(s, e, n))
            units.append(us)
        if long_ones:
            self._split_long(docs, units, long_ones)

        caps: list[dict[int, int]] = [{} for _ in docs]  # per doc: window start -> most units
        todo = list(range(len(docs)))
        plans: list[list[tuple[int, int]]] = [[] for _ in docs]
        while todo:
            for di in todo:
                plans[di] = self._plan(units[di], caps[di])
            texts, where = [], []
            for di in todo:
                for a, b in plans[di]:
                    u = units[di]
                    texts.append(docs[di].text[u[a].start : u[b - 1].end])
                    where.append((di, a, b))
            exact = self.count(texts)
            again: set[int] = set()
            for (di, a, b), n in zip(where, exact):
                if n <= self.max_tokens:
                    continue
                again.add(di)
                if b - a > 1:
                    caps[di][a] = b - a - 1
                else:  # one unit that the tokenizer counts higher in context: cut it in two
                    self._halve(docs[di].text, units[di], a)
            todo = sorted(again)

        return [self._chunks(d, u, p) for d, u, p in zip(docs, units, plans)]

    # -- planning ------------------------------------------------------------------------------

    def _plan(self, units: list[_Unit], caps: dict[int, int]) -> list[tuple[int, int]]:
        """Windows ``[a, b)`` of units: greedy fill to the budget, then step back by the overlap."""
        budget = self.budget
        windows: list[tuple[int, int]] = []
        a, n = 0, len(units)
        while a < n:
            cap = caps.get(a, n)
            b, used = a, 0
            while b < n and b - a < cap and (b == a or used + units[b].tokens <= budget):
                used += units[b].tokens
                b += 1
            windows.append((a, b))
            if b >= n:
                break
            # next window: keep the last `overlap` units, but always take at least one new unit,
            # and drop overlap that would leave no room for it
            nxt = max(a + 1, b - self.overlap_sentences)
            while nxt < b and sum(u.tokens for u in units[nxt:b]) + units[b].tokens > budget:
                nxt += 1
            a = nxt
        return windows

    def _split_long(self, docs: Sequence[Document], units: list[list[_Unit]], long_ones: list[tuple[int, int]]) -> None:
        """Replace each over-long sentence by pieces that fit, cut at word boundaries."""
        budget = self.budget
        words_of = []
        for di, ui in long_ones:
            u = units[di][ui]
            words_of.append([(u.start + m.start(), u.start + m.end()) for m in _WORD.finditer(docs[di].text[u.start : u.end])])
        flat = [docs[di].text[s:e] for (di, _), ws in zip(long_ones, words_of) for s, e in ws]
        wcounts = iter(n - self.overhead for n in self.count(flat))
        replaced: dict[int, dict[int, list[_Unit]]] = {}
        for (di, ui), ws in zip(long_ones, words_of):
            pieces: list[_Unit] = []
            cur: list[int] = []  # [start, end, tokens] of the piece being filled
            for s, e in ws:
                n = next(wcounts)
                if n > budget:  # one word longer than the limit: cut by characters
                    if cur:
                        pieces.append(_Unit(*cur))
                        cur = []
                    pieces.extend(self._char_pieces(docs[di].text, s, e, n))
                    continue
                if cur and cur[2] + n <= budget:
                    cur[1], cur[2] = e, cur[2] + n
                else:
                    if cur:
                        pieces.append(_Unit(*cur))
                    cur = [s, e, n]
            if cur:
                pieces.append(_Unit(*cur))
            replaced.setdefault(di, {})[ui] = pieces
        for di, repl in replaced.items():
            new: list[_Unit] = []
            for ui, u in enumerate(units[di]):
                new.extend(repl.get(ui, [u]))
            units[di] = new

    def _char_pieces(self, text: str, s: int, e: int, tokens: int) -> list[_Unit]:
        size = max(1, (e - s) * self.budget // max(tokens, 1))
        cuts = list(range(s, e, size)) + [e]
        return [_Unit(x, y, min(self.budget, max(1, tokens * (y - x) // max(e - s, 1)))) for x, y in zip(cuts, cuts[1:])]

    def _halve(self, text: str, units: list[_Unit], i: int) -> None:
        """Cut unit ``i`` in two at the word boundary nearest its middle (or mid-character)."""
        u = units[i]
        if u.end - u.start <= 1:
            raise ConfigError(
                f"max_tokens={self.max_tokens} is too small: the single character {text[u.start:u.end]!r} "
                "does not fit in one chunk; raise max_tokens"
            )
        mid = (u.start + u.end) // 2
        gaps = [m.start() + u.start for m in re.finditer(r"\s+", text[u.start : u.end])]
        cut = min(gaps, key=lambda g: abs(g - mid)) if gaps else mid
        if cut <= u.start or cut >= u.end:
            cut = mid if u.end - u.start > 1 else u.end
        left_end = cut
        right_start = cut
        while right_start < u.end and text[right_start].isspace():
            right_start += 1
        half = max(1, u.tokens // 2)
        units[i : i + 1] = [_Unit(u.start, left_end, half), _Unit(right_start, u.end, half)]

    # -- output --------------------------------------------------------------------------------

    def _chunks(self, doc: Document, units: list[_Unit], plan: list[tuple[int, int]]) -> list[Chunk]:
        out: list[Chunk] = []
        seen: set[str] = set()
        for a, b in plan:
            start, end = units[a].start, units[b - 1].end
            text = doc.text[start:end]
            cid = chunk_id(doc.id, text)
            if cid in seen:
                continue
            seen.add(cid)
            out.append(Chunk(id=cid, doc_id=doc.id, text=text, start=start, end=end, source=doc.source, metadata=dict(doc.metadata)))
        return out


def chunk_documents(
    docs: Iterable[Document],
    embedder_or_token_counter: Any,
    *,
    max_tokens: int | None = None,
    overlap_sentences: int = 1,
    batch_docs: int = 256,
    show_progress: bool = False,
) -> list[Chunk]:
    """All chunks of ``docs`` in order, counting tokens in batches of ``batch_docs`` documents.

    Accepts a ``Chunker`` in place of the embedder (then ``max_tokens`` and ``overlap_sentences``
    must be left at their defaults).
    """
    if isinstance(embedder_or_token_counter, Chunker):
        chunker = embedder_or_token_counter
    else:
        chunker = Chunker(embedder_or_token_counter, max_tokens=max_tokens, overlap_sentences=overlap_sentences)
    return list(_iter_chunks(chunker, docs, batch_docs, show_progress))


def _iter_chunks(chunker: Chunker, docs: Iterable[Document], batch_docs: int, show_progress: bool) -> Iterator[Chunk]:
    docs = list(docs)
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(docs), desc="chunking", unit="doc")
    try:
        for i in range(0, len(docs), batch_docs):
            group = docs[i : i + batch_docs]
            for chunks in chunker.chunk_many(group):
                yield from chunks
            if bar is not None:
                bar.update(len(group))
    finally:
        if bar is not None:
            bar.close()
