"""Is a short answer in the evidence *as the answer to its question*? Pure functions, no model.

A short answer ("100", "`response.num_bytes_downloaded`") is judged together with its question,
so a verifier that sees the question's words in the evidence can pass an answer that is not
there, or one that is there but answers something else. ``answer_problem`` checks five things
the calibrated signals do not, and names the one that fails:

1. ``echo``: the answer adds nothing to the question (every content word of "total" is already
   in "How do I get the total number of bytes downloaded?"). A choice question ("A or B?") may
   answer with its own words and is exempt.
2. ``absent``: no evidence sentence holds the answer: all of its numbers, and at least two thirds
   of its other new content words, in one sentence (a Markdown list item or table row counts as
   a sentence of its own).
3. ``not_code``: the question asks for a code name ("Which attribute ...", "What parameter
   ...") and the answer is none: it is not written as code, and none of its words is a code name
   in the evidence ("total" is not an attribute; ``response.num_bytes_downloaded`` is). Evidence
   without any code name is prose, where "attribute" and "method" are plain words: not checked.
   Nor is evidence that does not mark its code as Markdown does (no backtick span in any passage):
   reStructuredText and HTML as loaded, and plain text, cannot tell ``convert`` the method from
   "convert" the verb. (Issue 21, fourteenth session: on reStructuredText docs it fired on right
   answers 2 times in 12 for the default generator and 3 in 7 for the 1.5B.)
4. ``not_number``: the question asks for a number ("How many ...", "How old ...", "What year
   ...", "Which status code / port / percentage / timeout ...") and the answer has none: no digit
   and no number word ("three", "a dozen", "half", "unlimited"). "MethodNotAllowed" is not a status
   code; "multiple" is not how many. A code noun before the number word is what the question asks
   for: "Which constant maps status codes ...?" wants a name (fifteenth session: it had capped the
   right ``HTTP_STATUS_CODES``, the one such question among the stored answers). (On the gold
   answers of 519 such SQuAD questions it fires on 4, 0.8%; on the documentation questions' gold
   answers, never: issue 21.)
5. ``unlinked``: the sentences that hold the answer are not about the question. Where the
   question names code (``max_connections``, ``request.url``, ``TestClient``, anything in
   backticks), a sentence holding the answer must name one of those identifiers too, itself or
   (for prose, not list items) in the two sentences before it or the one after it in its
   paragraph, or in the section heading above it (in code or in words: "Command Short Help" for
   ``short_help``) or the sentence that opens that section, unless the sentence names a sibling of
   the asked name: "(Default 20)" in the ``max_keepalive_connections`` item is not the default of
   ``max_connections``. A product's name is not code ("PyMdown Extensions": a capitalised name
   followed by another capitalised word). Otherwise it (or those sentences) must share at least one content word
   with the question, besides the words every question uses ("what", "default", "use", ...). A
   passage cut from inside its document (``cut``) is not judged by what it does not show: its
   first sentences, and sentences above its own first heading, are linked unless they name a
   sibling.

Code names are atoms (``code_atoms``: ``ENV_VARS``, ``dotted.names``, ``pkg[extra]``,
``--flags``, ``func()``): an answer that is one is new even when it shares a word with the
question, and it is found in the evidence only whole. An answer made of the question's words is
still an answer when it is a name of several words the question never writes as one phrase, or a
literal the evidence quotes that the question uses as a plain word (issue 21, measured on the
calibration answers: no reason fires on right answers more than 1 time in 10).

Each check returns a reason a person can read; the guard caps the claim's probability below its
threshold with that reason (``Guard(answer_checks=True)``), so the calibrated combiner is
unchanged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Sequence

from .lexical import units

# a list item or a table row starts a piece of its own inside a sentence window
_ITEM_START = re.compile(r"\n(?=[ \t]*(?:[*+-]|\d+[.)]|\|)[ \t])")
_ITEM = re.compile(r"^[ \t]*(?:[*+-]|\d+[.)]|\|)[ \t]")
_BACKTICKED = re.compile(r"`+([^`\n]+?)`+")
_WORDLIKE = re.compile(r"[A-Za-z_][\w.]*\w|[A-Za-z_]")
# words a question uses to ask, which say nothing about what it asks
_ASKING = frozenset("what which who whom whose when where why how default value use used using name named call called".split())


@dataclass(frozen=True)
class AnswerProblem:
    """Why a short answer is not grounded as the answer to its question: ``kind`` is one of
    ``echo``, ``absent``, ``not_number``, ``not_code``, ``unlinked``; ``reason`` says it in words."""

    kind: str
    reason: str


# the nouns a question asks for code by ("Which attribute ...?")
_CODE_NOUNS = ("attribute", "method", "function", "parameter", "argument", "class", "property", "keyword", "exception",
               "module", "variable", "decorator", "field", "kwarg")
_CODE_QUESTION = re.compile(
    # an HTTP or request method (GET, HEAD) is a word of the protocol, not a method of the code
    r"\b(?:which|what)\s+(?:\w+\s+){0,2}?("
    + "|".join(r"(?<!http\s)(?<!request\s)method" if n == "method" else n for n in _CODE_NOUNS) + r")s?\b",
    re.I,
)


# a question that asks for a number, and what an answer to it holds: a digit or a number word
_NUMBER_QUESTION = re.compile(
    r"\bhow (many|old)\b|\b(?:what|which)\s+((?:\w+\s+){0,2}?)(year|status code|port|percentage|timeout)s?\b", re.I)
# a code noun before the number word is what the question asks for: "Which constant maps status codes ...?"
_CODE_HEAD = re.compile(r"\b(?:" + "|".join(_CODE_NOUNS + ("constant", "setting", "option")) + r")s?\b", re.I)
_NUMBER_IN_ANSWER = re.compile(
    r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|"
    r"billions?|trillions?|dozens?|half|single|once|twice|thrice|no|none|several|few|many|all|third|quarter|unlimited|"
    r"infinite|unmanned|decades?|centuries|century|years?|months?|weeks?|days?|hours?|minutes?|seconds?)\b", re.I)


def asks_number(question: str, answer: str) -> str | None:
    """What number ``question`` asks for ("many", "status code", ...) when ``answer`` holds none;
    None when it asks for none or the answer has one."""
    m = _NUMBER_QUESTION.search(question)
    if not m or _NUMBER_IN_ANSWER.search(answer) or _CODE_HEAD.search(m.group(2) or ""):
        return None
    return (m.group(1) or m.group(3)).lower()


def identifiers(text: str) -> list[str]:
    """Code names in ``text``, lower-cased: anything in backticks, and words written as code
    (``snake_case``, ``dotted.names``, ``call()``, ``CamelCase``). ``"e.g."`` is not one."""
    out: list[str] = []
    for m in _BACKTICKED.finditer(text):
        for w in _WORDLIKE.findall(m.group(1)):
            if len(w) > 1:
                out.append(w.lower())
    out.extend(code_words(_BACKTICKED.sub(" ", text)))
    return list(dict.fromkeys(out))


def code_words(text: str) -> list[str]:
    """Words of ``text`` written as code whether in backticks or not (``snake_case``,
    ``dotted.names``, ``call()``, ``CamelCase``, the name of a keyword argument ``name=value``),
    lower-cased; plain words in backticks are not."""
    # a keyword argument as written in a call: ``abort=True``, ``text=False`` name ``abort``, ``text``
    out = [m.group(1).lower() for m in re.finditer(r"(?<![\w.=-])([A-Za-z_]\w*)=(?=[\w\"'\[({-])", text)]
    for w in re.findall(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*(?:\(\))?", text):
        core = w[:-2] if w.endswith("()") else w
        parts = core.split(".")
        if (
            "_" in core.strip("_")
            or w.endswith("()")
            or (len(parts) > 1 and all(len(p) > 1 for p in parts))
            or (any(c.isupper() for c in core[1:]) and any(c.islower() for c in core))
        ):
            out.append(core.lower())
    return out


# a code name is one unit, never split into words: `ENV_VARS`, dotted.names, pkg[extra], --flags,
# -x, func(), snake_case, CamelCase with an inner capital (and anything in backticks)
_ATOM = re.compile(
    r"`[^`\n]+`"
    r"|(?<![\w-])--?[A-Za-z][\w-]*"
    r"|[A-Za-z_][\w-]*\[[\w,.-]+\]"
    r"|[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+(?:\(\))?"
    r"|[A-Za-z_]\w*\(\)"
    r"|\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b"
    r"|\b[A-Z]?[a-z]+(?:[A-Z][a-z0-9]*)+\b"
)


def code_atoms(text: str) -> list[str]:
    """The code names of ``text`` as whole units, lower-cased, without backticks: ``ENV_VARS``,
    ``dotted.names``, ``pkg[extra]``, ``--flags``, ``func()``, ``snake_case``, ``CamelCase`` and
    anything in backticks. A dotted name that is only an abbreviation (``e.g.``) is not one."""
    out = []
    for m in _ATOM.finditer(text):
        a = m.group(0).strip("`").strip().lower()
        if not a or re.fullmatch(r"(?:[a-z]\.)+[a-z]?", a):
            continue
        out.append(a)
    return list(dict.fromkeys(out))


def _atom_in(atom: str, text_low: str) -> bool:
    """``atom`` written in ``text_low`` as a whole unit (not inside a longer name)."""
    core = atom[:-2] if atom.endswith("()") else atom
    return re.search(rf"(?<![\w-]){re.escape(core)}(?![\w-]|\.\w)", text_low) is not None


def _names(ident: str, text_low: str) -> bool:
    """True when ``text_low`` names ``ident`` as a whole identifier (``max_connections`` is not
    found in ``max_keepalive_connections``); a dotted name also matches by its last part."""
    cands = [ident]
    if "." in ident and len(ident.rsplit(".", 1)[1]) >= 4:
        cands.append(ident.rsplit(".", 1)[1])
    return any(re.search(rf"(?<![\w]){re.escape(c)}(?![\w])", text_low) for c in cands)


def _heading_names(ident: str, heading_low: str) -> bool:
    """True when a heading names ``ident``, as code or in words: ``short_help`` under "Command
    Short Help" (a title writes an option's words, not its code)."""
    if _names(ident, heading_low):
        return True
    parts = [x for x in re.split(r"[_-]+", ident.rsplit(".", 1)[-1]) if x]
    return len(parts) > 1 and all(len(x) > 1 for x in parts) and re.search(
        r"(?<![\w])" + r"[\s_-]+".join(map(re.escape, parts)) + r"(?![\w])", heading_low) is not None


