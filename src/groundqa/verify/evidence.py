"""Candidate evidence windows for a claim, cut from the passages the generator was given.

A window is one sentence or two adjacent sentences of one passage (``max_sentences``). A claim is
only ever judged against these windows; its best window becomes its citation: the document id,
the source, and the character span in the document's text (``chunk.start`` + the offset inside the
chunk), so ``document.text[start:end] == window.text``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..text import sentence_spans
from ..types import Citation, Passage
from .lexical import Units, bigrams, coverage, units


@dataclass(frozen=True)
class EvidenceWindow:
    """A window of one passage. ``passage`` is the index into the passages given to the guard
    (-1 for plain texts); ``start``/``end`` are offsets in the source document's text."""

    text: str
    passage: int
    doc_id: str
    chunk_id: str
    source: str
    start: int
    end: int


def _text_windows(text: str, max_sentences: int, max_chars: int) -> list[tuple[int, int]]:
    spans = sentence_spans(text) or ([(0, len(text))] if text.strip() else [])
    out: list[tuple[int, int]] = []
    for i, (s, e) in enumerate(spans):
        if e - s > max_chars:
            # an overlong "sentence" (a table, a list): cut at word boundaries
            pos = s
            while pos < e:
                cut = min(e, pos + max_chars)
                if cut < e:
                    sp = text.rfind(" ", pos + max_chars // 2, cut)
                    cut = sp if sp > pos else cut
                out.append((pos, cut))
                pos = cut
                while pos < e and text[pos].isspace():
                    pos += 1
            continue
        out.append((s, e))
        for k in range(2, max_sentences + 1):
            if i + k - 1 < len(spans) and spans[i + k - 1][1] - s <= max_chars:
                out.append((s, spans[i + k - 1][1]))
    return out


def evidence_windows(passages: Sequence[Passage], max_sentences: int = 2, max_chars: int = 600) -> list[EvidenceWindow]:
    """Sentence windows of every passage, with spans in the passage's source document."""
    out: list[EvidenceWindow] = []
    for p_i, p in enumerate(passages):
        c = p.chunk
        for s, e in _text_windows(c.text, max_sentences, max_chars):
            out.append(EvidenceWindow(c.text[s:e], p_i, c.doc_id, c.id, c.source, c.start + s, c.start + e))
    return out


def windows_from_texts(texts: Sequence[str], max_sentences: int = 2, max_chars: int = 600, pre_split: bool = False) -> list[EvidenceWindow]:
    """Windows of plain evidence texts (benchmarks). ``pre_split``: each text is already one
    sentence (WiCE); windows then join adjacent texts. Spans are offsets in ``"\\n".join(texts)``."""
    out: list[EvidenceWindow] = []
    if pre_split:
        offs = []
        pos = 0
        for t in texts:
            offs.append(pos)
            pos += len(t) + 1
        for i, t in enumerate(texts):
            if not t.strip():
                continue
            out.append(EvidenceWindow(t[:max_chars], -1, "", "", "", offs[i], offs[i] + min(len(t), max_chars)))
            for k in range(2, max_sentences + 1):
                j = i + k - 1
                if j < len(texts) and offs[j] + len(texts[j]) - offs[i] <= max_chars:
                    out.append(EvidenceWindow(" ".join(texts[i : j + 1]), -1, "", "", "", offs[i], offs[j] + len(texts[j])))
        return out
    base = 0
    for t in texts:
        for s, e in _text_windows(t, max_sentences, max_chars):
            out.append(EvidenceWindow(t[s:e], -1, "", "", "", base + s, base + e))
        base += len(t) + 1
    return out


def lexical_rank(claim: str, windows: Sequence[EvidenceWindow], top_k: int) -> list[int]:
    """Indices of the ``top_k`` windows that cover most of the claim (IDF-weighted words, then
    bigrams, then shorter windows), best first."""
    if not windows:
        return []
    cu = units(claim)
    wu = [units(w.text) for w in windows]
    df: dict[str, int] = {}
    for u in wu:
        for w in u.words:
            df[w] = df.get(w, 0) + 1
    n = len(windows)
    idf = {w: math.log(1 + n / (1 + df.get(w, 0))) for w in cu.words}
    total = sum(idf.values()) or 1.0
    cb = bigrams(claim)
    scores = []
    for i, u in enumerate(wu):
        cov = sum(idf[w] for w in cu.words & u.words) / total
        bg = len(cb & bigrams(windows[i].text)) / max(1, len(cb))
        scores.append((cov + 0.3 * bg - 0.0005 * len(windows[i].text), i))
    scores.sort(reverse=True)
    return [i for _, i in scores[:top_k]]


def window_units(windows: Sequence[EvidenceWindow]) -> list[Units]:
    return [units(w.text) for w in windows]


def best_coverage(claim_units: Units, wunits: Sequence[Units]) -> float:
    return max((coverage(claim_units, u) for u in wunits), default=0.0)
