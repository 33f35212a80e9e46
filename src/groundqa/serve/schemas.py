"""The service's request and response bodies. Field names are those of ``Answer.to_dict()``,
``ClaimVerdict.to_dict()``, ``Citation.to_dict()`` and ``Passage.to_dict()``, not renamed.

Requests forbid unknown fields and are strict about types ("5" is not a top_k)."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

# static bounds in the schema; the service's settings may set lower ones
MAX_QUESTION_CHARS = 4000
MAX_TOP_K = 100
MAX_TURNS = 20

Scalar = Union[str, int, float, bool, None]
FilterValue = Union[Scalar, list[Scalar], dict[str, Any]]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Request):
    """One turn of the conversation before this question."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_QUESTION_CHARS)


class AskRequest(_Request):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="the user's question")
    top_k: Optional[int] = Field(default=None, ge=1, le=MAX_TOP_K, description="passages to retrieve (default: the pipeline's)")
    filters: Optional[dict[str, FilterValue]] = Field(default=None, description="metadata filters, as for HybridIndex.search")
    policy: Optional[Literal["return", "flag", "strip", "abstain"]] = Field(default=None, description="what to do with unsupported claims (default: the pipeline's)")
    conversation: Optional[list[Turn]] = Field(default=None, max_length=MAX_TURNS, description="earlier turns, oldest first; a follow-up question is rewritten with them before retrieval")


class CitationOut(_Response):
    doc_id: str
    chunk_id: str
    source: str
    start: int = Field(description="character offset into the document")
    end: int
    text: str
    passage_rank: Optional[int] = None


class ClaimOut(_Response):
    text: str
    start: int = Field(description="character offset into the generated answer")
    end: int
    probability: float
    verdict: Literal["supported", "unsupported"]
    reasons: list[str] = []
    citation: Optional[CitationOut] = None
    signals: dict[str, float] = {}


class PassageOut(_Response):
    rank: int
    score: float
    scores: dict[str, float]
    id: str
    doc_id: str
    text: str
    start: int
    end: int
    source: str
    metadata: dict[str, Any]


class AskResponse(_Response):
    question: str = Field(description="the question as asked")
    rewritten_question: Optional[str] = Field(default=None, description="the standalone question retrieval used, when the conversation rewrote it")
    answer: str = Field(description="the text the policy lets through, with [n] citation marks")
    verdict: Literal["supported", "unsupported", "flagged", "trimmed", "withheld", "declined"]
    reason: Optional[str]
    answered: bool
    generated: str
    support: float = Field(description="the weakest claim's probability of being supported")
    threshold: Optional[float] = Field(default=None, description="the guard's threshold: a claim is supported iff its probability is at least this (null when nothing was checked)")
    claims: list[ClaimOut]
    citations: list[CitationOut] = Field(description="the passages the answer cites with [n], as document spans")
    passages: list[PassageOut]
    policy: str
    timings_ms: dict[str, float]
    models: dict[str, str]
    grounding: Optional[dict[str, Any]] = Field(default=None, description="where a span-grounded answer lies: doc_id, chunk_id, passage_rank, its exact start/end in the document and text")
    audit_id: Optional[int] = Field(default=None, description="the answer's id in the audit log")


class StreamSentence(_Response):
    """The data of an SSE ``sentence`` event (the ``done`` event carries an AskResponse)."""

    text: str
    claims: list[ClaimOut]


class DocumentIn(_Request):
    id: Optional[str] = Field(default=None, min_length=1, max_length=512, description="your id; default: sha256 of the text")
    text: str = Field(min_length=1, description="the document's text")
    source: str = Field(default="", max_length=2048)
    metadata: dict[str, Scalar] = Field(default_factory=dict, description="filterable fields")


class IngestRequest(_Request):
    documents: list[DocumentIn] = Field(min_length=1)


class IngestedDocument(_Response):
    id: str
    status: Literal["created", "unchanged", "updated"]
    chunks: int


class SkippedFile(_Response):
    source: str
    reason: str


class IngestResponse(_Response):
    documents: list[IngestedDocument]
    skipped: list[SkippedFile] = []


class DocumentOut(_Response):
    id: str
    source: str
    metadata: dict[str, Any]
    sha256: str
    chunks: int
    text: str
    created: float


class DeleteResponse(_Response):
    id: str
    deleted: bool
    chunks: int


class IndexInfo(_Response):
    chunks: int
    documents: int


class HealthResponse(_Response):
    status: Literal["ok", "starting"]
    models_loaded: bool
    index: IndexInfo
    models: dict[str, str]
    version: str


class ErrorResponse(_Response):
    error: str = Field(description="a short code: bad_request, validation_error, unauthorized, forbidden, not_found, too_large, timeout, ...")
    message: str
    details: list[dict[str, Any]] = []
