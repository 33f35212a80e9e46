"""Fit the hybrid fusion weight per index from pseudo-queries drawn from the index's own chunks.

No labelled data: the pseudo-queries follow the inverse cloze task (Lee, Chang & Toutanova 2019,
"Latent Retrieval for Weakly Supervised Open Domain Question Answering"). A sentence (or line) is
taken out of a sampled chunk and becomes the query; the chunk *without* that sentence is the one
relevant answer. Both retrievers then search a copy of the corpus in which the sampled chunks are
replaced by their shortened texts (BM25 re-indexed over the copy, the shortened chunks re-embedded),
so neither can win by matching the sentence verbatim.

For each normalisation in ``fusion.NORMS`` the bm25 weight w (dense 1 - w) with the best MRR@10 on
the pseudo-queries is kept; the index then fuses with it. The cost is bounded: at most
``max_queries`` pseudo-queries (and as many shortened chunks to embed) and a corpus copy of at most
``max_corpus`` chunks.

``fit_fusion`` is a pure function of the index's contents, its embedder and ``seed``. It works on
rankings: the index ranks the corpus copy (``HybridIndex.pseudo_rankings``) and ``fit_rankings``
scores the weights on them; nothing here reads an index's internals.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from ..errors import ConfigError
from . import fusion as fusion_fns

GRID: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
QUERY_WORDS = 10  # a pseudo-query is at most this many words of its sentence
MIN_QUERIES = 20  # fewer usable pseudo-queries than this: no fit, the index keeps its weights
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class FusionFit:
    """What ``fit_fusion`` found. ``weights[norm]`` is the fitted ``{"bm25": w, "dense": 1 - w}``
    for each normalisation; ``mrr[norm][w]`` the pseudo-queries' MRR@10 at bm25 weight w (also for
    bm25 alone, "bm25", and dense alone, "dense"). ``weights`` is empty when too few chunks could
    give a pseudo-query (``reason`` says why)."""

    queries: int
    corpus: int
    seed: int
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    mrr: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    reason: str = ""

    @property
    def fitted(self) -> bool:
        return bool(self.weights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "inverse-cloze pseudo-queries",
            "queries": self.queries,
            "corpus": self.corpus,
            "seed": self.seed,
            "weights": {n: dict(w) for n, w in self.weights.items()},
            "mrr": {n: dict(m) for n, m in self.mrr.items()},
            "seconds": round(self.seconds, 2),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FusionFit":
        weights = {str(n): {"bm25": float(w["bm25"]), "dense": float(w["dense"])} for n, w in dict(d.get("weights") or {}).items()}
        for n, w in weights.items():
            if n not in fusion_fns.NORMS or not all(0 <= v <= 1 for v in w.values()):
                raise ValueError(f"fitted weights {n!r}: {w!r}")
        return cls(
            queries=int(d.get("queries", 0)),
            corpus=int(d.get("corpus", 0)),
            seed=int(d.get("seed", 0)),
            weights=weights,
            mrr={str(n): {str(k): float(v) for k, v in dict(m).items()} for n, m in dict(d.get("mrr") or {}).items()},
            seconds=float(d.get("seconds", 0.0)),
            reason=str(d.get("reason", "")),
        )


def split_out(text: str, rng: random.Random, min_words: int = 4, max_words: int = QUERY_WORDS) -> tuple[str, str] | None:
    """(query, rest): one sentence or line of ``text`` with at least ``min_words`` words, and the
    text without it (also at least ``min_words`` words); None if the text has no such split. A
    sentence longer than ``max_words`` words gives a random window of ``max_words`` of its words
    as the query (search queries are short), and is still removed whole from the text."""
    parts = [p.strip() for p in _SENT.split(text) if p and p.strip()]
    if len(parts) < 2:
        return None
    good = [i for i, p in enumerate(parts) if len(_WORD.findall(p)) >= min_words]
    rng.shuffle(good)
    for i in good:
        rest = " ".join(parts[:i] + parts[i + 1 :])
        if len(_WORD.findall(rest)) >= min_words:
            words = parts[i].split()
            if len(words) > max_words:
                start = rng.randrange(len(words) - max_words + 1)
                words = words[start : start + max_words]
            return " ".join(words), rest
    return None


def _mrr10(ranked: Sequence[Any], target: Any) -> float:
    for r, (key, _) in enumerate(ranked[:10], start=1):
        if key == target:
            return 1.0 / r
    return 0.0


@dataclass(frozen=True)
class PseudoQueries:
    """Pseudo-queries drawn from an index's chunk texts. ``queries[i]`` is a sentence taken out of
    the chunk at position ``rows[i]``; ``rows`` are the chunk positions of the corpus copy (the
    picked ones first) and ``texts`` their texts in the copy (a picked chunk without its sentence),
    so query i's one relevant row of the copy is row i."""

    queries: tuple[str, ...]
    rows: tuple[int, ...]
    texts: tuple[str, ...]


