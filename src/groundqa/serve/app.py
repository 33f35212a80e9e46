"""The HTTP service: ``create_app(...)`` builds a FastAPI app around a ``Pipeline``.

Routes (all JSON; errors are ``{"error", "message", "details"}`` with a 4xx for every bad request):

* ``POST /v1/ask``: the verified answer; with ``Accept: text/event-stream`` an SSE stream with one
  ``sentence`` event per judged sentence and a final ``done`` event carrying the whole answer.
* ``POST /v1/documents`` (JSON ``{documents: [...]}`` or multipart ``files``),
  ``GET``/``DELETE /v1/documents/{id}``: durable ingest (see ``serve.store``).
* ``GET /v1/health`` (no key), ``GET /metrics`` (Prometheus), ``/docs``, ``/redoc`` and
  ``/openapi.json``: with API keys configured these need a key (any scope) unless
  ``public_metrics`` / ``public_docs`` is set.
* ``POST /v1/chat/completions``, ``GET /v1/models``: OpenAI's protocol over the same pipeline
  (``serve.openai_routes``), errors in OpenAI's error object.

Document ids go through ``groundqa.ids.normalize_doc_id`` on the way in (NFC; no control or
invisible characters); ``GET``/``DELETE`` find a document by the id as sent or by its NFC form, and
their route matches every character, so an id stored by an older version stays reachable.

Models load once in the lifespan; blocking work (retrieval, generation, the guard, ingest) runs in
worker threads, at most ``settings.workers`` at once; everything lives on ``app.state``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
import threading
import time
import unicodedata
from contextlib import asynccontextmanager
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
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, DocumentError, GroundQAError
from ..ids import normalize_doc_id
from ..text import CITATION_LIST, printable
from ..runtime import apply_threads
from ..types import Document
from .audit import AuditLog
from .auth import AuthError, authenticate
from .metrics import Metrics
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
from .store import DocumentStore, check_batch_ids, check_index_folder, content_hash, read_journal

log = logging.getLogger(__name__)


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
_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable", 408: "timeout", 413: "too_large", 415: "unsupported_media_type", 422: "validation_error", 500: "internal_error", 503: "unavailable", 504: "timeout"}
_ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorResponse, "description": d} for s, d in ((400, "bad request (invalid JSON, bad filter, limits)"), (401, "no or unknown API key"), (403, "the key lacks the scope"), (413, "body too large"), (422, "a field is missing, of the wrong type, unknown or out of range"), (503, "busy: max_pending asks are already waiting or being answered; retry after the Retry-After header's seconds"), (504, "the pipeline took longer than the request timeout"))}


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None, code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []
        self.code = code or _ERROR_CODES.get(status, "error")
        self.headers = dict(headers or {})


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None, code: str | None = None, headers: Mapping[str, str] | None = None) -> Any:
    body = {"error": code or _ERROR_CODES.get(status, "error"), "message": message, "details": details or []}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


# -- stage set-up -----------------------------------------------------------------------------------
def open_index(index_dir: Path | None, embedder: str) -> Any:
    """The index in ``index_dir`` (a folder, or a Milvus collection in a milvus-lite ``*.db`` file),
    or a new empty one with ``embedder`` if the folder does not exist
    (``groundqa.index.backends.open_retriever`` with ``create=True``)."""
    from ..index.backends import open_retriever

    return open_retriever(index_dir, embedder=embedder, create=True)


def check_state(settings: ServeSettings) -> None:
    """What start-up would refuse in the service's files, checked before any model loads (``groundqa
    serve`` calls it, so a refusal is one message and exit code 2, not a traceback minutes later):
    a damaged or foreign journal line, an index folder missing while the journal is not, an audit
    log that is not groundqa's SQLite file. It changes nothing, except that it puts back an index
    folder that a save killed between its two renames left aside, as start-up does; the lifespan
    runs the same checks again."""
    if settings.index_dir is not None:
        from ..index.hybrid import recover_interrupted_save

        recover_interrupted_save(settings.index_dir)
    state = settings.resolved_state_dir()
    docs, _, _ = read_journal(state / "journal.jsonl", warn=False)
    check_index_folder(settings.index_dir, state, docs)
    audit = settings.resolved_audit_path()
    if audit.exists():
        AuditLog(audit).close()


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


def _json_safe(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


# -- the app ----------------------------------------------------------------------------------------
def create_app(
    pipeline: Any = None,
    *,
    index_dir: str | Path | None = None,
    settings: ServeSettings | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    pipeline_factory: Callable[[Any], Any] | None = None,
) -> Any:
    """Build the service.

    Args:
        pipeline: a ready ``Pipeline`` whose retriever is the index to serve and change; or None
            to build one in the lifespan from ``config`` over the index in ``index_dir``.
        index_dir: the index folder (created on first snapshot if it does not exist); snapshots are
            saved here. Overrides ``settings.index_dir``.
        settings: limits, keys, paths (``ServeSettings``).
        config: a TOML pipeline config (path or dict, its ``[serve]`` table ignored here) for the
            default stages (``groundqa.pipeline.build_pipeline``).
        pipeline_factory: ``index -> Pipeline``, called in the lifespan (tests use it to serve the
            fakes over an index loaded from disk).
    """
    from .. import __version__

    settings = settings or ServeSettings()
    if index_dir is not None:
        import dataclasses

        settings = dataclasses.replace(settings, index_dir=Path(index_dir))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st = app.state
        st.ready = False

        def load() -> None:
            # torch threads for the workers that run models at once: never more than the free cores
            threads = apply_threads(settings.threads, workers=settings.workers)
            log.info("torch threads: %s (%s, %d workers)", threads, settings.threads, settings.workers)
            # the audit log first: a bad file is refused before the models load or the journal is compacted
            st.audit = AuditLog(settings.resolved_audit_path())
            pipe = pipeline
            if pipe is None:
                index = open_index(settings.index_dir, settings.embedder)
                if pipeline_factory is not None:
                    pipe = pipeline_factory(index)
                else:
                    from ..pipeline.build import load_config
                    from ..pipeline.core import build_pipeline
                    from .settings import split_config

                    cfg = {}
                    if config is not None:
                        raw = dict(config) if isinstance(config, Mapping) else _read_toml(Path(config))
                        cfg, _ = split_config(raw)
                        load_config(cfg)
                    pipe = build_pipeline(cfg, retriever=index)
            st.pipeline = pipe
            st.store = DocumentStore(pipe.retriever, settings.index_dir, settings.resolved_state_dir())
            st.replay = st.store.replay()
            pipe.warm_up()

        try:
            await anyio.to_thread.run_sync(load)
        except GroundQAError as exc:
            log.error("groundqa service cannot start: %s", exc)
            raise
        st.ready = True
        # the chunker's tokenizer and sentence splitter load now, in the background, not in the
        # first ingest request (seconds on a busy machine)
        threading.Thread(target=st.store.warm_up, name="groundqa-warm-up", daemon=True).start()
        log.info("groundqa service ready: %d documents, %d chunks (replay: %s)", len(st.store), len(st.pipeline.retriever), st.replay)

        async def snapshots() -> None:
            while True:
                await asyncio.sleep(settings.snapshot_interval_s)
                try:
                    await anyio.to_thread.run_sync(st.store.snapshot)
                except Exception:  # keep serving; the journal still holds every change
                    log.exception("index snapshot failed")

        task = asyncio.create_task(snapshots())
        st.batcher = _Batcher(lambda qs, kw: run(st.pipeline.ask_batch, qs, **kw), settings.batch_max, settings.batch_wait_ms / 1000.0,
                              max_pending=settings.max_pending, workers=settings.workers)
        try:
            yield
        finally:
            task.cancel()
            st.batcher.close()
            st.ready = False
            await anyio.to_thread.run_sync(st.store.snapshot)
            st.store.close()
            st.audit.close()

    app = FastAPI(
        title="groundqa",
        version=__version__,
        description="Verified question answering over your documents: every claim of an answer is checked against the passages it cites.",
        lifespan=lifespan,
        docs_url=None,  # served below, behind a key unless public_docs
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.limiter = anyio.CapacityLimiter(settings.workers)
    app.state.write_limiter = anyio.CapacityLimiter(16)  # writers queue in the store's group commit
    app.state.audit_limiter = anyio.CapacityLimiter(1)
    app.state.metrics = Metrics(lambda: _index_size(app))
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

    app.add_middleware(_BodyLimitAndMetrics, limit=settings.max_body_bytes, metrics=app.state.metrics, body_timeout_s=settings.body_timeout_s)

    # -- errors ---------------------------------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Any:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            ctx = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {})
            return _error(400, f"the body is not valid JSON ({ctx.get('error', 'parse error')}); send a JSON object", code="invalid_json")
        if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in ("model_attributes_type", "dict_type", "missing") for e in errors):
            return _error(400, "the body must be a JSON object (Content-Type: application/json) with the fields of the request", code="invalid_json")
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
        parts = []
        for e in errors:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            msg = e.get("msg", "")
            if e.get("type") == "extra_forbidden":
                msg = "unknown field (not allowed)"
            parts.append(f"{loc}: {msg}")
        return _error(422, "invalid request: " + "; ".join(parts), _json_safe(details))

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Any:
        return _error(exc.status, exc.message, exc.details, exc.code, headers=exc.headers)

    @app.exception_handler(AuthError)
    async def on_auth(request: Request, exc: AuthError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return _error(exc.status, exc.message, code=exc.code, headers=headers)

    @app.exception_handler(ConfigError)
    async def on_config(request: Request, exc: ConfigError) -> Any:
        return _error(400, str(exc))

    @app.exception_handler(DocumentError)
    async def on_document(request: Request, exc: DocumentError) -> Any:
        return _error(422, str(exc), code="bad_document")

    @app.exception_handler(GroundQAError)
    async def on_groundqa(request: Request, exc: GroundQAError) -> Any:
        log.exception("groundqa error while serving %s", printable(request.url.path))
        return _error(500, f"{type(exc).__name__}: {exc}", code="service_error")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Any:
        msg = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 400 and msg == "There was an error parsing the body":
            # FastAPI's answer to a body its JSON parser raised on (nesting, huge numbers)
            return _error(400, "the body could not be parsed as JSON (nested too deeply, or a number with too many digits); send a flat JSON object", code="invalid_json")
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"no route {request.method} {request.url.path}; see /docs for the API"
        return _error(exc.status_code, msg)

    @app.exception_handler(Exception)
    async def on_any(request: Request, exc: Exception) -> Any:
        log.exception("unhandled error while serving %s", printable(request.url.path))
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

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

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (IngestRequest, DocumentIn, StreamSentence):
            s = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in s.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps[model.__name__] = s
        # the schema states this service's limits, not the static bounds of the request models
        # (a 4,000-character question that the service would refuse is not valid)
        ask_props = comps.get("AskRequest", {}).get("properties", {})
        if "question" in ask_props:
            ask_props["question"]["maxLength"] = settings.max_question_chars
        top_k = ask_props.get("top_k", {})
        for opt in top_k.get("anyOf", [top_k]):
            if "maximum" in opt:
                opt["maximum"] = settings.max_top_k
        chat_top_k = comps.get("GroundQAOptions", {}).get("properties", {}).get("top_k", {})
        for opt in chat_top_k.get("anyOf", [chat_top_k]):
            if "maximum" in opt:
                opt["maximum"] = settings.max_top_k
        turn = comps.get("Turn", {}).get("properties", {}).get("content")
        if turn is not None:
            turn["maxLength"] = settings.max_question_chars
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


class _Batcher:
    """Dynamic batching: asks that arrive within ``wait_s`` of each other (up to ``max_size``, with
    the same top_k/filters/policy) go through ``Pipeline.ask_batch`` together, so the generator and
    the guard run one batch instead of one call per request.

    Admission is bounded: with ``max_pending`` asks already waiting or being answered, a new one
    is refused at once with a 503 and a ``Retry-After`` estimated from recent batch times, instead
    of joining a queue it would time out in."""

    def __init__(self, run_batch: Callable[[list[str], dict], Any], max_size: int, wait_s: float, *,
                 max_pending: int = 64, workers: int = 1) -> None:
        self.run_batch, self.max_size, self.wait_s = run_batch, max_size, wait_s
        self.max_pending, self.workers = max_pending, workers
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.pending = 0
        self.batch_s = 5.0  # a running mean of recent batch times (seconds), for Retry-After

    def retry_after(self) -> int:
        rounds = -(-self.pending // (self.max_size * self.workers))
        return max(1, int(round(self.batch_s * rounds)))

    async def ask(self, question: str, kwargs: dict[str, Any]) -> Any:
        if self.pending >= self.max_pending:
            wait = self.retry_after()
            raise ApiError(503, f"the service is answering {self.pending} questions, its limit ([serve] max_pending={self.max_pending}); "
                                f"retry after {wait} s", headers={"Retry-After": str(wait)})
        if self.task is None:
            self.task = asyncio.create_task(self._collect())
        fut = asyncio.get_running_loop().create_future()
        self.pending += 1
        try:
            await self.queue.put((question, kwargs, fut))
            return await fut
        finally:
            self.pending -= 1

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.wait_s
            while len(items) < self.max_size:
                left = deadline - loop.time()
                try:
                    items.append(self.queue.get_nowait() if left <= 0 else await asyncio.wait_for(self.queue.get(), left))
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
            groups: dict[str, list] = {}
            for it in items:
                groups.setdefault(json.dumps(it[1], sort_keys=True, default=str), []).append(it)
            for group in groups.values():
                asyncio.create_task(self._answer(group))

    async def _answer(self, group: list) -> None:
        self.batches += 1
        t0 = time.perf_counter()
        try:
            answers = await self.run_batch([q for q, _, _ in group], group[0][1])
            self.batch_s = 0.7 * self.batch_s + 0.3 * (time.perf_counter() - t0)
        except BaseException as exc:
            for _, _, fut in group:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, _, fut), a in zip(group, answers):
            if not fut.done():
                fut.set_result(a)


class _BodyLimitAndMetrics:
    """ASGI middleware: refuse bodies over ``limit`` bytes with a 413 (by Content-Length, or
    while reading a chunked body), answer 408 to a client that has not sent its whole body within
    ``body_timeout_s`` (a slow or stalled upload holds no worker forever), and count requests and
    latency per route template."""

    def __init__(self, app: Any, *, limit: int, metrics: Metrics, body_timeout_s: float = 30.0) -> None:
        self.app, self.limit, self.metrics, self.body_timeout_s = app, limit, metrics, body_timeout_s

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = {"code": 500}
        limit = self.limit

        async def send_wrap(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                resp = _error(413, f"request body of {declared.decode(errors='replace')} bytes is over the limit of {limit} bytes (max_body_bytes); send fewer or smaller documents")
                return await resp(scope, receive, send_wrap)
            if scope["method"] not in ("POST", "PUT", "PATCH"):
                return await self.app(scope, receive, send_wrap)
            parts, size, more = [], 0, True
            deadline = time.monotonic() + self.body_timeout_s
            while more:
                try:
                    with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                        msg = await receive()
                except TimeoutError:
                    resp = _error(408, f"the request body was not received within body_timeout_s={self.body_timeout_s:g}s; send the body at once (or raise the limit)", code="timeout")
                    return await resp(scope, receive, send_wrap)
                if msg["type"] == "http.disconnect":
                    return
                body = msg.get("body", b"")
                size += len(body)
                if size > limit:
                    resp = _error(413, f"request body is over the limit of {limit} bytes (max_body_bytes); send fewer or smaller documents")
                    return await resp(scope, receive, send_wrap)
                parts.append(body)
                more = msg.get("more_body", False)
            whole = b"".join(parts)
            sent = {"done": False}

            async def replay() -> dict:
                if not sent["done"]:
                    sent["done"] = True
                    return {"type": "http.request", "body": whole, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send_wrap)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(label, method, str(status["code"])).inc()
            self.metrics.latency.labels(label, method).observe(time.perf_counter() - t0)


def openapi_schema() -> dict[str, Any]:
    """The service's OpenAPI schema (no index or model is loaded): what ``docs/openapi.json`` holds."""
    return create_app(settings=ServeSettings()).openapi()


def write_openapi(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


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


def _read_toml(path: Path) -> dict[str, Any]:
    from ..pipeline.build import read_toml

    return read_toml(path, see="")