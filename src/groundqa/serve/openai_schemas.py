"""Bodies of the OpenAI-compatible routes (``serve.openai_routes``), in OpenAI's field names.

Requests are lenient where OpenAI's are (a bot may send any of the chat-completions parameters;
the ones the pipeline cannot honour are listed in the reply's ``groundqa.ignored``, or refused),
and strict where groundqa's own options are (the ``groundqa`` request object forbids unknown keys).
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from .schemas import MAX_TOP_K, CitationOut, ClaimOut, FilterValue, PassageOut

MAX_MESSAGES = 100


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: Optional[str] = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, refusal ... are accepted and not used

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Union[str, list[ContentPart], None] = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: Optional[bool] = None


class GroundQAOptions(BaseModel):
    """groundqa's own options, sent as ``extra_body={"groundqa": {...}}`` with the openai client."""

    model_config = ConfigDict(extra="forbid", strict=True)

    top_k: Optional[int] = Field(default=None, ge=1, le=MAX_TOP_K, description="passages to retrieve (default: the pipeline's)")
    filters: Optional[dict[str, FilterValue]] = Field(default=None, description="metadata filters, as for /v1/ask")


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request. The last message (a ``user`` one) is the question; earlier
    user and assistant turns are the conversation a follow-up is rewritten with."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="a model id from GET /v1/models: the served pipeline, optionally with a policy (groundqa-abstain ...)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: Optional[bool] = False
    stream_options: Optional[StreamOptions] = None
    n: Optional[int] = Field(default=None, ge=1, description="only 1: the pipeline gives one verified answer")
    temperature: Optional[float] = Field(default=None, ge=0, le=2, description="ignored: generation is greedy")
    top_p: Optional[float] = Field(default=None, ge=0, le=1, description="ignored: generation is greedy")
    max_tokens: Optional[int] = Field(default=None, ge=1, description="ignored: the generator's own limit applies")
    max_completion_tokens: Optional[int] = Field(default=None, ge=1, description="ignored: the generator's own limit applies")
    stop: Union[str, list[str], None] = Field(default=None, description="ignored: the prompt's stop strings apply")
    tools: Optional[list[dict[str, Any]]] = Field(default=None, description="refused when non-empty: groundqa calls no tools")
    tool_choice: Union[str, dict[str, Any], None] = None
    response_format: Optional[dict[str, Any]] = Field(default=None, description="only {\"type\": \"text\"}")
    groundqa: Optional[GroundQAOptions] = None


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: Optional[str] = None


class Choice(BaseModel):
    index: int
    message: ChatCompletionMessage
    logprobs: None = None
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RewriteOut(BaseModel):
    question: str = Field(description="the last user message, as asked")
    standalone: str = Field(description="the question retrieval used")
    rewritten: bool
    note: Optional[str] = Field(default=None, description="why a follow-up was not rewritten")


class GroundQAExtension(BaseModel):
    """What the guard decided, beside the content: clients that ignore it still work."""

    verdict: Literal["supported", "unsupported", "flagged", "trimmed", "withheld", "declined"]
    answered: bool
    reason: Optional[str]
    answer: str = Field(description="the text the policy lets through, with [n] marks (content adds the sources line)")
    generated: str
    support: float
    threshold: Optional[float]
    policy: str
    rewrite: RewriteOut
    claims: list[ClaimOut]
    citations: list[CitationOut]
    passages: list[PassageOut]
    grounding: Optional[dict[str, Any]] = None
    timings_ms: dict[str, float]
    models: dict[str, str]
    audit_id: Optional[int] = None
    ignored: list[dict[str, str]] = Field(default_factory=list, description="request parameters the pipeline did not honour, each with why")


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: Optional[str] = None
    choices: list[Choice]
    usage: Usage
    groundqa: GroundQAExtension


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    groundqa: dict[str, Any] = Field(default_factory=dict, description="the pipeline and policy behind this id")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: Optional[str] = None
    code: Optional[str] = None


class OpenAIError(BaseModel):
    """OpenAI's error object: what the openai client raises as APIStatusError subclasses."""

    error: OpenAIErrorBody
