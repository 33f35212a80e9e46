"""The service's routes (``install_routes``): ``POST /v1/ask`` (JSON or an SSE stream),
``POST /v1/documents``, ``GET``/``DELETE /v1/documents/{id}``, ``GET /v1/health``, ``GET /metrics``,
the docs behind a key unless public, and the OpenAI routes (``serve.openai_routes``). They run the
blocking work through ``run`` (worker threads, at most ``settings.workers`` at once) and find the
pipeline, store, audit log and batcher on ``app.state``, which the lifespan (``serve.app``) fills."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.convertors import Convertor, register_url_convertor

from ..errors import ConfigError
from ..ids import normalize_doc_id
from ..text import CITATION_LIST
from ..types import Document
from .auth import authenticate
from .middleware import _ERROR_CODES, ApiError, _error, _json_safe
from .rewrite import rewrite_question
from .schemas import (
    AskRequest,
    AskResponse,
    DeleteResponse,
    DocumentIn,
    DocumentOut,
    ErrorResponse,
    HealthResponse,
    IngestRequest,
    IngestResponse,
    StreamSentence,
)
from .settings import ServeSettings
from .store import check_batch_ids, content_hash

log = logging.getLogger("groundqa.serve.app")  # the service's one log name


class _DocIdConvertor(Convertor):
    """Starlette's ``path`` convertor stops at a newline (its regex is ``.*``); a document id is
    matched whole, whatever it holds, so no stored id is out of reach of GET and DELETE."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("doc_id", _DocIdConvertor())

_CITE = CITATION_LIST
_ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorResponse, "description": d} for s, d in ((400, "bad request (invalid JSON, bad filter, limits)"), (401, "no or unknown API key"), (403, "the key lacks the scope"), (413, "body too large"), (422, "a field is missing, of the wrong type, unknown or out of range"), (503, "busy: max_pending asks are already waiting or being answered; retry after the Retry-After header's seconds"), (504, "the pipeline took longer than the request timeout"))}


def _upload_name(filename: str | None, i: int) -> str:
    """The file name an upload is stored (and identified) under; 422 for one that cannot be a name."""
    raw = filename or f"file{i}.txt"
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or "\x00" in name:
        raise ApiError(422, f"uploaded file {i + 1} has the file name {_cut(raw)!r}, which cannot be used; give it a real name such as 'notes.md'", code="bad_document")
    name = _check_id(name, f"uploaded file {i + 1}: file name (the document id)")
    if len(name.encode("utf-8")) > 255:
        raise ApiError(422, f"uploaded file {i + 1} has a file name of {len(name.encode('utf-8'))} bytes ({_cut(name, 40)!r}); file names are document ids and may have at most 255 bytes: rename it", code="bad_document")
    if name.startswith("."):
        raise ApiError(422, f"uploaded file {i + 1} is named {_cut(name)!r}: hidden files (a leading '.') are not ingested; rename it", code="bad_document")
    return name


def _check_id(doc_id: str, what: str = "document id") -> str:
    """``doc_id`` in its normal form (``groundqa.ids``), or a 422 that says which characters an
    id may hold. Every route that takes an id in goes through here."""
    try:
        return normalize_doc_id(doc_id, what)
    except ValueError as exc:
        raise ApiError(422, str(exc), [{"loc": ["body", "documents", "id"], "msg": "invalid id"}], code="bad_document") from None


def _id_candidates(doc_id: str) -> list[str]:
    """The ids a path id may name: as sent, then its NFC form (what ingest stores)."""
    return list(dict.fromkeys((doc_id, unicodedata.normalize("NFC", doc_id))))


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."



def _index_size(app: Any) -> dict[str, int]:
    st = app.state
    store = getattr(st, "store", None)
    if store is None:
        return {"chunks": 0, "documents": 0}
    idx = store.index
    docs = len(set(store.doc_ids()) | set(idx.doc_ids())) if hasattr(idx, "doc_ids") else len(store)
    return {"chunks": len(idx), "documents": docs}