class RankingSource(Protocol):
    """What ``fit_fusion`` needs of an index: its chunks, and each retriever's ranking of the
    corpus copy for the pseudo-queries (``{row: score}`` per query, best first)."""

    @property
    def chunks(self) -> Sequence[Any]: ...

    def pseudo_rankings(self, draw: PseudoQueries) -> tuple[list[dict[int, float]], list[dict[int, float]]]: ...


def draw_pseudo_queries(texts: Sequence[str], *, max_queries: int, max_corpus: int, seed: int) -> PseudoQueries:
    """At most ``max_queries`` pseudo-queries from ``texts`` (a chunk's text each) and a corpus
    copy of at most ``max_corpus`` rows (see the module docstring): a pure function of its inputs."""
    rng = random.Random(seed)
    n = len(texts)
    order = list(range(n))
    rng.shuffle(order)
    picked: list[tuple[int, str, str]] = []  # (position, query, shortened text)
    for pos in order:
        if len(picked) >= max_queries:
            break
        split = split_out(texts[pos], rng)
        if split is not None:
            picked.append((pos, split[0], split[1]))
    # The corpus copy: every picked chunk (shortened) plus other chunks, up to max_corpus.
    picked_pos = {p for p, _, _ in picked}
    others = [p for p in order if p not in picked_pos][: max(0, max_corpus - len(picked))]
    rows = [p for p, _, _ in picked] + others
    short = {p: rest for p, _, rest in picked}
    return PseudoQueries(tuple(q for _, q, _ in picked), tuple(rows), tuple(short.get(p, texts[p]) for p in rows))


def fit_rankings(bm25: Sequence[Mapping[int, float]], dense: Sequence[Mapping[int, float]],
                 grid: Sequence[float] = GRID) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """(weights, mrr) from each retriever's ranking per pseudo-query, query i's relevant row being
    i: for each normalisation, the bm25 weight of the best MRR@10 (see ``FusionFit``)."""
    mrr: dict[str, dict[str, float]] = {norm: {} for norm in fusion_fns.NORMS}
    totals = {norm: {w: 0.0 for w in grid} for norm in fusion_fns.NORMS}
    single = {"bm25": 0.0, "dense": 0.0}
    for i, (bm, dn) in enumerate(zip(bm25, dense)):
        single["bm25"] += _mrr10(list(bm.items()), i)
        single["dense"] += _mrr10(list(dn.items()), i)
        for norm in fusion_fns.NORMS:
            for w in grid:
                totals[norm][w] += _mrr10(fusion_fns.weighted([bm, dn], weights=[w, 1 - w], norm=norm), i)
    q = len(bm25)
    weights: dict[str, dict[str, float]] = {}
    for norm in fusion_fns.NORMS:
        mrr[norm] = {f"{w:g}": round(totals[norm][w] / q, 4) for w in grid}
        mrr[norm].update({name: round(v / q, 4) for name, v in single.items()})
        # best MRR; among equals the weight nearest 0.5 (the least committed)
        best = max(grid, key=lambda w: (round(totals[norm][w] / q, 6), -abs(w - 0.5)))
        weights[norm] = {"bm25": round(best, 4), "dense": round(1 - best, 4)}
    return weights, mrr


def fit_fusion(
    index: RankingSource,
    *,
    max_queries: int = 200,
    max_corpus: int = 5000,
    seed: int = 0,
    grid: Sequence[float] = GRID,
) -> FusionFit:
    """Fit the fusion weight of ``index`` (see the module docstring); the index is not changed."""
    if max_queries < 1 or max_corpus < 1:
        raise ConfigError(f"max_queries={max_queries!r}, max_corpus={max_corpus!r}: both must be >= 1")
    t0 = time.perf_counter()
    chunks = index.chunks
    n = len(chunks)
    draw = draw_pseudo_queries([c.text for c in chunks], max_queries=max_queries, max_corpus=max_corpus, seed=seed)
    if len(draw.queries) < MIN_QUERIES:
        return FusionFit(queries=len(draw.queries), corpus=n, seed=seed, seconds=time.perf_counter() - t0,
                         reason=f"only {len(draw.queries)} chunks have two sentences or lines to split; at least {MIN_QUERIES} are needed")
    bm25, dense = index.pseudo_rankings(draw)
    weights, mrr = fit_rankings(bm25, dense, grid)
    return FusionFit(queries=len(draw.queries), corpus=len(draw.rows), seed=seed, weights=weights, mrr=mrr, seconds=time.perf_counter() - t0)