_HEADING_LINE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")


@dataclass(frozen=True)
class Piece:
    """A sentence, list item or table row of an evidence text; ``context`` is what may name the
    question's subject for it (an item: itself; a prose sentence: itself and the two sentences
    before it and the one after it in its section, since Punkt cuts "*i.e.*" and "e.g." into
    sentences of their own and a quote may follow the name it belongs to);
    ``heading`` the Markdown heading above it and the document's title; ``opener`` the sentence
    that opens its section, when the text shows it: like a heading, it says what the section is
    about ("## Range Options / The IntRange type extends ..." over "min_open and max_open ...")."""

    text: str
    item: bool
    context: str
    heading: str
    first: bool = False  # one of the first two sentences of its text: its context reaches back past the text's start
    headed: bool = False  # a Markdown heading of the text itself is above it (its section is known)
    opener: str = ""


def pieces(text: str, title: str = "") -> list[Piece]:
    """The pieces of an evidence text in order: each list item or table row whole (with the
    sentences Punkt cut it into), and the sentences of the prose between them."""
    from ..text import split_sentences

    out: list[Piece] = []
    heading, prev, opener = "", [], ""
    for part in _ITEM_START.split(text):
        if not part.strip():
            continue
        head = " \n".join(x for x in (heading, title) if x)
        if _ITEM.match(part):
            out.append(Piece(part, True, part, head, False, bool(heading), opener))
            prev = []
            continue
        for sent in split_sentences(part) or [part]:
            h = _HEADING_LINE.match(sent.split("\n", 1)[0])
            if h:
                heading = h.group(1).strip()
                head = " \n".join(x for x in (heading, title) if x)
                opener = sent.split("\n", 1)[1].strip() if "\n" in sent else ""
            elif heading and not opener:
                opener = sent
            out.append(Piece(sent, False, "\n".join(prev + [sent]), head, len(out) < 2 and not heading and not h, bool(heading), opener))
            prev = [] if h else (prev + [sent])[-2:]
    # and the sentence after it ("Luther said ... [next:] 'Here I stand'"), within its section
    at, ends = 0, []
    for pc in out:  # where each piece ends in the text, to keep paragraphs apart
        k = text.find(pc.text, at)
        at = k + len(pc.text) if k >= 0 else at
        ends.append((k, at))
    for i in range(len(out) - 1):
        here, nxt = out[i], out[i + 1]
        gap = text[ends[i][1] : ends[i + 1][0]] if ends[i][0] >= 0 and ends[i + 1][0] >= 0 else "\n\n"
        if (not here.item and not nxt.item and here.heading == nxt.heading and "\n\n" not in gap
                and not _HEADING_LINE.match(nxt.text.split("\n", 1)[0])):
            out[i] = replace(here, context=f"{here.context}\n{nxt.text}")
    return out


