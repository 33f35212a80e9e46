"""Split an answer into claims, each with its character span in the answer.

Sentences come from Punkt (``groundqa.text.sentence_spans``); citation marks such as ``[1]`` or
``[2, 3]`` are removed from the claim text (the span still points at the original sentence). A
short answer ("1889", "Denver Broncos") says nothing on its own, so it becomes one claim read
together with its question (``qa_claim``).
"""

from __future__ import annotations

import re

from ..text import CITATION_MARK as _CITATION  # noqa: F401 (the grammar lives in groundqa.text)
from ..text import sentence_spans, strip_citations
from ..types import Claim

ClaimSpan = Claim  # the record's name of old
# an answer of at most this many words, or with no verb-like structure, is read with its question
SHORT_ANSWER_WORDS = 6


def qa_claim(question: str, answer: str) -> str:
    """A short answer read with its question: the text a verifier judges for it."""
    q = question.strip()
    if q and not q.endswith("?"):
        q += "?"
    return f"{q} {answer.strip()}" if q else answer.strip()


_YES_NO = re.compile(r"(?i)(?:yes|no)[.!]?")


def is_yes_no(answer: str) -> bool:
    """True for a bare "yes" or "no" (a closed question's whole answer)."""
    return bool(_YES_NO.fullmatch(answer.strip()))


def claim_focus(claim: ClaimSpan, answer: str) -> str:
    """The words a claim asserts, for the exact checks: for a short answer read with its question,
    the answer alone (citation marks removed, so "1884 [1]" does not assert the number 1). A bare
    "yes" or "no" asserts the question's proposition (or its negation), so its words are the
    question's: "Are Wenling and Xinzheng both in China? yes" must find Wenling, Xinzheng and China
    in the evidence, not the word "yes"."""
    return claim_inputs(claim, answer)[1]


def claim_inputs(claim: ClaimSpan, answer: str) -> tuple[str, str, str]:
    """(text, focus, asserted) of a claim: what a model reads, the words the exact checks look
    for (``claim_focus``), and the words as the answer wrote them (whose length is a signal: a
    bare "yes" is one word long even though its focus is the whole question)."""
    if not claim.with_question:
        return claim.text, claim.text, claim.text
    asserted = strip_citations(answer[claim.start : claim.end])[0]
    focus = asserted
    if is_yes_no(asserted) and claim.text.endswith(asserted.strip()):
        focus = claim.text[: len(claim.text) - len(asserted.strip())].strip() or asserted
    return claim.text, focus, asserted


def is_short_answer(answer: str) -> bool:
    """True for an answer that is a bare span rather than a statement (few words, no final stop)."""
    words = answer.split()
    return len(words) <= SHORT_ANSWER_WORDS and not re.search(r"[.!?]\s*$", answer.strip()) or len(words) <= 2


def split_claims(answer: str, question: str | None = None) -> list[ClaimSpan]:
    """The claims of ``answer``. A short answer becomes a single claim read with ``question``."""
    if not answer or not answer.strip():
        return []
    clean_all, _ = strip_citations(answer)
    if question and is_short_answer(clean_all):
        s = len(answer) - len(answer.lstrip())
        e = len(answer.rstrip())
        _, cites = strip_citations(answer)
        return [ClaimSpan(qa_claim(question, clean_all), s, e, cites, with_question=True)]
    out: list[ClaimSpan] = []
    for s, e in sentence_spans(answer):
        text, cites = strip_citations(answer[s:e])
        if not re.search(r"\w", text):
            # a sentence that is only citation marks belongs to the previous claim
            if out and cites:
                prev = out[-1]
                out[-1] = ClaimSpan(prev.text, prev.start, e, tuple(dict.fromkeys(prev.citations + cites)), prev.with_question)
            continue
        with_q = False
        if question and len(out) == 0 and is_short_answer(text):
            text, with_q = qa_claim(question, text), True
        out.append(ClaimSpan(text, s, e, cites, with_q))
    return out


