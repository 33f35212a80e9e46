"""OpenAI's chat-completions protocol over the verified pipeline, so a bot written for OpenAI plugs in
unchanged (``base_url="http://host:8000/v1"``, the API key as the openai client's ``api_key``).

* ``POST /v1/chat/completions``: the last message (a ``user`` one) is the question; earlier
  ``user``/``assistant`` turns rewrite a follow-up into a standalone question
  (:mod:`groundqa.serve.rewrite`). ``content`` is what the policy returns (the verified answer with
  its ``[n]`` marks and a ``Sources:`` line naming them, or the decline / withheld sentence); the
  extension field ``groundqa`` carries the verdict, support, threshold, claims with their evidence
  spans, passages, timings and the parameters that were ignored. ``usage`` counts the generator's
  tokens. ``stream: true`` answers in OpenAI's SSE chunk format ending with ``data: [DONE]``; the
  guard judges the whole answer before any of it is sent, so a stream never shows text the policy
  then withholds (SSE comments keep the connection alive meanwhile).
* ``GET /v1/models`` (and ``/v1/models/{id}``): ``groundqa`` (the served pipeline under its own
  policy) and ``groundqa-<policy>`` for each policy (``abstain``, ``strip``, ``flag``, ``return``).

Errors use OpenAI's error object (``{"error": {"message", "type", "param", "code"}}``), which the
openai client raises as ``BadRequestError``, ``AuthenticationError``, ``NotFoundError`` ...;
bad requests are 4xx, never 5xx. Keys are the service's, from ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import ConfigError, GeneratorServerError, GroundQAError
from ..types import POLICIES
from .auth import AuthError, authenticate
from .openai_schemas import ChatCompletion, ChatCompletionRequest, ModelList, ModelOut, OpenAIError
from .rewrite import is_follow_up, rewrite_question

log = logging.getLogger(__name__)

MODEL_PREFIX = "groundqa"
KEEPALIVE_S = 5.0
MAX_TURNS = 20
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
          408: "timeout", 413: "invalid_request_error", 415: "invalid_request_error", 422: "invalid_request_error",
          429: "rate_limit_error", 503: "server_error", 504: "timeout"}
# parameters a bot may send that the pipeline does not honour: accepted, and listed with why
_IGNORED = {
    "temperature": "generation is greedy (the guard is calibrated on greedy answers)",
    "top_p": "generation is greedy (the guard is calibrated on greedy answers)",
    "seed": "generation is greedy, hence deterministic",
    "max_tokens": "the generator's own max_new_tokens applies",
    "max_completion_tokens": "the generator's own max_new_tokens applies",
    "stop": "the prompt's own stop strings apply",
    "presence_penalty": "generation is greedy",
    "frequency_penalty": "generation is greedy",
    "logit_bias": "generation is greedy",
    "logprobs": "token log-probabilities are not returned; the guard's verdict is in groundqa",
    "top_logprobs": "token log-probabilities are not returned; the guard's verdict is in groundqa",
    "tool_choice": "groundqa calls no tools",
    "user": "recorded nowhere; the audit log keeps the API key's name",
}


class OpenAIRouteError(Exception):
    """A request this route refuses, in OpenAI's terms."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
                      "param": param, "code": code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return JSONResponse(error_body(status, message, param, code), status_code=status, headers=headers)


