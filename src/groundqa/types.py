"""Plain, typed records that cross a stage (stdlib and the text grammar only): what documents, index, generate and
verify hand each other and the pipeline hands its callers.

* documents and index: ``Document``, ``Chunk``, ``Passage``;
* generate: ``Generation``;
* verify: ``Claim``, ``Citation``, ``ClaimVerdict``, ``GuardResult``;
* the pipeline: ``Answer``, ``StreamEvent``, and the policy literals (``Policy``, ``POLICIES``,
  ``AnswerVerdict``, ``Verdict``, ``WITHHELD_TEXT``, ``DECLINE``).

The stages import their records from here; ``groundqa.testing`` builds its fakes from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from .text import DECLINE, remove_citations  # noqa: F401 (DECLINE is a record-level literal)


@dataclass(frozen=True)
class Document:
    """One source document before chunking.

    ``id`` is the caller's document id (a file path relative to the ingest root, a jsonl id field,
    ...); ``source`` says where the text came from; ``metadata`` holds filterable fields.
    """

    id: str
    text: str
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A window of a document's sentences: the unit that is indexed and retrieved.

    ``start``/``end`` are character offsets into the document's text, so
    ``document.text[start:end] == chunk.text``. ``id`` is a hash of the document id and the text,
    so ingesting the same document twice yields the same chunks.
    """

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Chunk":
        return cls(
            id=d["id"],
            doc_id=d["doc_id"],
            text=d["text"],
            start=int(d["start"]),
            end=int(d["end"]),
            source=d.get("source", ""),
            metadata=dict(d.get("metadata") or {}),
        )


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score, its rank (1-based), and each retriever's score.

    ``scores`` maps a retriever name ("bm25", "dense") to that retriever's raw score for this chunk;
    a retriever that did not return the chunk is absent.
    """

    chunk: Chunk
    score: float
    rank: int
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def id(self) -> str:
        return self.chunk.id

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": self.score,
            "scores": dict(self.scores),
            **self.chunk.to_dict(),
        }


# -- the policy literals ------------------------------------------------------------------------
Policy = Literal["return", "flag", "strip", "abstain"]
POLICIES: tuple[str, ...] = ("return", "flag", "strip", "abstain")
AnswerVerdict = Literal["supported", "unsupported", "flagged", "trimmed", "withheld", "declined"]
Verdict = Literal["supported", "unsupported"]
WITHHELD_TEXT = "I can't answer that from the documents I have."


# -- generate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Generation:
    """One generated answer.

    ``text`` is the answer as generated (cut at a stop string), with its [n] marks; ``citations``
    the 1-based passage numbers it cites; ``declined`` whether it is the decline sentence.
    ``tokens`` counts generated tokens; ``prompt_tokens`` the prompt's; ``seconds`` is this answer's
    share of its batch's time and ``batch_seconds`` the whole batch's wall time.

    ``raw_text`` is what the model wrote where span grounding or a decline margin changed it (else
    equal to ``text``);
    ``grounding`` where the answer lies in the passages (a :class:`~groundqa.generate.grounding.Snap`:
    passage number and character offsets in that passage's text), None when not grounded;
    ``confidence`` the generator's own signals for the guard: ``lp_mean`` and ``lp_min`` (mean and
    lowest log-probability of the answer's tokens), ``margin_min`` (the smallest gap between the
    chosen token's log-probability and the runner-up's), ``span_score`` (token F1 of the answer with
    its passage span; 1.0 exact, 0.0 where none was found), ``decline_lp`` (the log-probability of the
    decline sentence's first two tokens, whatever was written: how near the model came to declining;
    where the answer does not start as the decline does, the first token's alone) and, where the
    generator scores it, ``decline_gap`` (the decline sentence's mean token log-probability minus
    that of what was written, teacher-forced on the same prompt; 0 for a decline).
    """

    text: str
    citations: tuple[int, ...]
    declined: bool
    tokens: int
    prompt_tokens: int = 0
    seconds: float = 0.0
    batch_seconds: float = 0.0
    finish_reason: str = "stop"  # "stop" (eos or stop string) or "length"
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    raw_text: str = ""
    grounding: Any = None
    confidence: dict[str, float] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The answer without its citation marks ("" when declined)."""
        return "" if self.declined else remove_citations(self.text)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["citations"] = list(self.citations)
        d["grounding"] = self.grounding.to_dict() if self.grounding is not None else None
        return d


# -- verify -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """One claim: the text to verify, the span ``answer[start:end]`` it came from, and the
    citation numbers the generator attached to it (``[1]`` -> 1)."""

    text: str
    start: int
    end: int
    citations: tuple[int, ...] = ()
    with_question: bool = False


@dataclass(frozen=True)
class Citation:
    """Where a claim's best evidence is: document, source, character span, passage rank, text."""

    doc_id: str
    chunk_id: str
    source: str
    start: int
    end: int
    text: str
    passage_rank: int | None = None

    def to_dict(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "passage_rank": self.passage_rank,
        }


@dataclass(frozen=True)
class ClaimVerdict:
    """One claim of an answer: its text (citation marks removed), its span ``answer[start:end]``,
    P(supported), the verdict at the guard's threshold, reasons, and the best evidence."""

    text: str
    start: int
    end: int
    probability: float
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    citation: Citation | None = None
    signals: Mapping[str, float] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        return self.verdict == "supported"

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "probability": self.probability,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "citation": self.citation.to_dict() if self.citation else None,
            "signals": dict(self.signals),
        }