_SEG_SPLIT = re.compile(
    r"\s*;\s*|\s+\(|\)\s*,?\s*|\s+[–—]\s+|,\s+(?=(?:and|but|which|who|whom|where|while|when|whereas|although|including|with|after|before|as well as)\b)|\s+(?=(?:which|who|whom|whereas|while)\b)|,\s+and\s+"
)


def claim_segments(text: str, min_words: int = 4, max_segments: int = 4) -> list[str]:
    """Cut a long claim into a few clause-like segments (at semicolons, parentheses, dashes and
    ``, which`` / ``, and`` style joints), merging short pieces into their neighbours. A segment
    that starts with its verb ("and was released in 2001") is prefixed with the claim's subject, so
    it names what it is about; other segments are kept as written.
    A claim is supported only if every segment is: the guard checks each against its own best
    evidence (multi-fact claims are rarely covered by one window). Returns ``[text]`` when there is
    nothing to cut."""
    pieces = [p.strip(" ,") for p in _SEG_SPLIT.split(text) if p and p.strip(" ,.")]
    merged: list[str] = []
    for p in pieces:
        if merged and (len(re.findall(r"\w+", p)) < min_words or len(re.findall(r"\w+", merged[-1])) < min_words):
            merged[-1] = merged[-1] + " " + p
        else:
            merged.append(p)
    if len(merged) <= 1:
        return [text]
    while len(merged) > max_segments:
        # join the shortest adjacent pair
        k = min(range(len(merged) - 1), key=lambda i: len(merged[i]) + len(merged[i + 1]))
        merged[k : k + 2] = [merged[k] + " " + merged[k + 1]]
    subject = _subject(merged[0])
    out = []
    for i, m in enumerate(merged):
        if i and m[:1].islower():
            m = re.sub(r"^(?:who|which|whom|and)\s+", "", m)
            # "..., and was released in 2001" lacks a subject: lend it the claim's. A clause with its
            # own subject ("inadvertent introductions have led to ...") or a fragment ("with
            # Parliament sitting there from 1865") is checked as it is.
            words = m.split()
            lead = next((w for w in words if w.lower().strip(",") not in _ADVERBS), "")
            if lead and _verb_like(lead):
                m = f"{subject} {m}"
        out.append(m)
    return out


_AUX = frozenset(
    """is are was were be been has have had will would can could shall should may might must does do did
    became becomes become won wins began begins went goes made makes took takes gave gives
    holds held houses led leads brought sold left remained remains""".split()
)


_ADVERBS = frozenset("also later then now still today currently subsequently eventually initially finally soon once again since".split())


def _verb_like(word: str) -> bool:
    """A cheap guess that a segment starts with its verb (no tagger offline): an auxiliary or a
    common irregular verb, or a past tense ("declined", "painted")."""
    w = word.lower().strip(",;:")
    return w in _AUX or (len(w) > 4 and w.endswith("ed"))


_DETERMINERS = {"the", "this", "that", "a", "an", "his", "her", "its", "their", "these", "those"}


def _subject(segment: str) -> str:
    """The subject of a segment, guessed as its words before the first verb-like word ("The
    redback spider" of "The redback spider has a widespread ..."), at most five words; failing
    that, its capitalised first words ("Irene Hervey")."""
    toks = segment.split()
    for k, t in enumerate(toks[:6]):
        if k and _verb_like(t):
            return " ".join(x.strip(",;:") for x in toks[:k])
    out: list[str] = []
    for t in toks[:4]:
        if t[:1].isupper() or (out and out[-1].lower() in _DETERMINERS):
            out.append(t.strip(",;:"))
            if not t[:1].isupper():
                break
        else:
            break
    if len(out) == 1 and out[0].lower() in _DETERMINERS and len(toks) > 1:
        out.append(toks[1])
    return " ".join(out) or " ".join(toks[:2])