def answer_problem(question: str, answer: str, evidence: Sequence[str], titles: Sequence[str] | None = None,
                   cut: Sequence[bool] | None = None) -> AnswerProblem | None:
    """The first check (see the module docstring) that ``answer`` fails for ``question`` over the
    evidence texts (the passages the answer was generated from), or None when it passes them all.
    ``titles[i]``, when given, is the title of the document of ``evidence[i]``; with the Markdown
    headings inside the passages it is what a section is about ("### FileResponse"). ``cut[i]``,
    when given, says ``evidence[i]`` starts inside its document (a chunk after the first): a
    sentence that opens it is not judged unlinked, since what came before it is not shown."""
    a = units(answer)
    if not a.words:
        return None  # nothing to look for ("-", "..."); the calibrated signals decide
    q = units(question)
    shown = " ".join(answer.split())
    # code names are units of their own: `HTTPX_LOG_LEVEL` shares the word "level" with "Which
    # variable sets the log level?" and is still new; its words neither echo nor link the question
    atoms = code_atoms(answer)
    q_low = question.lower().replace("`", "")
    new_atoms = [t for t in atoms if not _atom_in(t, q_low)]
    if atoms:
        a = units(_ATOM.sub(" ", answer))
    new = a.words - q.words
    if not new and not new_atoms:
        if re.search(r"\bor\b", question, flags=re.I):
            return None  # "A or B?": answering with the question's own words is the point
        if not _named_answer(answer, question, evidence):
            return AnswerProblem("echo", f"the answer '{shown}' only repeats words of the question; the evidence does not give it as the answer")
        new = a.words  # a name the question only uses in passing: it must still be in the evidence
    numbers = a.numbers
    others = new - numbers
    need = math.ceil(2 * len(others) / 3)
    holding: list[Piece] = []
    seen: set[tuple[str, str]] = set()
    for i, text in enumerate(evidence):
        title = titles[i] if titles is not None and i < len(titles) else ""
        if (text, title) in seen:
            continue
        seen.add((text, title))
        opened = bool(cut is not None and i < len(cut) and cut[i])  # the text starts inside its document
        for pc in pieces(text, title):
            if pc.first and not opened:
                pc = replace(pc, first=False)
            if not opened and not pc.headed:
                pc = replace(pc, headed=True)  # a whole text: its title is its section
            u = units(pc.text)
            low = pc.text.lower().replace("`", "")
            if numbers <= u.numbers and len(others & u.words) >= need and all(_atom_in(t, low) for t in new_atoms):
                holding.append(pc)
    if not holding:
        return AnswerProblem("absent", f"the answer '{shown}' appears in no evidence sentence")
    number = asks_number(question, answer)
    if number:
        what = f"how {number}" if number in ("many", "old") else _a(number)
        return AnswerProblem("not_number", f"the question asks for a number ({what}), but the answer '{shown}' has none")
    asks_code = _CODE_QUESTION.search(question)
    if asks_code and not identifiers(answer) and any(_BACKTICKED.search(e) for e in evidence):
        code_parts = {part for e in evidence for i in identifiers(e) for part in re.split(r"[._]", i) + [i]}
        # evidence with no code name at all is prose: "What attribute of humans ...?" asks for a word
        if code_parts and not any(t.lower() in code_parts for t in re.findall(r"\w+", answer)):
            return AnswerProblem("not_code", f"the question asks for {_a(asks_code.group(1).lower())}, but the answer '{shown}' is not a code name in the evidence")
    if any(pc.first for pc in holding):
        return None  # it opens the passage: what came before it (which may name the subject) is not shown
    idents = [i for i in identifiers(question) if not _names(i, answer.lower())]
    # a capitalised name followed by another capitalised word names a product ("PyMdown Extensions",
    # "GitHub Actions"), not code whose section the answer must sit in
    products = {m.group(1).lower() for m in re.finditer(r"\b([A-Z][a-z]*[A-Z]\w*)\s+[A-Z][a-z]", question)}
    idents = [i for i in idents if i not in products]
    if idents:
        for pc in holding:
            if any(_names(i, pc.context.lower()) for i in idents):
                return None
            # a section heading names what its section holds: "### FileResponse" over "... a
            # `416 Range Not Satisfiable` response". Unless the sentence names a sibling of the
            # asked name instead ("(Default 20)" in the `max_keepalive_connections` item under a
            # heading that names `max_connections` is not the latter's default)
            named_here = [w for w in code_words(pc.context) if not _names(w, answer.lower())]
            sibling = any(_sibling(w, i) for w in named_here for i in idents)
            if pc.heading and any(_heading_names(i, pc.heading.lower()) for i in idents) and not sibling:
                return None
            # the sentence that opens the section says what it is about, as its heading does
            if pc.opener and any(_names(i, pc.opener.lower()) for i in idents) and not sibling:
                return None
            # a passage cut from inside its document, above its own first heading: the section
            # heading that may name the subject is not shown; only a sibling name says it is about
            # something else
            if not pc.headed and not sibling:
                return None
        named = ", ".join(f"'{i}'" for i in idents)
        return AnswerProblem("unlinked", f"the answer '{shown}' appears in the evidence, but not where it names {named}, which the question asks about")
    asked = {w for w in q.words - a.words if w not in _ASKING}
    if not asked:
        return None
    for pc in holding:
        if asked & units(pc.context + "\n" + pc.heading).words:
            return None
    return AnswerProblem("unlinked", f"the answer '{shown}' appears in the evidence only in sentences that share no word with the question")


