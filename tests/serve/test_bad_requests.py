"""Every bad request gets its 4xx and a JSON message naming the problem; never a 5xx."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ADMIN_KEY, auth

ASK = "/v1/ask"
DOCS = "/v1/documents"

CASES = [
    # (name, method, path, kwargs, status, error code, words in the message)
    ("empty question", "POST", ASK, {"json": {"question": ""}}, 422, "validation_error", "question"),
    ("blank question", "POST", ASK, {"json": {"question": "   \n "}}, 422, "validation_error", "question"),
    ("huge question", "POST", ASK, {"json": {"question": "why " * 200}}, 422, "validation_error", "max_question_chars"),
    ("question over schema max", "POST", ASK, {"json": {"question": "x" * 5000}}, 422, "validation_error", "question"),
    ("question not a string", "POST", ASK, {"json": {"question": 42}}, 422, "validation_error", "question"),
    ("top_k a string", "POST", ASK, {"json": {"question": "reset password?", "top_k": "5"}}, 422, "validation_error", "top_k"),
    ("top_k zero", "POST", ASK, {"json": {"question": "reset password?", "top_k": 0}}, 422, "validation_error", "top_k"),
    ("top_k over limit", "POST", ASK, {"json": {"question": "reset password?", "top_k": 11}}, 422, "validation_error", "max_top_k"),
    ("bad policy", "POST", ASK, {"json": {"question": "reset password?", "policy": "yolo"}}, 422, "validation_error", "policy"),
    ("unknown field", "POST", ASK, {"json": {"question": "reset password?", "temperature": 2}}, 422, "validation_error", "temperature: unknown field"),
    ("missing question", "POST", ASK, {"json": {"top_k": 3}}, 422, "validation_error", "question"),
    ("bad conversation role", "POST", ASK, {"json": {"question": "and then?", "conversation": [{"role": "bot", "content": "hi"}]}}, 422, "validation_error", "conversation"),
    ("bad filter operator", "POST", ASK, {"json": {"question": "reset password?", "filters": {"topic": {"$regex": "a"}}}}, 400, "bad_request", "filter"),
    ("invalid JSON", "POST", ASK, {"content": b'{"question": "x",', "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "JSON"),
    ("JSON array body", "POST", ASK, {"json": ["reset password?"]}, 400, "invalid_json", "JSON object"),
    ("form body", "POST", ASK, {"data": {"question": "reset password?"}}, 400, "invalid_json", "JSON"),
    ("body too large", "POST", DOCS, {"json": {"documents": [{"text": "a " * 150_000}]}}, 413, "too_large", "max_body_bytes"),
    ("no documents", "POST", DOCS, {"json": {"documents": []}}, 422, "validation_error", "documents"),
    ("document without text", "POST", DOCS, {"json": {"documents": [{"id": "x"}]}}, 422, "validation_error", "text"),
    ("blank document", "POST", DOCS, {"json": {"documents": [{"id": "x", "text": "  "}]}}, 422, "validation_error", "whitespace"),
    ("nested metadata", "POST", DOCS, {"json": {"documents": [{"text": "hello there", "metadata": {"a": {"b": 1}}}]}}, 422, "validation_error", "metadata"),
    ("unknown document field", "POST", DOCS, {"json": {"documents": [{"text": "hello there", "lang": "en"}]}}, 422, "validation_error", "lang: unknown field"),
    ("documents invalid JSON", "POST", DOCS, {"content": b"{nope", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "JSON"),
    ("documents wrong content type", "POST", DOCS, {"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type", "content-type"),
    ("upload without files", "POST", DOCS, {"files": [("other", ("a.txt", b"hello", "text/plain"))]}, 422, "validation_error", "files"),
    ("upload only binary", "POST", DOCS, {"files": [("files", ("a.bin", b"\x00\x01\x02", "application/octet-stream"))]}, 422, "bad_document", "no document"),
    ("unknown document id", "GET", "/v1/documents/nope/never", {}, 404, "not_found", "nope/never"),
    ("delete unknown document", "DELETE", "/v1/documents/never-was", {}, 404, "not_found", "never-was"),
    ("unknown route", "GET", "/v1/nothing", {}, 404, "not_found", "/v1/nothing"),
    ("wrong method", "PUT", ASK, {"json": {"question": "x"}}, 405, "method_not_allowed", "Method Not Allowed"),
]


@pytest.mark.parametrize("name,method,path,kwargs,status,code,words", CASES, ids=[c[0] for c in CASES])
def test_bad_request(client: httpx.Client, name: str, method: str, path: str, kwargs: dict, status: int, code: str, words: str) -> None:
    headers = {**auth(ADMIN_KEY), **kwargs.pop("headers", {})}
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code
    assert words in body["message"], body["message"]


def test_error_bodies_follow_the_schema(client: httpx.Client) -> None:
    from groundqa.serve.schemas import ErrorResponse

    r = client.post(ASK, json={"question": 1, "nope": True}, headers=auth(ADMIN_KEY))
    e = ErrorResponse.model_validate(r.json())
    assert {tuple(d["loc"]) for d in e.details} == {("body", "question"), ("body", "nope")}


def test_chunked_body_over_the_limit(client: httpx.Client) -> None:
    def gen():
        for _ in range(30):
            yield b"x" * 10_000

    r = client.post(DOCS, content=gen(), headers={**auth(ADMIN_KEY), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