def citations(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The passages the generated answer cites with [n], as document spans (n is the rank)."""
    passages = answer.get("passages") or []
    seen: list[int] = []
    for m in _CITE.finditer(answer.get("generated") or ""):
        for n in re.split(r"\s*[,;]\s*", m.group(1)):
            k = int(n)
            if 1 <= k <= len(passages) and k not in seen:
                seen.append(k)
    out = []
    span = answer.get("grounding") or {}
    for k in seen:
        p = passages[k - 1]
        if span.get("passage_rank") == k and span.get("chunk_id") == p["id"]:  # a span-grounded answer: its exact characters
            out.append({"doc_id": p["doc_id"], "chunk_id": p["id"], "source": p.get("source", ""), "start": span["start"],
                        "end": span["end"], "text": span["text"], "passage_rank": k})
            continue
        out.append({"doc_id": p["doc_id"], "chunk_id": p["id"], "source": p.get("source", ""), "start": p["start"], "end": p["end"], "text": p["text"], "passage_rank": k})
    return out


def install_routes(app: FastAPI, settings: ServeSettings) -> Callable[..., Any]:
    """Add the service's routes to ``app``, in the order its OpenAPI schema lists them; returns
    ``run(fn, *args, limiter=None, timeout=True, **kwargs)``, which runs ``fn`` in a worker thread
    (the lifespan's batcher runs the pipeline through it)."""
    from .. import __version__

    bearer = HTTPBearer(auto_error=False, description="an API key from the service's configuration")

    async def run(fn: Callable[..., Any], *args: Any, limiter: Any = None, timeout: bool = True, **kwargs: Any) -> Any:
        """``fn`` in a worker thread. Reads time out after ``request_timeout_s``; writes
        (``timeout=False``) run to the end, so an acknowledged change is never half-applied."""

        def call() -> Any:
            return fn(*args, **kwargs)

        if not timeout:
            return await anyio.to_thread.run_sync(call, limiter=limiter or app.state.limiter)
        try:
            with anyio.fail_after(settings.request_timeout_s):
                return await anyio.to_thread.run_sync(call, limiter=limiter or app.state.limiter, abandon_on_cancel=True)
        except TimeoutError as exc:
            raise ApiError(504, f"the request took longer than request_timeout_s={settings.request_timeout_s}s; try a smaller top_k or raise the limit") from exc

    def require(scope: str) -> Callable[..., Any]:
        def dep(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Any:
            return authenticate(request.headers.get("authorization"), settings.api_keys, scope)

        return dep

    def require_key(public: bool) -> Callable[..., Any]:
        """Any configured key (no particular scope), or none when ``public``."""

        def dep(request: Request) -> Any:
            return None if public else authenticate(request.headers.get("authorization"), settings.api_keys, None)

        return dep

    # -- ask ------------------------------------------------------------------------------------
    def check_ask(req: AskRequest) -> tuple[str, str | None]:
        q = req.question.strip()
        if not q:
            raise ApiError(422, "question: is empty (only whitespace); send the question text", [{"loc": ["body", "question"], "msg": "empty"}])
        if len(req.question) > settings.max_question_chars:  # as sent: the schema's maxLength counts every character
            raise ApiError(422, f"question: has {len(req.question)} characters, over the limit of {settings.max_question_chars} (max_question_chars); shorten it", [{"loc": ["body", "question"], "msg": "too long"}])
        for i, turn in enumerate(req.conversation or []):
            if len(turn.content) > settings.max_question_chars:
                raise ApiError(422, f"conversation.{i}.content: has {len(turn.content)} characters, over the limit of {settings.max_question_chars} (max_question_chars); shorten the turn or leave it out", [{"loc": ["body", "conversation", i, "content"], "msg": "too long"}])
        if req.top_k is not None and req.top_k > settings.max_top_k:
            raise ApiError(422, f"top_k: {req.top_k} is over the limit of {settings.max_top_k} (max_top_k)", [{"loc": ["body", "top_k"], "msg": "too large"}])
        if req.filters:
            from ..index.filters import compile_filters

            compile_filters(req.filters)
        rewritten = None
        if req.conversation:
            rw = rewrite_question(q, req.conversation)
            if rw.rewritten:
                rewritten = rw.question
        return q, rewritten

    def payload(answer: Any, asked: str, rewritten: str | None) -> dict[str, Any]:
        d = answer.to_dict()
        d["question"] = asked
        d["rewritten_question"] = rewritten
        d["citations"] = citations(d)
        return _json_safe(d)

    def record(d: dict[str, Any], key: Any) -> None:
        d["audit_id"] = app.state.audit.record(d, rewritten=d.get("rewritten_question"), api_key=key.name)
        app.state.metrics.observe_answer(d)

    @app.post("/v1/ask", response_model=AskResponse, responses={**_ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string", "description": "SSE: `event: sentence` (data: StreamSentence) per judged sentence, then `event: done` (data: AskResponse)"}}}}}, tags=["ask"])
    async def ask(req: AskRequest, request: Request, key: Any = Depends(require("ask"))) -> Any:
        """Answer a question from the indexed documents; every claim is checked by the guard."""
        q, rewritten = check_ask(req)
        pipe = app.state.pipeline
        kwargs = {"top_k": req.top_k, "filters": req.filters, "policy": req.policy}
        if "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(stream(pipe, rewritten or q, q, rewritten, kwargs, key), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        answer = await app.state.batcher.ask(rewritten or q, kwargs)
        d = payload(answer, q, rewritten)
        await run(record, d, key, limiter=app.state.audit_limiter, timeout=False)
        return d

    from .openai_routes import install_openai_routes  # POST /v1/chat/completions, GET /v1/models

    install_openai_routes(app, answer=lambda q, kw: app.state.batcher.ask(q, kw), payload=payload,
                          record=lambda d, key: run(record, d, key, limiter=app.state.audit_limiter, timeout=False))

    async def stream(pipe: Any, question: str, asked: str, rewritten: str | None, kwargs: dict, key: Any) -> AsyncIterator[str]:
        it = pipe.stream(question, **kwargs)
        end = object()
        try:
            while True:
                ev = await run(next, it, end)
                if ev is end:
                    break
                if ev.kind == "sentence":
                    data = StreamSentence(text=ev.text, claims=[c.to_dict() for c in ev.claims]).model_dump()
                    yield f"event: sentence\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                else:
                    d = payload(ev.answer, asked, rewritten)
                    await run(record, d, key, limiter=app.state.audit_limiter, timeout=False)
                    yield f"event: done\ndata: {json.dumps(d, ensure_ascii=False)}\n\n"
        except Exception as exc:  # the status line is sent already: report in the stream
            status = exc.status if isinstance(exc, ApiError) else (400 if isinstance(exc, ConfigError) else 500)
            log.exception("stream failed") if status >= 500 else None
            err = {"error": _ERROR_CODES.get(status, "error"), "message": getattr(exc, "message", str(exc)), "status": status}
            yield f"event: error\ndata: {json.dumps(err)}\n\n"

    # -- documents ------------------------------------------------------------------------------
    ingest_body = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/IngestRequest"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}, "required": ["files"]}},
        },
    }

    @app.post("/v1/documents", response_model=IngestResponse, status_code=201, responses={**_ERRORS, 200: {"model": IngestResponse, "description": "nothing new: every document was already there with the same text"}}, openapi_extra={"requestBody": ingest_body}, tags=["documents"])
    async def ingest(request: Request, key: Any = Depends(require("ingest"))) -> Any:
        """Add documents (JSON text, or uploaded .txt/.md/.html/.jsonl/.csv files). Idempotent by
        content; a 2xx means the documents are durable (journaled and fsynced)."""
        ctype = request.headers.get("content-type", "")
        skipped: list[dict[str, str]] = []
        if ctype.startswith("multipart/form-data"):
            docs, skipped = await read_files(request)
        elif ctype.startswith("application/json") or not ctype:
            raw = await request.body()
            try:
                data = json.loads(raw)
            except RecursionError:
                return _error(400, "the body is nested too deeply to parse; send documents as flat JSON objects", code="invalid_json")
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int of > 4300 digits
                return _error(400, f"the body is not valid JSON ({_cut(str(exc))}); send a JSON object", code="invalid_json")
            try:
                body = IngestRequest.model_validate(data)
            except ValidationError as exc:
                raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) from None
            docs = [to_document(d) for d in body.documents]
        else:
            raise ApiError(415, f"content-type {ctype!r} is not supported; send application/json or multipart/form-data", code="unsupported_media_type")
        if len(docs) > settings.max_documents_per_request:
            raise ApiError(413, f"{len(docs)} documents in one request is over the limit of {settings.max_documents_per_request} (max_documents_per_request); split the batch")
        if not docs:
            raise ApiError(422, "no document could be read from the uploaded files", skipped, code="bad_document")
        check_batch_ids(docs)  # two texts under one id: refused whole, never the first lost in silence
        outcomes = await run(app.state.store.ingest, docs, limiter=app.state.write_limiter, timeout=False)
        body = {"documents": [{"id": o.id, "status": o.status, "chunks": o.chunks} for o in outcomes], "skipped": skipped}
        changed = any(o.status != "unchanged" for o in outcomes)
        return JSONResponse(body, status_code=201 if changed else 200)

    def to_document(d: DocumentIn) -> Document:
        if not d.text.strip():
            raise ApiError(422, f"document {d.id or ''!s}: text is only whitespace; send the document's text", code="validation_error")
        doc_id = d.id if d.id is not None else f"sha256:{content_hash(d.text)[:32]}"
        if not doc_id.strip():
            raise ApiError(422, "document id is blank; send a non-empty id or leave it out")
        doc_id = _check_id(doc_id)
        return Document(id=doc_id, text=d.text, source=d.source or doc_id, metadata=dict(d.metadata))

    async def read_files(request: Request) -> tuple[list[Document], list[dict[str, str]]]:
        from ..documents import load_documents

        try:
            form = await request.form(max_files=settings.max_documents_per_request, max_fields=10)
        except Exception as exc:
            raise ApiError(400, f"the multipart body could not be read: {exc}") from exc
        files = [f for k, f in form.multi_items() if k == "files" and hasattr(f, "read")]
        if not files:
            raise ApiError(422, "no files: send them in the multipart field 'files'")
        with tempfile.TemporaryDirectory(prefix="groundqa-upload-") as tmp:
            names = {}
            for i, f in enumerate(files):
                name = _upload_name(f.filename, i)
                if name in names:
                    raise ApiError(422, f"two uploaded files are named {name!r}; file names are document ids and must differ")
                names[name] = True
                (Path(tmp) / name).write_bytes(await f.read())
            result = await run(load_documents, tmp)
        docs = []
        for d in result.documents:
            meta = {k: v for k, v in d.metadata.items() if k != "source"}
            fname = Path(d.source).name
            docs.append(Document(id=d.id, text=d.text, source=fname, metadata={**meta, "source": fname}))
        skipped = [{"source": Path(s.source.split("#")[0]).name + ("#" + s.source.split("#", 1)[1] if "#" in s.source else ""), "reason": s.reason} for s in result.skipped]
        return docs, skipped

    @app.get("/v1/documents/{doc_id:doc_id}", response_model=DocumentOut, responses=_ERRORS | {404: {"model": ErrorResponse, "description": "unknown document id"}}, tags=["documents"])
    async def get_document(doc_id: str, key: Any = Depends(require("read"))) -> Any:
        """A stored document: its text, source, metadata, content hash and number of chunks (needs
        the ``read`` scope, which ``ingest`` implies; the id as stored or in another Unicode form)."""
        d = next((x for x in map(app.state.store.get, _id_candidates(doc_id)) if x is not None), None)
        if d is None:
            raise ApiError(404, f"no document with id {doc_id!r}", code="not_found")
        return {"id": d.id, "source": d.source, "metadata": dict(d.metadata), "sha256": d.sha256, "chunks": len(d.chunk_ids), "text": d.text, "created": d.created}

    @app.delete("/v1/documents/{doc_id:doc_id}", response_model=DeleteResponse, responses=_ERRORS | {404: {"model": ErrorResponse, "description": "unknown document id"}}, tags=["documents"])
    async def delete_document(doc_id: str, key: Any = Depends(require("ingest"))) -> Any:
        """Remove a document and its chunks (durable once answered)."""
        for candidate in _id_candidates(doc_id):
            removed = await run(app.state.store.delete, candidate, limiter=app.state.write_limiter, timeout=False)
            if removed is not None:
                return {"id": candidate, "deleted": True, "chunks": removed}
        raise ApiError(404, f"no document with id {doc_id!r}", code="not_found")

    # -- health and metrics ---------------------------------------------------------------------
    @app.get("/v1/health", response_model=HealthResponse, tags=["service"])
    async def health() -> Any:
        """Liveness, whether the models are loaded, and the index size (no key needed)."""
        st = app.state
        ready = getattr(st, "ready", False)
        return {
            "status": "ok" if ready else "starting",
            "models_loaded": bool(ready),
            "index": _index_size(app),
            "models": st.pipeline.models() if ready else {},
            "version": __version__,
        }

    @app.get("/metrics", tags=["service"], response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}, 401: _ERRORS[401]})
    async def metrics(key: Any = Depends(require_key(settings.public_metrics))) -> Any:
        """Prometheus metrics. With API keys configured, any key may read them (no particular
        scope), or no key at all when ``public_metrics = true`` in the ``[serve]`` table."""
        body, ctype = app.state.metrics.render()
        return Response(body, media_type=ctype)

    # -- docs: FastAPI's own routes, behind a key unless public_docs ----------------------------
    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json(key: Any = Depends(require_key(settings.public_docs))) -> Any:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger(key: Any = Depends(require_key(settings.public_docs))) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(key: Any = Depends(require_key(settings.public_docs))) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")

    return run
