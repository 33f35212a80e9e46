"""Clean a generated answer of the Markdown it copied from the passages: pure functions, no model.

Documentation passages are Markdown, and a small generator copies their markup into its answer:
```` ```shell $ pip install x ``` ````, ``**bold**``, ``[label](https://...)``, inline backticks, a
shell prompt. ``clean_answer`` turns that into the plain text a reader expects (``pip install
x``), keeps the ``[n]`` citation marks, and restores spacing the generator broke against the
passages' own text (``httpx [http2]`` becomes ``httpx[http2]`` where the passages write it so).
The pipeline applies it before the guard, so what the guard checks is what is shown.
"""

from __future__ import annotations

import re
from typing import Sequence

from .text import CITATION_SHORT, citation_pattern

_FENCE = re.compile(r"(?:```|~~~)[\w+#.-]*(?:[ \t]+title=\"[^\"]*\")?[ \t]*\n?")
_PROMPT = re.compile(r"(^|(?<=\s))(?:\$|>>>|\.\.\.)[ \t]+")
_LINK = re.compile(r"!?\[([^\[\]]+)\]\((?:[^()\s]+)(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\[\]]*[^\d\s,;\[\]][^\[\]]*)\]\[[^\[\]]*\]")
_HTML_LINK = re.compile(r"<a\s[^>]*>(.*?)</a>", re.I | re.S)
_TAG = re.compile(r"</?(?:em|strong|b|i|code|kbd|br|p|span)\b[^>]*>", re.I)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# the end of one bold run and the start of the next, with the text between: "8000** and **8001"
_CUT_STRONG = re.compile(r"(?<=\w)(\*\*|__)(\s[^*_\n]*?\s)\1(?=\w)")
_EMPH = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_BACKTICK = re.compile(r"`+([^`]*)`+")
# a Sphinx role written before its code span in Markdown made for Sphinx (MyST's {func}`~pkg.name`,
# reStructuredText's :func:`!name`), and the link target after a label ({ref}`label <target>`);
# shared with span grounding (generate.grounding.whole_span)
ROLE = r"(?:\{[\w:.-]+\}|(?<![\w:]):[\w:.-]+:)"
ROLE_TARGET = r"\s+<[^<>`\n]+>"
# the name or label a role shows, without the role, its ~/! prefix or its <target>
_ROLE = re.compile(ROLE + r"`[~!]?([^`<\n]*?)(?:" + ROLE_TARGET + r")?`")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
# what is left of a bold run the answer began inside of: "noclasses**" ("**kwargs" and "a**b" stay)
_HALF_STRONG = re.compile(r"(?<=\w)\*\*(?=[\s{:;,.)]|$)")
# a Python-Markdown / kramdown attribute list: "{ #noclasses }", "{: .note }", "{ #id .cls key=v }"
_ATTR_LIST = re.compile(r"\s*\{:?[ \t]*[#.][\w-]+(?:[ \t]+(?:[#.][\w-]+|[\w-]+=(?:\"[^\"]*\"|'[^']*'|[\w-]+)))*[ \t]*\}")
# reStructuredText's "::" that ends a term or introduces a literal block: "leeway::" reads "leeway:"
_RST_LITERAL = re.compile(r"(?<=\w)::(?=\s|$)")
_CITE = CITATION_SHORT  # the citation grammar is groundqa.text's
# a Python dunder name (__getstate__, obj.__dict__): reStructuredText loses its code markup when it is
# loaded, so it stands bare in the passages, and it is a name, not bold text
_DUNDER = re.compile(r"(?<![\w*])__[a-z][a-z0-9_]*?[a-z0-9]__(?![\w*])")