@dataclass(frozen=True)
class GuardResult:
    """The guard's judgement of one answer. ``probability`` is the lowest claim probability (an
    answer is as strong as its weakest claim; 1.0 with no claims); ``verdict`` is ``supported``
    when every claim is, ``unsupported`` when any is not, ``no_claims`` for an empty answer."""

    claims: tuple[ClaimVerdict, ...]
    probability: float
    verdict: Literal["supported", "unsupported", "no_claims"]
    threshold: float
    seconds: float
    verifier: str

    @property
    def unsupported_claims(self) -> tuple[ClaimVerdict, ...]:
        return tuple(c for c in self.claims if not c.supported)

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": [c.to_dict() for c in self.claims],
            "probability": self.probability,
            "verdict": self.verdict,
            "threshold": self.threshold,
            "seconds": self.seconds,
            "verifier": self.verifier,
        }


# -- the pipeline -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """A verified answer.

    ``text`` is what the policy lets through (with citation marks); ``generated`` the generator's
    text with the Markdown it copied from the passages removed (``markdown.clean_answer``): what
    the guard checked, and what claim spans index into; ``claims`` the guard's verdict on each
    claim (text, probability, verdict, reasons, the evidence passage and character span);
    ``support`` the weakest claim's probability and ``threshold`` the guard's threshold (a claim
    is supported iff its probability is at least that; None when nothing was checked);
    ``timings`` milliseconds per stage; ``models`` the id of each stage's model; ``grounding``
    where a span-grounded answer lies (document id, chunk id, source, passage rank and the
    answer's exact character offsets in the document, with its text), None when not grounded;
    ``usage`` the generator's token counts (``prompt_tokens``, ``completion_tokens``; empty where
    nothing was generated), for the OpenAI route's ``usage``.
    """

    question: str
    text: str
    verdict: AnswerVerdict
    reason: str | None
    generated: str
    claims: tuple[ClaimVerdict, ...]
    support: float
    passages: tuple[Passage, ...]
    policy: str
    timings: Mapping[str, float] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    threshold: float | None = None
    grounding: Mapping[str, Any] | None = None
    usage: Mapping[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """True when an answer is returned (not withheld and not declined)."""
        return self.verdict not in ("withheld", "declined")

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "verdict": self.verdict,
            "reason": self.reason,
            "answered": self.answered,
            "generated": self.generated,
            "support": self.support,
            "threshold": self.threshold,
            "grounding": dict(self.grounding) if self.grounding else None,
            "claims": [c.to_dict() for c in self.claims],
            "passages": [p.to_dict() for p in self.passages],
            "policy": self.policy,
            "timings_ms": dict(self.timings),
            "models": dict(self.models),
        }


@dataclass(frozen=True)
class StreamEvent:
    """``sentence``: one sentence and the guard's verdict on it (sent once judged);
    ``done``: the final ``Answer``. Under ``abstain`` a stream stops at the first unsupported
    sentence and its ``done`` event says the answer is withheld: discard what was shown."""

    kind: Literal["sentence", "done"]
    text: str = ""
    claims: tuple[ClaimVerdict, ...] = ()
    answer: Answer | None = None
