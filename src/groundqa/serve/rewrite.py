"""Rewrite a follow-up question into a standalone one from the last turns of the conversation.

Rule-based, no model: a question is a follow-up when it is short and leans on earlier turns (it
starts with "and"/"what about"/"also", or it refers back with it/that/this/they/there/those, or it
has fewer than two content words of its own). Its standalone form appends the topic words of the
latest user question that has content (stop words and question words dropped), e.g.::

    conversation: "How do I transfer money to another account?"
    question:     "and how long does that take?"
    rewritten:    "how long does that take (transfer money another account)?"

The appended words steer BM25 and the embedder to the same passages as the earlier question and
give the generator the topic. It does not resolve which noun a pronoun refers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_LEAD = re.compile(r"^\s*(?:and|also|so|but|then|ok(?:ay)?|what about|how about)\b[\s,]*", re.I)
_BACKREF = {"it", "its", "that", "this", "they", "them", "their", "those", "these", "there", "he", "she", "his", "her", "one", "ones", "same"}
STOPWORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from about into over after before
    is are was were be been being am do does did done doing have has had having can could will would
    shall should may might must i me my mine we us our you your yours he him his she her it its they
    them their this that these those there here what which who whom whose when where why how much
    many long often any some all each every no not yes please thanks thank hi hello also just get
    got need want like tell know there's what's how's it's i'm can't don't does'nt
    """.split()
)


@dataclass(frozen=True)
class Rewrite:
    """The question to retrieve with, and whether it differs from the one asked."""

    question: str
    rewritten: bool
    topic: tuple[str, ...] = ()


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that are not stop words, in order, without repeats."""
    out: list[str] = []
    for w in _WORD.findall(text.lower()):
        if w not in STOPWORDS and len(w) > 1 and w not in out:
            out.append(w)
    return out


def is_follow_up(question: str) -> bool:
    words = [w.lower() for w in _WORD.findall(question)]
    if len(words) > 14:
        return False
    if _LEAD.match(question):
        return True
    if any(w in _BACKREF for w in words):
        return True
    return len(content_words(question)) < 2


def rewrite_question(question: str, turns: Sequence[Mapping[str, str]] | Sequence[object], *, max_turns: int = 6) -> Rewrite:
    """``question`` made standalone with the topic of the last user turns (most recent first)."""
    q = question.strip()
    if not turns or not is_follow_up(q):
        return Rewrite(q, False)
    users = []
    for t in list(turns)[-max_turns:]:
        role = t.get("role") if isinstance(t, Mapping) else getattr(t, "role", None)
        content = t.get("content") if isinstance(t, Mapping) else getattr(t, "content", None)
        if role == "user" and isinstance(content, str):
            users.append(content)
    own = set(content_words(q))
    topic: list[str] = []
    for prev in reversed(users):
        words = [w for w in content_words(prev) if w not in own]
        if len(words) >= 1:
            topic = words[:8]
            break
    if not topic:
        return Rewrite(q, False)
    core = _LEAD.sub("", q).strip() or q
    core = core.rstrip(" ?.!")
    mark = "?" if q.rstrip().endswith("?") or not q.rstrip().endswith((".", "!")) else "."
    return Rewrite(f"{core} ({' '.join(topic)}){mark}", True, tuple(topic))