def _as_openai_error(exc: Exception, path: str) -> JSONResponse | None:
    """OpenAI's error object for any error raised while serving an OpenAI route (None: re-raise)."""
    if isinstance(exc, OpenAIRouteError):
        return error_response(exc.status, exc.message, exc.param, exc.code)
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            return error_response(400, f"the body is not valid JSON ({bad_json.get('ctx', {}).get('error', 'parse error')}); send a JSON object", code="invalid_json")
        if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
            return error_response(400, "the body must be a JSON object (Content-Type: application/json) with model and messages", code="invalid_json")
        parts, param = [], None
        for e in errors:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            param = param or loc
            parts.append(f"{loc}: {'unknown field (not allowed)' if e.get('type') == 'extra_forbidden' else e.get('msg', '')}")
        return error_response(400, "invalid request: " + "; ".join(parts), param, "invalid_value")
    if isinstance(exc, AuthError):
        return error_response(exc.status, exc.message, code="invalid_api_key" if exc.status == 401 else "insufficient_scope")
    if isinstance(exc, ConfigError):  # a bad filter, a bad option
        return error_response(400, str(exc), code="invalid_value")
    status = getattr(exc, "status", None)  # the service's ApiError (504 timeouts, limits)
    if isinstance(status, int) and hasattr(exc, "message"):
        return error_response(status, str(exc.message), code=getattr(exc, "code", None))
    if isinstance(exc, GeneratorServerError):  # the inference server behind an openai: generator
        log.error("generator server failed while serving %s: %s", path, exc)
        return error_response(503, str(exc), code="generator_unavailable")
    if isinstance(exc, GroundQAError):
        log.exception("groundqa error while serving %s", path)
        return error_response(500, f"{type(exc).__name__}: {exc}", code="service_error")
    return None


class OpenAIRoute(APIRoute):
    """Routes whose every error, body validation and auth included, is OpenAI's error object."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Any]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Any:
            try:
                return await handler(request)
            except Exception as exc:
                resp = _as_openai_error(exc, request.url.path)
                if resp is None:
                    raise
                return resp

        return wrapped


def model_ids(default_policy: str) -> dict[str, str]:
    """Model id -> the policy it answers under."""
    return {MODEL_PREFIX: default_policy, **{f"{MODEL_PREFIX}-{p}": p for p in ("abstain", "strip", "flag", "return")}}


def message_text(content: Any, where: str) -> str:
    """The text of a message's content (a string, or a list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for k, part in enumerate(content):
        if part.type != "text":
            raise OpenAIRouteError(400, f"{where}.content.{k} is a {part.type!r} part; groundqa reads text only: send the question as text",
                                   f"{where}.content", "unsupported_content")
        texts.append(part.text or "")
    return "\n".join(texts)


def sources_line(citations: list[dict[str, Any]]) -> str:
    """``Sources: [1] faq/transfer; [2] ...``: what the answer's [n] marks point at."""
    seen: dict[int, str] = {}
    for c in citations:
        rank = c.get("passage_rank")
        if isinstance(rank, int) and rank not in seen:
            seen[rank] = str(c.get("source") or c.get("doc_id") or "")
    return "Sources: " + "; ".join(f"[{k}] {v}" for k, v in sorted(seen.items())) if seen else ""


