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

The pieces: ``routes`` (every route), ``middleware`` (the error body, exception handlers, the body
limit and request metrics), ``schemas`` (request and response models), ``settings``
(``ServeSettings``), ``store`` (durable ingest), ``audit`` (the audit log and review loop); this
module puts them together (``create_app``, its lifespan and the OpenAPI schema).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import anyio
from fastapi import FastAPI

from ..errors import GroundQAError
from ..runtime import apply_threads
from .audit import AuditLog
from .prometheus import Metrics
from .middleware import ApiError, BodyLimitAndMetrics, install_error_handlers
from .routes import _index_size, citations, install_routes  # noqa: F401  (citations: re-exported)
from .schemas import DocumentIn, IngestRequest, StreamSentence
from .settings import ServeSettings
from .store import DocumentStore, check_index_folder, read_journal

log = logging.getLogger(__name__)


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
    app.add_middleware(BodyLimitAndMetrics, limit=settings.max_body_bytes, metrics=app.state.metrics, body_timeout_s=settings.body_timeout_s)
    install_error_handlers(app)
    run = install_routes(app, settings)

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

    A batch is collected only when one of the ``workers`` collectors is free to answer it: asks that
    arrive while every worker is busy wait in the queue and go together into the next batch. (Cut
    at arrival instead, they became batches of one or two queued behind the running one, and each
    small batch paid for a whole pass over the weights per generated token.)

    Admission is bounded: with ``max_pending`` asks already waiting or being answered, a new one
    is refused at once with a 503 and a ``Retry-After`` estimated from recent batch times, instead
    of joining a queue it would time out in."""

    def __init__(self, run_batch: Callable[[list[str], dict], Any], max_size: int, wait_s: float, *,
                 max_pending: int = 64, workers: int = 1) -> None:
        self.run_batch, self.max_size, self.wait_s = run_batch, max_size, wait_s
        self.max_pending, self.workers = max_pending, workers
        self.queue: asyncio.Queue = asyncio.Queue()
        self.tasks: list[asyncio.Task] = []
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
        if not self.tasks:
            self.tasks = [asyncio.create_task(self._collect()) for _ in range(max(1, self.workers))]
        fut = asyncio.get_running_loop().create_future()
        self.pending += 1
        try:
            await self.queue.put((question, kwargs, fut))
            return await fut
        finally:
            self.pending -= 1

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()

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
                await self._answer(group)  # this collector takes no more asks until it is free

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
            if isinstance(exc, asyncio.CancelledError):
                raise  # the service is stopping: end the collector too
            return
        for (_, _, fut), a in zip(group, answers):
            if not fut.done():
                fut.set_result(a)


def openapi_schema() -> dict[str, Any]:
    """The service's OpenAPI schema (no index or model is loaded): what ``docs/openapi.json`` holds."""
    return create_app(settings=ServeSettings()).openapi()


def write_openapi(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path



def _read_toml(path: Path) -> dict[str, Any]:
    from ..pipeline.build import read_toml

    return read_toml(path, see="")
