"""Span grounding: a short answer is replaced by the passage text it stands for.

A small generator copies a span from a passage but not always letter for letter ("Hiroshima
Prefect" for "Hiroshima Prefecture", "the Broncos" for "Denver Broncos"), or invents words that are
in no passage. :func:`snap_answer` finds the passage span that matches the answer best (exactly,
ignoring case, whitespace and punctuation at the edges, where it can; else the word window with the
highest token F1, the SQuAD measure) and returns its exact text and character offsets, so the
answer shown is a substring of a passage and its citation points at the characters it rests on.
The span never cuts Markdown apart (:func:`whole_span`): a code span is kept whole, brackets are
balanced, and emphasis marks at its edges are left out.
Answers that match no span well enough (long free-form answers, yes/no) are left as generated and
marked unsnapped. Pure functions, no torch.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from ..markdown import ROLE, ROLE_TARGET

_WORD = re.compile(r"\w+(?:[.,'’-]\w+)*", re.UNICODE)
_EDGE = " \t\n\"'“”‘’.,;:!?()[]{}"
_ARTICLES = frozenset({"a", "an", "the"})  # ignored when comparing words, as SQuAD's F1 does


@dataclass(frozen=True)
class Snap:
    """Where an answer lies in the passages.

    ``text`` is the passage's own text for the answer (``passages[passage - 1][start:end]``, or
    the generated answer when ``snapped`` is False); ``passage`` the 1-based passage number (0 when
    unsnapped); ``score`` the token F1 between the generated answer and the span (1.0 for an exact
    match); ``exact`` whether the generated answer occurs verbatim (case aside).
    """

    text: str
    passage: int
    start: int
    end: int
    score: float
    exact: bool
    snapped: bool

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _norm_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in _ARTICLES]


def _f1(a: Sequence[str], b: Sequence[str]) -> float:
    if not a or not b:
        return 0.0
    common = sum((Counter(a) & Counter(b)).values())
    if common == 0:
        return 0.0
    p, r = common / len(b), common / len(a)
    return 2 * p * r / (p + r)


def _complete(answer_words: list[str], passage_words: list[str]) -> list[str]:
    """Answer words cut short by the generator ("prefect") completed to the passage word they
    begin ("prefecture"), where that word is unique; words of 4+ letters only."""
    vocab = set(passage_words)
    out = []
    for w in answer_words:
        if w not in vocab and len(w) >= 4:
            longer = {v for v in vocab if v.startswith(w)}
            if len(longer) == 1:
                w = longer.pop()
        out.append(w)
    return out


def _find_exact(answer: str, text: str) -> tuple[int, int] | None:
    """The first place ``answer`` occurs in ``text`` ignoring case and runs of whitespace, at word
    edges (so "in" is not found inside "within")."""
    words = answer.split()
    if not words:
        return None
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    m = re.search(pattern, text, flags=re.IGNORECASE)
    return (m.start(), m.end()) if m else None


_CODE_SPAN = re.compile(r"(`+)([^`\n]+?)\1")
_PAIRS = {"[": "]", "(": ")", "{": "}"}
_PLACEHOLDER = re.compile(r"<[A-Za-z_][^<>\n`]{0,40}>")  # <path to file>, <name>: a placeholder, not a comparison
_MARKS = ("**", "__", "*", "_", "~~")
# a Sphinx role right before a code span ({func}`...`, :func:`...`: Markdown that Sphinx renders, as
# attrs' and structlog's docs are), and a label's link target at the span's end ({ref}`label <target>`)
_ROLE_BEFORE = re.compile(ROLE + "$")
_ROLE_TARGET = re.compile(ROLE_TARGET + "$")


def whole_span(text: str, s: int, e: int, *, max_code: int = 80) -> tuple[int, int]:
    """``text[s:e]`` widened or trimmed so that it does not cut Markdown apart: a code span it cuts
    into is taken whole, up to ``max_code`` characters (its text alone when the span lies inside it;
    with its backticks, and the Sphinx role before it, when the span reaches past it, so that no
    backtick is left without its pair and answer cleaning reads it as the page shows it), an
    opening bracket it holds gets its closing one where that follows directly (``httpx[http2`` ->
    ``httpx[http2]``) and is cut off where it does not (``3.9+ [sync-sup`` -> ``3.9+``), a
    placeholder's ``<`` gets its ``>`` (``plugins=<path to file`` -> ``plugins=<path to file>``), and
    emphasis marks and spaces at its edges are dropped (``8000**`` -> ``8000``). In a Sphinx role's
    code span (``{class}`~pkg.Name``` in MyST Markdown, ``:class:`~pkg.Name``` in reStructuredText
    source) the role's ``~`` or ``!`` prefix and an explicit link target (``label <target>``) are not
    part of the answer: ``pkg.Name``, ``label``."""
    roles: list[tuple[int, int]] = []  # the code text of each role the answer is
    for m in _CODE_SPAN.finditer(text):
        i0, i1 = m.start(2), m.end(2)
        if m.end() <= s or m.start() >= e:
            continue  # outside
        if not (s <= i0 and e >= i1) and i1 - i0 > max_code:
            continue  # cut into, and too long to take whole
        s, e = min(s, i0), max(e, i1)
        role = _ROLE_BEFORE.search(text, 0, m.start())
        if s < i0 or e > i1:
            # text beyond the code's on either side: the code span whole, backticks (and role) and all, for
            # answer cleaning to read as the page shows it; never one backtick without its pair
            s, e = min(s, role.start() if role else m.start()), max(e, m.end())
        elif role:
            roles.append((i0, i1))
    for i0, i1 in roles:  # the answer is a role's code text: what the page shows of it
        if s == i0 and text[i0] in "~!":
            s = i0 + 1
        t = _ROLE_TARGET.search(text, i0, i1)
        if t and s < t.start() < e:
            e = t.start()
    for _ in range(4):  # brackets: close the ones that close right after, cut the others
        seg, changed = text[s:e], False
        for o, c in _PAIRS.items():
            depth = 0
            for k, ch in enumerate(seg):
                depth += (ch == o) - (ch == c)
                if depth < 0:  # a closer without its opener: start after it
                    s, changed = s + k + 1, True
                    break
            else:
                if depth > 0:
                    at = s + seg.rfind(o)
                    # attached to a word (httpx[http2, call(x): close it; after a space (a link
                    # label, a note) it is not part of the answer: cut it off
                    attached = at > 0 and not text[at - 1].isspace()
                    tail = re.match(r"[^\s\[\](){}]{0,30}" + re.escape(c), text[e:])
                    if tail and depth == 1 and attached:
                        e, changed = e + tail.end(), True
                    else:
                        e, changed = s + seg.rfind(o), True
            if changed:
                break
        if not changed:
            break
    seg = text[s:e]
    at = seg.rfind("<")
    if at >= 0 and ">" not in seg[at:]:
        # a placeholder's angle bracket (plugins=<path to file>): closed where its ">" follows on the same
        # line. "<" before a digit, a space or "=" is a comparison (flit_core<4, a < b, <=1.27) and stays
        placeholder = _PLACEHOLDER.match(text, s + at)
        if placeholder and placeholder.end() > e:
            e = placeholder.end()
            seg = text[s:e]
    for q, close in (('"', '"'), ("“", "”")):  # an opening quote whose closing one is not in the span
        opens = seg.count(q) if q == close else seg.count(q) - seg.count(close)
        if (opens % 2 if q == close else opens) > 0:
            at = s + seg.rfind(q)
            tail = re.match(r"[^\n" + re.escape(close) + r"]{0,60}" + re.escape(close), text[e:])
            if tail:
                e = e + tail.end()
            else:
                e = at
            seg = text[s:e]
    while s < e:  # no emphasis marks, spaces or stray punctuation at the edges
        t = text[s:e]
        st = t.lstrip(" \t\n")
        st = next((st[len(m):] for m in _MARKS if st.startswith(m) and not re.match(r"_\w", st)), st)
        en = st.rstrip(" \t\n,;:")
        en = next((en[: -len(m)] for m in _MARKS if en.endswith(m) and not re.search(r"\w_$", en)), en)
        if en == t:
            break
        s += t.find(st) if st else 0
        e = s + len(en)
    return s, max(s, e)


def snap_answer(answer: str, passages: Sequence[str], cited: Sequence[int] = (), *, min_score: float = 0.5,
                max_extra_words: int = 3) -> Snap:
    """The passage span that ``answer`` stands for (see the module docstring).

    ``cited`` (1-based passage numbers the generator cited) are searched first, so an answer that
    occurs in several passages keeps the citation the generator gave. A fuzzy match must reach
    token F1 ``min_score``; candidate windows are at most ``max_extra_words`` longer than the
    answer. Answers longer than 30 words are not snapped (they are sentences, not spans).
    """
    core = answer.strip().strip(_EDGE).strip()
    unsnapped = Snap(answer, 0, 0, 0, 0.0, False, False)
    if not core or not passages:
        return unsnapped
    order = [n for n in cited if 1 <= n <= len(passages)]
    order += [n for n in range(1, len(passages) + 1) if n not in order]
    for n in order:
        hit = _find_exact(core, passages[n - 1])
        if hit is not None:
            s, e = whole_span(passages[n - 1], *hit)
            if e > s:
                return Snap(passages[n - 1][s:e], n, s, e, 1.0, True, True)
    a_words = _norm_words(core)
    if not a_words or len(core.split()) > 30:
        return unsnapped
    best: tuple[float, int, int, int] = (0.0, 0, 0, 0)  # score, passage, start, end
    for n in order:
        text = passages[n - 1]
        toks = list(_WORD.finditer(text))
        low = [t.group(0).lower() for t in toks]
        words = _complete(a_words, low)
        wanted = set(words)
        for i, w in enumerate(low):
            if w not in wanted:  # a best window starts on a word of the answer
                continue
            for j in range(i, min(len(toks), i + len(a_words) + max_extra_words)):
                span_words = [x for x in low[i : j + 1] if x not in _ARTICLES]
                f = _f1(words, span_words)
                if f > best[0] + 1e-9:
                    best = (f, n, toks[i].start(), toks[j].end())
    score, n, s, e = best
    if score < min_score:
        return Snap(answer, 0, 0, 0, round(score, 4), False, False)
    s, e = whole_span(passages[n - 1], s, e)
    if e <= s:
        return Snap(answer, 0, 0, 0, round(score, 4), False, False)
    return Snap(passages[n - 1][s:e], n, s, e, round(score, 4), False, True)
