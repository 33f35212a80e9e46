"""Sparse retrieval: BM25 over word tokens, with bm25s (default) or rank-bm25 (the reference).

Both backends share one tokenizer (lower-case word tokens, English stop words removed, Snowball
stemming when PyStemmer is installed), so their scores differ only where their formulas do.

bm25s ``method="lucene"`` uses idf = ln(1 + (N - n + 0.5) / (n + 0.5)) (Lucene's BM25Similarity);
rank-bm25's ``BM25Okapi`` uses idf = ln((N - n + 0.5) / (n + 0.5)) with a floor for common terms
(Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from ..errors import ConfigError, check_choice

SparseBackend = Literal["bm25s", "rank-bm25"]
SPARSE_BACKENDS: tuple[str, ...] = ("bm25s", "rank-bm25")
BM25_METHODS: tuple[str, ...] = ("lucene", "robertson", "atire", "bm25l", "bm25+")

_WORD = re.compile(r"\w+", re.UNICODE)


def _bm25s() -> Any:
    """Import bm25s, undoing the DEBUG level it gives its logger on import (its debug lines
    would otherwise print wherever an application logs to the console)."""
    import logging

    import bm25s

    log = logging.getLogger("bm25s")
    if log.level == logging.DEBUG:
        log.setLevel(logging.NOTSET)
    return bm25s


class Tokenizer:
    """Lower-case word tokens, minus English stop words, Snowball-stemmed when PyStemmer is there."""

    def __init__(self, *, stopwords: str | None = "en", stemmer: str | None = "english") -> None:
        self.stopwords_name = stopwords
        self.stemmer_name = stemmer
        self._stop: frozenset[str] = frozenset()
        if stopwords == "en":
            from bm25s.stopwords import STOPWORDS_EN

            self._stop = frozenset(STOPWORDS_EN)
        elif stopwords is not None:
            raise ConfigError(f"stopwords={stopwords!r} is not valid; use 'en' or None")
        self._stem: Any = None
        if stemmer:
            try:
                import Stemmer  # PyStemmer

                self._stem = Stemmer.Stemmer(stemmer)
            except ImportError:  # stemming is an improvement, not a requirement
                self.stemmer_name = None
            except KeyError as exc:
                raise ConfigError(f"stemmer={stemmer!r} is not a Snowball language; use 'english' or None") from exc

    def config(self) -> dict[str, Any]:
        return {"stopwords": self.stopwords_name, "stemmer": self.stemmer_name}

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower()) if w not in self._stop]
        return self._stem.stemWords(words) if self._stem is not None else words

    def many(self, texts: Sequence[str]) -> list[list[str]]:
        return [self(t) for t in texts]


@dataclass(frozen=True)
class SparseHits:
    """Positions (into the index's chunk list) and BM25 scores, best first."""

    positions: np.ndarray
    scores: np.ndarray


class BM25Index:
    """BM25 over a list of texts. Rebuilt in full on every change (tokenised texts are kept), so
    incremental and from-scratch indexes score identically; bm25s builds 100k chunks in seconds."""

    def __init__(
        self,
        backend: SparseBackend = "bm25s",
        *,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.backend = check_choice("sparse", backend, SPARSE_BACKENDS)
        self.method = check_choice("bm25_method", method, BM25_METHODS)
        if not isinstance(k1, (int, float)) or k1 < 0:
            raise ConfigError(f"k1={k1!r} is not valid; BM25's k1 must be a number >= 0 (1.2 to 2.0 is usual)")
        if not isinstance(b, (int, float)) or not 0 <= b <= 1:
            raise ConfigError(f"b={b!r} is not valid; BM25's b must be between 0 and 1 (0.75 is usual)")
        self.k1 = float(k1)
        self.b = float(b)
        self.tokenizer = tokenizer or Tokenizer()
        self._tokens: list[list[str]] | None = []  # None: loaded from arrays, tokens not derived yet
        self._n = 0
        self._model: Any = None

    def config(self) -> dict[str, Any]:
        return {"backend": self.backend, "k1": self.k1, "b": self.b, "method": self.method, "tokenizer": self.tokenizer.config()}

    def __len__(self) -> int:
        return self._n

    # -- building -----------------------------------------------------------------------------
    def set_tokens(self, tokens: list[list[str]]) -> None:
        """Replace the indexed corpus with these tokenised texts (positions = list order)."""
        self._tokens = tokens
        self._n = len(tokens)
        self._model = None
        if not tokens:
            return
        if self.backend == "bm25s":
            bm25s = _bm25s()
            model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
            # an empty text would give bm25s an empty row; a placeholder token keeps positions aligned
            model.index([t if t else ["\x00"] for t in tokens], show_progress=False)
            self._model = model
        else:
            from rank_bm25 import BM25Okapi

            self._model = BM25Okapi([t if t else ["\x00"] for t in tokens], k1=self.k1, b=self.b)

    @property
    def tokens(self) -> list[list[str]] | None:
        """The tokenised texts, or None after ``load_arrays`` until the owner sets them."""
        return self._tokens

    # -- searching ----------------------------------------------------------------------------
    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text for ``query`` (zeros where no term matches)."""
        n = self._n
        if self._model is None:
            return np.zeros(n, dtype=np.float32)
        q = self.tokenizer(query)
        if self.backend == "bm25s":
            vocab = self._model.vocab_dict
            q = [t for t in q if t in vocab]
            if not q:
                return np.zeros(n, dtype=np.float32)
            return np.asarray(self._model.get_scores(q), dtype=np.float32)
        return np.asarray(self._model.get_scores(q), dtype=np.float32)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> SparseHits:
        """The ``k`` best texts with a positive score, among those where ``mask`` is True."""
        return self.search_batch([query], k, mask)[0]

    def search_batch(self, queries: Sequence[str], k: int, mask: np.ndarray | None = None) -> list[SparseHits]:
        n = self._n
        empty = SparseHits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if n == 0 or k <= 0:
            return [empty for _ in queries]
        # Scoring is a sparse sum (well under a millisecond on 100k texts); selecting the top k
        # among the few positive scores, rather than bm25s.retrieve's argpartition over every
        # text, makes a query about 6x faster (benchmarks/speed.py).
        results = []
        for q in queries:
            s = self.scores(q)
            results.append(top_k(s, k, mask, positive_only=True))
        return results

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config(), indent=2))
        if self.backend == "bm25s" and self._model is not None:
            self._model.save(str(folder), allow_pickle=False, show_progress=False)

    def load_arrays(self, folder: Path, n: int) -> None:
        """Restore a bm25s index of ``n`` texts from ``save``'s arrays (no pickle, no re-tokenising).

        ``tokens`` stays None until the owner sets them (needed only to change the index)."""
        bm25s = _bm25s()
        if self.backend != "bm25s":
            raise ConfigError("load_arrays() is for the bm25s backend; rank-bm25 is rebuilt from the texts")
        self._model = bm25s.BM25.load(str(folder), mmap=False, allow_pickle=False, show_progress=False, verbosity=0)
        num = int(getattr(self._model, "scores", {}).get("num_docs", n))
        if num != n:
            from ..errors import IndexFormatError

            raise IndexFormatError(f"{folder} holds BM25 arrays for {num} texts, but the index has {n} chunks; rebuild the index")
        self._tokens = None
        self._n = n


def top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None, *, positive_only: bool = False) -> SparseHits:
    """Indices of the ``k`` largest ``scores``, best first, restricted to ``mask``; more than ``k``
    when several tie with the k-th score (all of them are kept, ordered by position)."""
    s = np.asarray(scores, dtype=np.float32)
    keep = s > 0 if positive_only else np.isfinite(s)
    if mask is not None:
        keep &= mask
    cand = np.flatnonzero(keep)  # usually a small share of the corpus for BM25
    k = min(k, len(cand))
    if k <= 0:
        return SparseHits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    vals = s[cand]
    if k < len(cand):
        part = np.argpartition(-vals, k - 1)[:k]
        # keep every candidate tied with the k-th score, so the caller can order ties by id
        part = np.flatnonzero(vals >= vals[part].min())
    else:
        part = np.arange(len(cand))
    order = np.lexsort((cand[part], -vals[part]))
    idx = cand[part[order]]
    return SparseHits(idx.astype(np.int64), s[idx])