def install_openai_routes(
    app: Any,
    *,
    answer: Callable[[str, dict[str, Any]], Awaitable[Any]],
    payload: Callable[[Any, str, str | None], dict[str, Any]],
    record: Callable[[dict[str, Any], Any], Awaitable[None]],
) -> None:
    """Add the OpenAI routes to ``app`` (``serve.app.create_app``): ``answer(question, kwargs)``
    runs the pipeline (the service's batcher), ``payload`` makes an Answer the /v1/ask body and
    ``record`` writes it to the audit log."""
    from .. import __version__

    settings = app.state.settings
    started = int(time.time())
    bearer = HTTPBearer(auto_error=False, description="an API key from the service's configuration")
    router = APIRouter(route_class=OpenAIRoute, tags=["openai"])
    errors = {s: {"model": OpenAIError, "description": d} for s, d in (
        (400, "bad request: OpenAI's error object (param names the field)"), (401, "no or unknown API key"),
        (403, "the key lacks the ask scope"), (404, "unknown model id"), (504, "the pipeline took longer than the request timeout"))}

    def key_for_ask(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Any:
        return authenticate(request.headers.get("authorization"), settings.api_keys, "ask")

    def served() -> dict[str, str]:
        pipe = getattr(app.state, "pipeline", None)
        return model_ids(getattr(pipe, "policy", "abstain"))

    def model_out(mid: str, policy: str) -> dict[str, Any]:
        pipe = getattr(app.state, "pipeline", None)
        models = pipe.models() if pipe is not None and getattr(app.state, "ready", False) else {}
        return {"id": mid, "object": "model", "created": started, "owned_by": "groundqa",
                "groundqa": {"policy": policy, "models": models, "version": __version__}}

    @router.get("/v1/models", response_model=ModelList, responses={k: v for k, v in errors.items() if k in (401, 403)})
    async def list_models(key: Any = Depends(key_for_ask)) -> Any:
        """The model ids /v1/chat/completions takes: the served pipeline, under its own policy or another."""
        return {"object": "list", "data": [model_out(m, p) for m, p in served().items()]}

    @router.get("/v1/models/{model}", response_model=ModelOut, responses={k: v for k, v in errors.items() if k in (401, 403, 404)})
    async def get_model(model: str, key: Any = Depends(key_for_ask)) -> Any:
        """One model id."""
        ids = served()
        if model not in ids:
            raise OpenAIRouteError(404, f"model {model!r} does not exist; choose one of: {', '.join(ids)}", "model", "model_not_found")
        return model_out(model, ids[model])

    def read_request(req: ChatCompletionRequest) -> tuple[str, str, dict[str, Any], dict[str, Any], list[dict[str, str]]]:
        """(model policy, question, rewrite info, ask kwargs, ignored parameters) or an OpenAIRouteError."""
        ids = served()
        if req.model not in ids:
            raise OpenAIRouteError(404, f"model {req.model!r} does not exist; choose one of: {', '.join(ids)} (GET /v1/models)", "model", "model_not_found")
        if req.n is not None and req.n > 1:
            raise OpenAIRouteError(400, f"n={req.n}: groundqa returns one verified answer per request; send n=1 or leave it out", "n", "unsupported_parameter")
        if req.tools and req.tool_choice != "none":
            raise OpenAIRouteError(400, "tools are not supported: groundqa answers from its documents and calls no tools; send the request without tools", "tools", "unsupported_parameter")
        fmt = (req.response_format or {}).get("type", "text")
        if fmt != "text":
            raise OpenAIRouteError(400, f"response_format type {fmt!r} is not supported; the answer is text with [n] citations: leave response_format out", "response_format", "unsupported_parameter")
        ignored = [{"param": k, "reason": why} for k, why in _IGNORED.items() if getattr(req, k, None) is not None and k in req.model_fields_set]
        ignored += [{"param": k, "reason": "not a parameter groundqa uses"} for k in sorted(req.model_extra or {}) if k not in _IGNORED]
        last = req.messages[-1]
        where = f"messages.{len(req.messages) - 1}"
        if last.role != "user":
            raise OpenAIRouteError(400, f"the last message is a {last.role!r} message; groundqa answers the last message, which must be the user's question", "messages", "invalid_value")
        question = message_text(last.content, where).strip()
        if not question:
            raise OpenAIRouteError(400, f"{where}.content is empty; send the user's question as text", "messages", "invalid_value")
        if len(question) > settings.max_question_chars:
            raise OpenAIRouteError(400, f"the question has {len(question)} characters, over the limit of {settings.max_question_chars} (max_question_chars); shorten it", "messages", "string_above_max_length")
        turns, skipped_roles = [], set()
        for k, m in enumerate(req.messages[:-1]):
            if m.role in ("user", "assistant"):
                turns.append({"role": m.role, "content": message_text(m.content, f"messages.{k}")})
            else:
                skipped_roles.add(m.role)
        if skipped_roles:
            ignored.append({"param": "messages", "reason": f"{', '.join(sorted(skipped_roles))} messages are not used: the pipeline's prompt is fixed"})
        turns = turns[-MAX_TURNS:]
        rw = rewrite_question(question, turns)
        note = None
        if not rw.rewritten and turns and is_follow_up(question):
            note = "the question looks like a follow-up, but no earlier user turn has topic words to add; answered as asked"
        rewrite = {"question": question, "standalone": rw.question, "rewritten": rw.rewritten, "note": note}
        opts = req.groundqa
        top_k = opts.top_k if opts is not None else None
        if top_k is not None and top_k > settings.max_top_k:
            raise OpenAIRouteError(400, f"groundqa.top_k: {top_k} is over the limit of {settings.max_top_k} (max_top_k)", "groundqa.top_k", "invalid_value")
        filters = opts.filters if opts is not None else None
        if filters:
            from ..index.filters import compile_filters

            compile_filters(filters)  # a bad filter is a ConfigError: 400 before any work
        return ids[req.model], question, rewrite, {"top_k": top_k, "filters": filters or None}, ignored

    async def run_answer(question: str, rewrite: dict[str, Any], kwargs: dict[str, Any], key: Any) -> tuple[Any, dict[str, Any]]:
        a = await answer(rewrite["standalone"], kwargs)
        d = payload(a, question, rewrite["standalone"] if rewrite["rewritten"] else None)
        await record(d, key)
        return a, d

    def extension(d: dict[str, Any], rewrite: dict[str, Any], ignored: list[dict[str, str]]) -> dict[str, Any]:
        keep = ("verdict", "answered", "reason", "answer", "generated", "support", "threshold", "policy", "claims",
                "citations", "passages", "grounding", "timings_ms", "models", "audit_id")
        return {**{k: d.get(k) for k in keep}, "rewrite": rewrite, "ignored": ignored}

    def content_of(d: dict[str, Any]) -> str:
        text = d["answer"]
        sources = sources_line(d["citations"]) if d["answered"] else ""
        return f"{text}\n\n{sources}" if sources else text

    def usage_of(a: Any) -> dict[str, int]:
        u = dict(getattr(a, "usage", {}) or {})
        p, c = int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    @router.post("/v1/chat/completions", response_model=ChatCompletion,
                 responses={**errors, 200: {"content": {"text/event-stream": {"schema": {"type": "string", "description": "with stream: true, SSE: `data: ChatCompletionChunk` (role, content, then finish_reason with the groundqa extension), an optional usage chunk, then `data: [DONE]`"}}}}})
    async def chat_completions(req: ChatCompletionRequest, key: Any = Depends(key_for_ask)) -> Any:
        """OpenAI's chat completions, answered by the verified pipeline (see the module docstring)."""
        policy, question, rewrite, kwargs, ignored = read_request(req)
        kwargs["policy"] = policy
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        fingerprint = f"groundqa-{__version__}"
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(stream(cid, created, req.model, fingerprint, question, rewrite, kwargs, ignored, key, include_usage),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        a, d = await run_answer(question, rewrite, kwargs, key)
        return {"id": cid, "object": "chat.completion", "created": created, "model": req.model, "system_fingerprint": fingerprint,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content_of(d), "refusal": None}, "logprobs": None, "finish_reason": "stop"}],
                "usage": usage_of(a), "groundqa": extension(d, rewrite, ignored)}

    async def stream(cid: str, created: int, model: str, fingerprint: str, question: str, rewrite: dict[str, Any], kwargs: dict[str, Any],
                     ignored: list[dict[str, str]], key: Any, include_usage: bool) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "system_fingerprint": fingerprint,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        task = asyncio.ensure_future(run_answer(question, rewrite, kwargs, key))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=KEEPALIVE_S)
                if not task.done():
                    yield ": keep-alive\n\n"  # an SSE comment: clients skip it; a gone client is noticed here
            a, d = task.result()
        except asyncio.CancelledError:  # the client went away: nothing more to send
            task.cancel()
            raise
        except Exception as exc:  # the status line is sent already: report in the stream, as OpenAI does
            resp = _as_openai_error(exc, "/v1/chat/completions")
            if resp is None:
                log.exception("chat completion stream failed")
                body = error_body(500, f"internal error ({type(exc).__name__}); see the server log")
            else:
                body = json.loads(resp.body)
            yield f"data: {json.dumps(body)}\n\n"
            yield "data: [DONE]\n\n"
            return
        text = d["answer"]
        sources = sources_line(d["citations"]) if d["answered"] else ""
        yield chunk({"content": text})
        if sources:
            yield chunk({"content": f"\n\n{sources}"})
        yield chunk({}, "stop", groundqa=extension(d, rewrite, ignored))
        if include_usage:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "system_fingerprint": fingerprint,
                    "choices": [], "usage": usage_of(a)}
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"

    app.include_router(router)
