"""Lexical normalisation and coverage: pure functions over strings, no model.

A claim is reduced to *content units* after normalisation (lower case, number formats such as
``1,000`` / ``1000`` / ``one thousand`` made equal where simple, Porter stemming, stop words
dropped). Three kinds of units get exact checks because a wrong one makes a claim false even when
every other word matches: numbers (``1889``, ``3.5``), dates (month names, years) and names
(capitalised words that do not start a sentence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as into onto over under about
    above below between among through during before after since until upon within without against
    is are was were be been being am do does did doing have has had having will would shall should
    can could may might must it its it's this that these those there here which who whom whose what
    when where why how all any both each few more most other some such no nor not only own same so
    than too very s t just also he she they them his her their hers theirs him we us our ours you your
    yours i me my mine one's oneself itself himself herself themselves ourselves yourself yourselves
    again further once up down out off q a: answer question""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "n't", "without"})
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()
    )
}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000", "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5"})
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem of a lower-cased word (cached)."""
    return _stemmer().stem(word)


def normalise_number(tok: str) -> str | None:
    """A canonical string for a number token (``"1,000"`` -> ``"1000"``, ``"3.50"`` -> ``"3.5"``,
    ``"1990s"`` -> ``"1990"``, ``"21st"`` -> ``"21"``, ``"seven"`` -> ``"7"``); None if not a number."""
    t = tok.lower()
    if t in _NUMBER_WORDS:
        return _NUMBER_WORDS[t]
    m = re.fullmatch(r"(\d+(?:[.,]\d+)*)(?:st|nd|rd|th|s)?", t)
    if not m:
        return None
    core = m.group(1)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", core):
        core = core.replace(",", "")
    elif "," in core:
        core = core.replace(",", ".")
    if "." in core:
        core = core.rstrip("0").rstrip(".") or "0"
    core = core.lstrip("0") or "0"
    return core


@dataclass(frozen=True)
class Units:
    """The content units of a text, each a set of normalised strings."""

    words: frozenset[str]
    numbers: frozenset[str]
    dates: frozenset[str]
    names: frozenset[str]
    negated: bool
    n_tokens: int


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@lru_cache(maxsize=50_000)
def units(text: str) -> Units:
    """Content units of ``text`` (see the module docstring). Cached: evidence windows repeat."""
    matches = list(_TOKEN.finditer(text))
    toks = [m.group(0) for m in matches]
    words: set[str] = set()
    numbers: set[str] = set()
    dates: set[str] = set()
    names: set[str] = set()
    negated = is_negated(text)
    for i, tok in enumerate(toks):
        j = matches[i].start() - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        sentence_start = j < 0 or text[j] in ".!?:;\n\"'“("
        low = tok.lower().replace("’", "'")
        num = normalise_number(tok)
        if num is not None and tok[0].isdigit():
            numbers.add(num)
            if re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", num):
                dates.add(num)
            # "3 million" -> also the scaled value, so "3,000,000" matches
            if i + 1 < len(toks) and toks[i + 1].lower() in _SCALE:
                try:
                    numbers.add(normalise_number(str(int(float(num) * _SCALE[toks[i + 1].lower()]))) or num)
                except ValueError:
                    pass
            words.add(num)
            continue
        if low in MONTHS:
            if low != "may" or tok[0].isupper():
                dates.add(f"month{MONTHS[low]}")
                words.add(f"month{MONTHS[low]}")
                continue
        if low in _NUMBER_WORDS and low not in ("first", "second", "one"):
            numbers.add(_NUMBER_WORDS[low])
            words.add(_NUMBER_WORDS[low])
            continue
        if low in STOPWORDS:
            continue
        s = stem(low)
        words.add(s)
        if tok[0].isupper() and not sentence_start:
            names.add(s)
    return Units(frozenset(words), frozenset(numbers), frozenset(dates), frozenset(names), negated, len(toks))


# code in technical prose is not negation: `None`, `no_proxy`, NULL, "no-cache", a Python ``None``
_CODE_SPANS = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)
_CODE_WORDS = re.compile(r"\b\w+(?:[._]\w+)+\b|\b\w+\(\)|\bno-\w+|\b(?:NULL|[Nn]ull|nil)\b")
_LITERAL_NONE = re.compile(r"(?<=[^\s.!?:;\n]) +None\b|(?<=[(\[{=,]) *None\b")


def prose(text: str) -> str:
    """``text`` without its code: fenced and inline code spans, identifiers (``no_proxy``,
    ``os.environ``, ``close()``), ``NULL``/``null``/``nil``, hyphenated ``no-`` words, and
    ``None`` written mid-sentence (Python's value). What remains is read for negation."""
    text = _CODE_SPANS.sub(" ", text)
    text = _CODE_WORDS.sub(" ", text)
    return _LITERAL_NONE.sub(" ", text)


def is_negated(text: str) -> bool:
    """True when the prose of ``text`` (see ``prose``) holds a negation word or an "n't"."""
    for tok in _TOKEN.findall(prose(text)):
        low = tok.lower().replace("’", "'")
        if low in NEGATIONS or low.endswith("n't"):
            return True
    return False


def local_negation(text: str, focus: Units) -> bool:
    """Negation in the clauses of ``text`` that hold the focus's words (an answer's own clause):
    "(Default 100)" is not negated by "or `None` for no limits" in the clause before it. Clauses
    end at . ; : , ( ) and line breaks; with no clause holding a focus word, the whole text."""
    clauses = [c for c in re.split(r"[.;:,()\n]+", prose(text)) if c.strip()]
    hits = [c for c in clauses if focus.words & units(c).words]
    if not hits:
        return is_negated(text)
    return any(is_negated(c) for c in hits)


def coverage(claim: Units, evidence: Units) -> float:
    """Share of the claim's content words found in the evidence (1.0 for a claim with none)."""
    if not claim.words:
        return 1.0
    return len(claim.words & evidence.words) / len(claim.words)


@lru_cache(maxsize=50_000)
def bigrams(text: str) -> frozenset[tuple[str, str]]:
    ws = [stem(t.lower()) for t in tokens(text) if t.lower() not in STOPWORDS]
    return frozenset(zip(ws, ws[1:]))


def missing(claim_units: Iterable[str], evidence_units: Iterable[Units], attr: str) -> list[str]:
    """Units of kind ``attr`` (numbers/dates/names) in the claim that occur in no evidence."""
    seen: set[str] = set()
    for ev in evidence_units:
        seen |= getattr(ev, attr)
        seen |= ev.words if attr == "names" else set()
    return sorted(u for u in claim_units if u not in seen)


def word_overlap(claim: str, evidence: Sequence[str] | str) -> float:
    """The word-overlap baseline: share of the claim's content words found anywhere in the evidence."""
    ev = [evidence] if isinstance(evidence, str) else list(evidence)
    cu = units(claim)
    if not cu.words:
        return 1.0
    seen: set[str] = set()
    for e in ev:
        seen |= units(e).words
    return len(cu.words & seen) / len(cu.words)
