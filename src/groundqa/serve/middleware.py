"""The service's middleware and error answers: ``ApiError`` (a 4xx/5xx with the service's error
body ``{"error", "message", "details"}``), the exception handlers that turn every failure into that
body (``install_error_handlers``), and the ASGI middleware that limits request bodies and counts
requests (``BodyLimitAndMetrics``)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Mapping

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, DocumentError, GroundQAError
from ..text import printable
from .auth import AuthError
from .prometheus import Metrics

log = logging.getLogger("groundqa.serve.app")  # the service's one log name

_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 406: "not_acceptable", 408: "timeout", 413: "too_large", 415: "unsupported_media_type", 422: "validation_error", 500: "internal_error", 503: "unavailable", 504: "timeout"}


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


def _json_safe(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def install_error_handlers(app: FastAPI) -> None:
    """Every error as the service's error body: validation (422, or 400 for a body that is not
    JSON), ``ApiError``, auth (401 with ``WWW-Authenticate``, 403), ``ConfigError`` (400),
    ``DocumentError`` (422), other groundqa errors and anything unexpected (500)."""

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


class BodyLimitAndMetrics:
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