def _norm_phrase(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _named_answer(answer: str, question: str, evidence: Sequence[str]) -> bool:
    """An answer made of the question's words that is still an answer, not an echo: a name of
    several words the question never writes as one phrase ("ABC Entertainment Group" for a
    question about "... ABC Entertainment, what ..."), or a literal the evidence writes in
    backticks or quotes that the question uses only as a plain word (`path`, "Aborted!")."""
    phrase = _norm_phrase(answer)
    if not phrase:
        return False
    if len(phrase.split()) > 1 and f" {phrase} " not in f" {_norm_phrase(question)} ":
        return True
    if phrase in {_norm_phrase(i) for i in identifiers(question)}:
        return False  # the question itself names it as code (`TestClient`): giving it back is an echo
    for e in evidence:
        for m in re.finditer(r"`+([^`\n]+)`+|\"([^\"\n]{1,60})\"|“([^”\n]{1,60})”", e):
            lit = _norm_phrase(next(g for g in m.groups() if g))
            if lit == phrase or lit.startswith(phrase + " ") or (lit.startswith(phrase) and len(lit) - len(phrase) <= 1):
                return True
    return _capitalised_literal(answer, question, evidence)


def _capitalised_literal(answer: str, question: str, evidence: Sequence[str]) -> bool:
    """A one-word answer that the question uses only as a lower-case word and the evidence writes
    capitalised inside a sentence: a literal or a name there (reStructuredText loses the quotes of
    ``Aborted!``, leaving "print the string Aborted! to standard error" for "What text does Click
    print when a program is aborted?")."""
    word = answer.strip().strip(".!?,;:")
    if not re.fullmatch(r"[A-Z][a-z]+", word) or not re.search(rf"\b{word.lower()}\b", question) or re.search(rf"\b{word}\b", question):
        return False
    return any(re.search(rf"\b[a-z]+[,:]? {word}\b", e) for e in evidence)


def _sibling(name: str, asked: str) -> bool:
    """``name`` is another identifier built of the asked one's words (``max_keepalive_connections``
    beside ``max_connections``): sharing a part, but not the same name."""
    parts = lambda x: {p for p in re.split(r"[._]", x) if len(p) > 2}  # noqa: E731
    return name != asked and not _names(asked, name) and bool(parts(name) & parts(asked))


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun
