"""What the generator reads: each passage whole (``chunks``) or the sentences around its best match
to the question (``windows``).

Reading the prompt is most of a small generator's time on a CPU (answers are a few tokens), and a
passage's answer sits, nearly always, in or beside the sentence that shares the most rare words with
the question. :func:`question_window` picks that sentence (a line of a list, table or code block
counts as a sentence), widens it with its neighbours while the per-passage word budget allows, and
returns its character span, so the window is an exact substring of the passage: an answer grounded
in a window is grounded at ``window.start + offset`` in the passage, and the guard still checks
claims against the whole passages. Pure functions, no torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from ..errors import ConfigError
from ..text import sentence_spans
from ..text import cited_numbers as parse_citations
from ..text import remove_citations as strip_citations

CONTEXTS = ("windows", "chunks")
"""``windows``: the sentences around each passage's best match to the question (the default);
``chunks``: every passage whole."""

DEFAULT_WINDOW_WORDS = 40
"""Words per passage in a window prompt: four passages and the instruction stay near 300 tokens."""

WINDOW_SPLITS = ("even", "rank")
"""How the window budget (``window_words`` times the passages shown) is shared: ``even``, the same
words for each passage; ``rank``, a share that falls with the passage's retrieval rank as 1/rank
(four passages of 40: 77, 38, 26 and 19 words), since the best-ranked passage holds the answer most
often and its answer sentence is often not the one sharing the most words with the question."""

_WORD = re.compile(r"[^\W_]+(?:[._'’-][^\W_]+)*|_\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be been being but by can could did do does doing for from had has have how i if in into is it "
    "its itself me my no not of on or our should so than that the their them then there these they this those to "
    "under up was we were what when where which while who whom why will with would you your about after again all "
    "also any because before between both each few more most other over same some such through too very".split()
)


@dataclass(frozen=True)
class Window:
    """``text`` is ``passage[start:end]``: what the generator reads of one passage."""

    text: str
    start: int
    end: int


def check_context(context: str) -> str:
    if context not in CONTEXTS:
        raise ConfigError(f"context={context!r} is not valid; use 'windows' (the sentences around each passage's best "
                          f"match to the question, the default) or 'chunks' (whole passages)")
    return context


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        import Stemmer  # PyStemmer, a dependency of bm25s

        return Stemmer.Stemmer("english")
    except ImportError:  # plural s only
        return None


def check_window_words(window_words: int) -> int:
    if isinstance(window_words, bool) or not isinstance(window_words, int) or window_words < 1:
        raise ConfigError(f"window_words={window_words!r} is not valid; give the words of each passage to show (e.g. {DEFAULT_WINDOW_WORDS})")
    return window_words


def check_window_split(window_split: str, auto: bool = False) -> str:
    """``window_split`` if it is one of :data:`WINDOW_SPLITS` (or ``"auto"``, the generators' card
    lookup, where ``auto``), else a ConfigError that names them."""
    if window_split not in WINDOW_SPLITS and not (auto and window_split == "auto"):
        raise ConfigError(f"window_split={window_split!r} is not valid; use 'even' (the same words for each passage), "
                          f"'rank' (a share of the budget that falls with the passage's rank)"
                          + (" or 'auto' (the generator card's, else even)" if auto else ""))
    return window_split


def window_budgets(n: int, max_words: int, split: str = "even") -> list[int]:
    """The words shown of each of ``n`` passages: ``max_words`` each (``even``), or the same total
    shared as 1/rank (``rank``), each at least one word."""
    check_window_split(split)
    if split == "even" or n <= 1:
        return [max_words] * n
    shares = [1.0 / (i + 1) for i in range(n)]
    total = sum(shares)
    return [max(1, round(max_words * n * x / total)) for x in shares]


def _terms(text: str) -> list[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP and (len(w) > 1 or w.isdigit())]
    stem = _stemmer()
    if stem is not None:
        return list(stem.stemWords(words))
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def _units(text: str) -> list[tuple[int, int]]:
    """Sentence spans, with every line of a multi-line sentence (list items, table rows, code lines)
    a unit of its own; a heading or other short line that ends without punctuation joins the unit
    after it, since it names what follows."""
    lines: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        pos = s
        for line in text[s:e].split("\n"):
            a, b = pos, pos + len(line)
            pos = b + 1
            stripped = line.strip()
            if stripped:
                lead = len(line) - len(line.lstrip())
                lines.append((a + lead, a + lead + len(stripped)))
    out: list[tuple[int, int]] = []
    carry: int | None = None
    for a, b in lines:
        if carry is not None:
            a, carry = carry, None
        piece = text[a:b]
        if len(piece.split()) <= 8 and not piece.rstrip("*_`)]").endswith((".", "?", "!", ":", ";")):
            carry = a
            continue
        out.append((a, b))
    if carry is not None:
        if out and not lines[-1][0] > out[-1][1]:
            out[-1] = (out[-1][0], lines[-1][1])
        else:
            out.append((carry, lines[-1][1]))
    return out


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]


def question_windows(question: str, passages: Sequence[str], max_words: int = DEFAULT_WINDOW_WORDS,
                     split: str = "even") -> list[Window]:
    """One window per passage: the unit sharing the most question terms (stemmed, each weighted by
    its rarity over the units of that passage), widened by the following and preceding units while
    the window stays within the passage's budget (:func:`window_budgets`: ``max_words`` words with
    ``split="even"``). A passage within its budget is kept whole; a unit longer than the budget is
    cut to the budget around its matched terms."""
    if max_words < 1:
        raise ConfigError(f"window words={max_words!r} must be >= 1")
    q = set(_terms(question))
    out = []
    for p, budget in zip(passages, window_budgets(len(passages), max_words, split)):
        us = _units(p)
        if len(_words(p, 0, len(p))) <= budget or not us:
            out.append(Window(p, 0, len(p)))
            continue
        ts = [set(_terms(p[s:e])) for s, e in us]
        df: dict[str, int] = {}
        for t in ts:
            for w in t & q:
                df[w] = df.get(w, 0) + 1
        # a word in every sentence (the passage's topic) says little about where the answer is
        idf = {w: math.log(1.0 + len(us) / n) for w, n in df.items()}
        scores = [sum(idf.get(w, 0.0) for w in t & q) for t in ts]
        best = max(range(len(us)), key=lambda i: (scores[i], -i))
        out.append(_widen(p, us, best, q, budget))
    return out


def _widen(p: str, us: list[tuple[int, int]], best: int, q: set[str], max_words: int) -> Window:
    sizes = [len(_words(p, s, e)) for s, e in us]
    if sizes[best] >= max_words:
        return _cut(p, us[best], q, max_words)
    lo = hi = best
    total = sizes[best]
    grew = True
    while grew:
        grew = False
        for side in (1, -1):  # the next unit first: an answer tends to follow what the question names
            j = hi + 1 if side == 1 else lo - 1
            if 0 <= j < len(us) and total + sizes[j] <= max_words:
                total += sizes[j]
                hi, lo = (j, lo) if side == 1 else (hi, j)
                grew = True
    start, end = us[lo][0], us[hi][1]
    return Window(p[start:end], start, end)


def _cut(p: str, unit: tuple[int, int], q: set[str], max_words: int) -> Window:
    words = _words(p, *unit)
    hits = [i for i, (a, b) in enumerate(words) if set(_terms(p[a:b])) & q]
    centre = hits[len(hits) // 2] if hits else 0
    lo = max(0, min(centre - max_words // 2, len(words) - max_words))
    hi = min(len(words), lo + max_words)
    start, end = words[lo][0], words[hi - 1][1]
    return Window(p[start:end], start, end)


def passage_windows(question: str, texts: Sequence[str], context: str, max_words: int, split: str = "even") -> list[Window]:
    """What a generator reads of each passage text under ``context`` (``windows`` or ``chunks``)."""
    if context == "chunks":
        return [Window(t, 0, len(t)) for t in texts]
    return question_windows(question, texts, max_words, split)


def ground_in_windows(text: str, shown: Sequence[Window]) -> tuple[str, Any]:
    """``text`` with its answer replaced by the span of what the model read that it stands for,
    and the :class:`~groundqa.generate.grounding.Snap`, its offsets in the whole passage."""
    import dataclasses

    from .grounding import snap_answer

    cited = parse_citations(text, len(shown))
    snap = snap_answer(strip_citations(text), [w.text for w in shown], cited)
    if not snap.snapped:
        return text, snap
    at = shown[snap.passage - 1].start
    snap = dataclasses.replace(snap, start=snap.start + at, end=snap.end + at)
    return f"{snap.text} [{snap.passage}]", snap