def strip_markdown(text: str) -> str:
    """``text`` without Markdown markup: code fences and their language tag, shell and Python
    prompts, links (their label kept), emphasis (and the closing half of a bold run the answer
    began inside of), attribute lists (``{ #id }``), reStructuredText's ``::``, Sphinx roles
    (``{class}`~pkg.Name``` reads ``pkg.Name``, ``{ref}`label <target>``` reads ``label``), inline backticks,
    heading marks, simple HTML tags. Citation marks ``[n]`` are kept, and so are Python dunder
    names (``__getstate__`` is a name, not bold ``getstate``); whitespace is collapsed."""
    dunders: list[str] = []

    def keep(m: re.Match[str]) -> str:
        dunders.append(m.group(0))
        return f"\x00{len(dunders) - 1}\x00"

    t = _DUNDER.sub(keep, text)
    t = _FENCE.sub(" ", t)
    t = _HTML_LINK.sub(r"\1", t)
    t = _TAG.sub("", t)
    t = _LINK.sub(r"\1", t)
    t = _REF_LINK.sub(r"\1", t)
    t = _CUT_STRONG.sub(r"\2", t)
    t = _STRONG.sub(r"\2", t)
    t = _HALF_STRONG.sub("", t)
    t = _ATTR_LIST.sub("", t)
    t = _RST_LITERAL.sub(":", t)
    t = _EMPH.sub(r"\1", t)
    t = _ROLE.sub(r"\1", t)
    t = _BACKTICK.sub(r"\1", t)
    t = _HEADING.sub("", t)
    t = _PROMPT.sub(r"\1", t)
    t = " ".join(t.split())
    t = re.sub("\x00(\\d+)\x00", lambda m: dunders[int(m.group(1))], t)
    return re.sub(r"\s+([.,;:!?])(?=\s|$)", r"\1", t)


def _squash(text: str) -> str:
    return " ".join(strip_markdown(text).split())


def restore_spacing(answer: str, passages: Sequence[str], *, window: int = 12) -> str:
    """Drop a space the generator put inside a token the passages write without one
    (``httpx [http2]`` -> ``httpx[http2]``, ``request. url`` -> ``request.url``): a space is removed
    when the text around it, without the space, occurs in a passage and with it does not. Spaces
    next to citation marks are never touched."""
    if not passages or " " not in answer:
        return answer
    corpus = "\n".join(_squash(p) for p in passages)
    out = answer
    i = 0
    while True:
        i = out.find(" ", i)
        if i == -1:
            return out
        left, right = out[max(0, i - window) : i], out[i + 1 : i + 1 + window]
        if left and right and not _CITE.match(right) and not left.endswith("]"):
            lw = left.split(" ")[-1]
            rw = right.split(" ")[0]
            if lw and rw and (lw + rw) in corpus and f"{lw} {rw}" not in corpus and not (lw.isalpha() and rw.isalpha()):
                out = out[:i] + out[i + 1 :]
                continue
        i += 1


# the citation marks that end an answer ("... [1]", "... [1] [2]"), from the one grammar in groundqa.text
_TRAILING_CITES = re.compile(citation_pattern(digits="{1,3}", repeat=True) + r"\s*$")
_OPEN_BRACKET_END = re.compile(r"(?:^|\s+)\[[^\]]*$")  # "3.9+ [sync-sup" (a label cut short)
_ATTACHED_OPEN_END = re.compile(r"(?<=\w)\[[^\]\s]*$")  # "pkg[extra" (an install cut short)
_LABEL = re.compile(r"\s+\[[^\[\]\n]*\](?:\[[^\[\]\n]*\])?(?=\s|$)")  # " [asgi-logger]" after a word


def whole_text(text: str) -> str:
    """No unbalanced bracket and no link-label residue left in an answer: an opening bracket cut
    short at its end is dropped with what follows it (the citation marks after it kept), and
    bracketed labels that are not citation marks are dropped when the answer holds other words."""
    m = _TRAILING_CITES.search(text)
    body, tail = (text[: m.start()], text[m.start() :]) if m else (text, "")
    body = _ATTACHED_OPEN_END.sub("", _OPEN_BRACKET_END.sub("", body))
    bare = _LABEL.sub(lambda x: x.group(0) if _CITE.fullmatch(x.group(0).strip()) else "", body)
    if bare.strip():
        body = bare
    return " ".join((body + tail).split())


def clean_answer(text: str, passages: Sequence[str] = ()) -> str:
    """``strip_markdown`` then ``restore_spacing`` against the passages' text, then ``whole_text``."""
    return whole_text(restore_spacing(strip_markdown(text), passages))
